import type { Replication } from '../core/replication.ts'
import { TenantStates } from '../core/state.ts'
import { rawQueryParam } from '../core/url.ts'
import type { WsPeer } from '../core/ws.ts'
import { wsTokenTenant } from '../core/ws-token.ts'
import { defineFake, type FakeDeps, type FakeService, scopeOf, type TenantScope } from '../fake/descriptor.ts'
import { chatSection, type Scenario } from '../fake/scenario.ts'
import {
  type AcceptResult,
  type ChatAppOptions,
  chatSocketAcceptor,
  chatValidator,
  createChatApp,
} from './app.ts'
import type { HubRelay, RelayedMessage, RelayedPresence, RelayedTyping } from './hub.ts'
import { WS_PATH } from './routes.ts'
import { type ChatState, createChatState } from './state.ts'
import type { ChatStore } from './store.ts'

export type { ChatSocket, HubSession } from './hub.ts'

/** Largest WebSocket frame (ws closes a bigger one with 1009), as DESIGN §3 sets it. */
export const CHAT_MAX_FRAME_BYTES = 64 * 1024

export type { AcceptResult } from './app.ts'
export { type ChatState, CLOSE_SCENARIO_CHANGED, createChatState } from './state.ts'

export interface ChatFake extends FakeService {
  /** A tenant's state (store and hub; default: the default tenant's); replaced whole on every switch. */
  state(tenant?: string): ChatState
  /** `state(tenant).store`. */
  store(tenant?: string): ChatStore
  /**
   * Accepts a socket opened by another transport (an msw `ws.link` adapter): the request is
   * checked as a handshake (Origin, `?token=` or Cookie, via get-session), then the socket
   * joins the hub of the state it reaches, through the fault engine. On refusal the adapter
   * closes the socket.
   */
  acceptSocket(peer: WsPeer, request: Request): Promise<AcceptResult>
}

export type ChatFakeOptions = Pick<ChatAppOptions, 'fetch'>

/** Fake chat-service (Rust/Axum): REST and WebSocket on one port, 8082 by default. */
export function createChatFake(deps: FakeDeps, options: ChatFakeOptions = {}): ChatFake {
  const states = new TenantStates<ChatState>('chat')
  const validate = chatValidator(deps, options)
  const app = createChatApp(chat, deps, states.stateOf, { validate })
  const acceptSocket = chatSocketAcceptor(deps, states.stateOf, { validate })
  const relayFor = deps.replication ? replicateHub(deps.replication, states) : undefined

  return {
    name: 'chat',
    app,
    state: (tenant) => states.get(tenant),
    store: (tenant) => states.get(tenant).store,
    websocket: { maxPayload: CHAT_MAX_FRAME_BYTES },
    async applyScenario(scenario: Scenario, tenant?: TenantScope) {
      const started = performance.now()
      const scope = scopeOf(deps, tenant)
      // The hub's sockets go through the tenant's own faults.
      const next = await createChatState(scenario, {
        ...deps,
        faults: scope.faults,
        tenant: scope.id,
        ...(relayFor ? { relay: relayFor(scope.id) } : {}),
      })
      // Sockets belong to the old state (joins, presence): clients reconnect into the new one.
      states.replace(scope.id, next)?.dispose()
      deps.logger.debug(
        {
          scenario: scenario.name,
          tenant: scope.id,
          messages: next.store.messages.count(),
          ms: Math.round(performance.now() - started),
        },
        'chat seeded',
      )
    },
    acceptSocket: (peer: WsPeer, request: Request): Promise<AcceptResult> => acceptSocket(peer, request),
    dropTenant(tenant) {
      states.remove(tenant)?.dispose(1001, 'tenant deleted')
    },
    close() {
      for (const s of states.values()) s.dispose(1001, 'server shutting down')
    },
  }
}

/**
 * Replicated mode (README "Replicas"): messages, typing and presence go through the world's
 * log and are applied by every replica to the hub of the tenant's state in force there.
 */
