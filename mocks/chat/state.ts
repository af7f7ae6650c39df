import type { MocksConfig } from '../core/config.ts'
import type { Logger } from '../core/logger.ts'
import { DEFAULT_ROLE_MAP, type RoleMap } from '../core/roles.ts'
import { DEFAULT_TENANT } from '../core/tenant.ts'
import type { Scenario } from '../fake/scenario.ts'
import type { FaultPort } from '../faults/engine.ts'
import { ChatHub, type HubRelay } from './hub.ts'
import { ChatStore } from './store.ts'

// One chat world as a value: channels and messages (the store, with its history memo), and
// the WebSocket hub whose membership, presence and typing belong to that store. No app, no
// server: the app reaches a state through `stateOf(c)`, so two states live side by side in one
// process (tenants) without touching each other. A hub only ever writes to its own sockets.

/** ws close code sent to open sockets when their state is replaced (scenario switch, reset). */
export const CLOSE_SCENARIO_CHANGED = 1012

export interface ChatStateDeps {
  faults: Pick<FaultPort, 'wsConnect'>
  logger: Logger
  /** MOCKS_AUTH_ROLE_MAP, under the scenario's own map. */
  config?: Pick<MocksConfig, 'authRoleMap'>
  /** The tenant the state serves (default: the default tenant). */
  tenant?: string
  /** Replicated mode: the hub's events go through the world's log. */
  relay?: HubRelay
}

/** What the socket's `?token=` may be (scenario `chat.wsAuth`) and who a user id is. */
export interface WsAuthPolicy {
  mode: 'raw' | 'ephemeral' | 'both'
  emailOf(userId: string): string | undefined
}

export interface ChatState {
  /** The tenant it serves: chat passes it on its own get-session calls. */
  readonly tenant: string
  readonly scenario: Scenario
  readonly store: ChatStore
  readonly hub: ChatHub
  /** better-auth role names -> chat roles: the scenario's `auth.roleMap` over the config's. */
  readonly roleMap: RoleMap
  /** Scenario `chat.wsAuth`, with seeded emails for sockets opened by an ephemeral token. */
  readonly wsAuth: WsAuthPolicy
  /**
   * Ends this state: its sockets close (1012 by default, 1001 on shutdown) and sockets it
   * accepts later are closed at once; background collection writes stop. Idempotent.
   */
  dispose(code?: number, reason?: string): void
}

export async function createChatState(scenario: Scenario, deps: ChatStateDeps): Promise<ChatState> {
  const store = await ChatStore.build(scenario, deps.logger)
  const hub = new ChatHub({
    faults: deps.faults,
    logger: deps.logger,
    store,
    ...(deps.relay ? { relay: deps.relay } : {}),
  })
  const emails = new Map(scenario.auth.users.map((u) => [u.id, u.email]))
  return {
    tenant: deps.tenant ?? DEFAULT_TENANT,
    scenario,
    store,
    hub,
    roleMap: { ...(deps.config?.authRoleMap ?? DEFAULT_ROLE_MAP), ...scenario.auth.roleMap },
    wsAuth: { mode: scenario.chat.wsAuth, emailOf: (id) => emails.get(id) },
    dispose(code = CLOSE_SCENARIO_CHANGED, reason = 'scenario changed') {
      store.dispose()
      hub.end(code, reason)
    },
  }
}
