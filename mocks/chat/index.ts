import type { FakeDeps, FakeService } from '../core/fake.ts'
import type { Scenario } from '../core/scenario/schema.ts'
import { CurrentState } from '../core/state.ts'
import type { WsPeer } from '../core/ws.ts'
import {
  type AcceptResult,
  type ChatAppOptions,
  chatSocketAcceptor,
  chatValidator,
  createChatApp,
} from './app.ts'
import { type ChatState, createChatState } from './state.ts'
import type { ChatStore } from './store.ts'

export type { ChatSocket, HubSession } from './hub.ts'

/** Largest WebSocket frame (ws closes a bigger one with 1009), as DESIGN §3 sets it. */
export const CHAT_MAX_FRAME_BYTES = 64 * 1024

export type { AcceptResult } from './app.ts'
export { type ChatState, CLOSE_SCENARIO_CHANGED, createChatState } from './state.ts'

export interface ChatFake extends FakeService {
  /** The state in force (store and hub; tests, tooling); replaced whole on every scenario switch. */
  state(): ChatState
  /** `state().store`. */
  store(): ChatStore
  /**
   * Accepts a socket opened by another transport (an msw `ws.link` adapter): the request is
   * checked as a handshake (Origin, `?token=` or Cookie, via get-session), then the socket
   * joins the hub of the state it reaches, through the fault engine. On refusal the adapter closes the socket.
   */
  acceptSocket(peer: WsPeer, request: Request): Promise<AcceptResult>
}

export type ChatFakeOptions = Pick<ChatAppOptions, 'fetch'>

/** Fake chat-service (Rust/Axum): REST and WebSocket on one port, 8082 by default. */
export function createChatFake(deps: FakeDeps, options: ChatFakeOptions = {}): ChatFake {
  const current = new CurrentState<ChatState>('chat')
  const validate = chatValidator(deps, options)
  const app = createChatApp(deps, current.stateOf, { validate })
  const acceptSocket = chatSocketAcceptor(deps, current.stateOf, { validate })

  return {
    name: 'chat',
    app,
    state: () => current.get(),
    store: () => current.get().store,
    websocket: { maxPayload: CHAT_MAX_FRAME_BYTES },
    async applyScenario(scenario: Scenario) {
      const started = performance.now()
      const next = await createChatState(scenario, deps)
      // Sockets belong to the old state (joins, presence): clients reconnect into the new one.
      current.replace(next)?.dispose()
      deps.logger.debug(
        {
          scenario: scenario.name,
          messages: next.store.messages.count(),
          ms: Math.round(performance.now() - started),
        },
        'chat seeded',
      )
    },
    acceptSocket: (peer: WsPeer, request: Request): Promise<AcceptResult> => acceptSocket(peer, request),
    close() {
      current.peek()?.dispose(1001, 'server shutting down')
    },
  }
}