function replicateHub(log: Replication, states: TenantStates<ChatState>): (tenant: string) => HubRelay {
  type In<T> = T & { tenant: string }
  log.handle('chat.message', (p: In<RelayedMessage>) => states.peek(p.tenant)?.hub.applyMessage(p))
  log.handle('chat.typing', (p: In<RelayedTyping>, at) => states.peek(p.tenant)?.hub.applyTyping(p, at.mine))
  // Presence held for sockets of another replica instance lasts while it heartbeats.
  const watched = new Set<string>()
  const dropped = (instance: string) => () => {
    watched.delete(instance)
    for (const s of states.values()) s.hub.dropInstance(instance)
  }
  type Presence = In<RelayedPresence> & { instance?: string; epoch?: string }
  log.handle('chat.presence', (p: Presence, at) => {
    const instance = p.instance ?? at.origin
    if (!at.mine && !watched.has(instance)) {
      watched.add(instance)
      log.watch(instance, dropped(instance))
    }
    const hub = states.peek(p.tenant)?.hub
    // A socket of a hub a switch or reset has replaced (its join was taken just before the
    // switch was applied there): its users are gone with that hub, on every replica. The old
    // hub tells nobody when it closes its sockets, so its late join would stay counted here.
    if (p.epoch !== undefined && hub?.epoch !== p.epoch) return
    hub?.applyPresence(p, at.mine, instance)
  })
  return (tenant) => {
    // The entry being applied while the state is made (its switch, reset or creation).
    const epoch = log.applying?.entry ?? 'start'
    return {
      epoch,
      // Not waited for everywhere: a socket's frames are handled in order, so waiting here would
      // hold the sender's next frames (its echo has gone out already, from this replica's apply).
      message: (m) => log.submit('chat.message', { ...m, tenant }),
      // Ephemeral: nobody waits for them (a failed append is logged by the log).
      typing: (t) => void log.submit('chat.typing', { ...t, tenant }).catch(() => undefined),
      presence: (p) =>
        void log
          .submit('chat.presence', { ...p, tenant, instance: log.instance, epoch })
          .catch(() => undefined),
    }
  }
}

/** Fake chat-service: its descriptor (mocks/fake/descriptor.ts), listed in mocks/registry.ts. */
export const chat = defineFake({
  name: 'chat',
  title: 'chat-service',
  port: 8082,
  portEnv: 'MOCKS_CHAT_PORT',
  transport: 'http+ws',
  scenario: {
    key: 'chat',
    schema: chatSection,
    // Members and senders must be seeded users (auth.users), ids unique.
    check(s, add) {
      const users = new Set(s.auth.users.map((u) => u.id))
      const channels = new Map<string, Set<string> | 'all'>()
      s.chat.channels.forEach((c, i) => {
        if (channels.has(c.id)) add(`chat.channels.${i}.id`, `duplicate channel id "${c.id}"`)
        if (c.members !== 'all') {
          c.members.forEach((m, j) => {
            if (!users.has(m)) add(`chat.channels.${i}.members.${j}`, `"${m}" is not a user in auth.users`)
          })
        }
        channels.set(c.id, c.members === 'all' ? 'all' : new Set(c.members))
      })
      const messageIds = new Set<string>()
      s.chat.messages.forEach((m, i) => {
        const members = channels.get(m.channel)
        if (!members) add(`chat.messages.${i}.channel`, `"${m.channel}" is not a channel in chat.channels`)
        if (!users.has(m.sender))
          add(`chat.messages.${i}.sender`, `"${m.sender}" is not a user in auth.users`)
        else if (members && members !== 'all' && !members.has(m.sender)) {
          add(`chat.messages.${i}.sender`, `"${m.sender}" is not a member of channel "${m.channel}"`)
        }
        if (m.id !== undefined) {
          if (messageIds.has(m.id)) add(`chat.messages.${i}.id`, `duplicate message id "${m.id}"`)
          messageIds.add(m.id)
        }
      })
    },
  },
  frontend: { urls: ['CHAT_SERVICE_URL'], wsUrls: ['NEXT_PUBLIC_CHAT_WS_URL'] },
  // Seeded channels with their members (ids usable in `?channel=`).
  controlRoutes(app, host) {
    app.get('/channels', (c) => {
      const s = host.scenarioOf(c)
      const everyone = s.auth.users.map((u) => u.id)
      return c.json({
        channels: s.chat.channels.map((ch) => ({
          id: ch.id,
          name: ch.name,
          members: ch.members === 'all' ? everyone : ch.members,
          open: ch.members === 'all',
        })),
      })
    })
  },
  wsPath: WS_PATH,
  // An ephemeral WS token names its tenant (`tnt`); chat checks its signature when it connects.
  tenantSignal(_headers, search) {
    const token = search.includes('token=') ? rawQueryParam(search, 'token') : undefined
    return token ? wsTokenTenant(token) : undefined
  },
  create: (deps) => createChatFake(deps),
})
