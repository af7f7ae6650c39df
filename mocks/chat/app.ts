import type { Hono } from 'hono'
import { createSessionValidator, type SessionValidator } from '../core/auth-client.ts'
import { type StateOf, stateOfRequest } from '../core/state.ts'
import type { WsPeer } from '../core/ws.ts'
import { createFakeApp, type FakeIdentity } from '../fake/app.ts'
import type { FakeDeps } from '../fake/descriptor.ts'
import type { ChatSocket } from './hub.ts'
import { chatCors, createChatAuth, type Refusal, registerChatRoutes, WS_PATH } from './routes.ts'
import type { ChatState } from './state.ts'

// chat-service's app, created once per process: every route and the WebSocket upgrade find
// their state (store, hub) through `stateOf`, so one app serves any number of chat states.

export type AcceptResult = { ok: true; socket: ChatSocket } | Refusal

export interface ChatAppOptions {
  /** How get-session is fetched (in-process tests route it to the auth app). */
  fetch?: typeof fetch
  /** One validator shared by the app and the socket acceptor (made from `fetch` if absent). */
  validate?: SessionValidator
}

export function chatValidator(deps: FakeDeps, options: ChatAppOptions = {}): SessionValidator {
  return (
    options.validate ??
    createSessionValidator({
      authServiceUrl: () => deps.config.authServiceUrl,
      timeoutMs: deps.config.authTimeoutMs,
      logger: deps.logger,
      loopback: deps.loopback,
      ...(options.fetch ? { fetch: options.fetch } : {}),
    })
  )
}

/** `service` is the descriptor (its name and envelope), passed in so this module never imports index.ts. */
export function createChatApp(
  service: FakeIdentity,
  deps: FakeDeps,
  stateOf: StateOf<ChatState>,
  options: ChatAppOptions = {},
): Hono {
  const validate = chatValidator(deps, options)
  const auth = createChatAuth({ deps, validate })
  // CORS in front of the fault engine, so injected errors carry it too (see chatCors).
  const app = createFakeApp(service, deps, { cors: chatCors(auth.trusted) })
  registerChatRoutes(app, { deps, stateOf, validate })
  return app
}

/**
 * Accepts a socket opened by another transport (an msw `ws.link` adapter): the request is
 * checked as a handshake (Origin, `?token=` or Cookie, via get-session), then the socket joins
 * the hub of the state that request reaches, through the fault engine.
 */
export function chatSocketAcceptor(
  deps: FakeDeps,
  stateOf: StateOf<ChatState>,
  options: ChatAppOptions = {},
): (peer: WsPeer, request: Request) => Promise<AcceptResult> {
  const auth = createChatAuth({ deps, validate: chatValidator(deps, options) })
  return async (peer, request) => {
    const state = stateOfRequest(stateOf, request)
    const decision = await auth.upgrade(request, state)
    if (!decision.ok) return decision
    const socket = state.hub.connect(peer, decision.session, {
      path: new URL(request.url).pathname || WS_PATH,
      headers: request.headers,
    })
    return { ok: true, socket }
  }
}
