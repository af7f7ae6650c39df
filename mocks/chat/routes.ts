import { upgradeWebSocket } from '@hono/node-server'
import type { Context, Hono } from 'hono'
import type { WebSocket } from 'ws'
import { z } from 'zod'
import type { SessionUser, SessionValidator } from '../core/auth-client.ts'
import type { CorsOptions } from '../core/cors.ts'
import { configOriginMatcher } from '../core/origins.ts'
import { type HeaderLookup, requestHeaders } from '../core/request-headers.ts'
import { SECURE_SESSION_COOKIE, SESSION_COOKIE } from '../core/session-cookie.ts'
import type { StateOf } from '../core/state.ts'
import { DEFAULT_TENANT, TENANT_CORS_HEADERS } from '../core/tenant.ts'
import { rawQueryParam, searchOf } from '../core/url.ts'
import { nodePeer } from '../core/ws.ts'
import { looksLikeJwt, verifyWsToken } from '../core/ws-token.ts'
import type { FakeDeps } from '../fake/descriptor.ts'
import type { RestChatMessage } from './contract.ts'
import type { ChatSocket, HubSession } from './hub.ts'
import type { ChatState } from './state.ts'
import type { ChatStore, Cursor, MessageRow } from './store.ts'

// chat-service's REST API (GET /api/v1/messages, GET /api/v1/presence) and the WebSocket
// upgrade (GET /ws?token=). Every call validates the session the way the real service does:
// GET ${AUTH_SERVICE_URL}/api/auth/get-session with the Cookie header, no caching (in-process
// when that is the fake auth beside it: core/loopback.ts).

export const DEFAULT_LIMIT = 50
export const MAX_LIMIT = 100
export const WS_PATH = '/ws'

type ErrorStatus = 400 | 401 | 403 | 404 | 405 | 409 | 426 | 503

export interface Refusal {
  ok: false
  status: ErrorStatus
  code: string
  message: string
}

export type RestAuth = { ok: true; user: SessionUser } | Refusal
export type UpgradeAuth = { ok: true; session: HubSession } | Refusal

export interface ChatRouteDeps {
  deps: FakeDeps
  /** The request's chat state (store and hub); the routes hold none of their own. */
  stateOf: StateOf<ChatState>
  validate: SessionValidator
}

// RFC 6265 cookie-octet: a token with anything else cannot be a cookie value, so no session.
const COOKIE_OCTETS = /^[\x21\x23-\x2B\x2D-\x3A\x3C-\x5B\x5D-\x7E]+$/
const isoInstant = z.iso.datetime({ offset: true })

function refuse(status: ErrorStatus, code: string, message: string): Refusal {
  return { ok: false, status, code, message }
}

function unauthenticated(): Refusal {
  return refuse(
    401,
    'unauthorized',
    'No valid session: send the better-auth.session_token cookie (WebSocket: ?token=<cookie value>)',
  )
}

const utf8 = new TextEncoder()

export function toRest(row: MessageRow): RestChatMessage {
  return {
    id: row.id,
    content: row.content,
    sender_id: row.senderId,
    channel_id: row.channelId,
    created_at: row.createdAt,
  }
}

export function createChatAuth(r: Pick<ChatRouteDeps, 'deps' | 'validate'>) {
  const trusted = configOriginMatcher(r.deps.config, r.deps.logger, 'chat (CORS / WebSocket)')

  const check = async (cookie: string | undefined, requestId: string | undefined, state: ChatState) => {
    const result = await r.validate(cookie, requestId, state.roleMap, state.tenant)
    if (result.kind === 'unavailable') {
      return refuse(503, 'auth_unavailable', `Cannot validate the session: ${result.reason}`)
    }
    if (result.kind === 'unauthenticated') return unauthenticated()
    state.store.noteUser(result.user.id)
    return { ok: true as const, user: result.user }
  }

  /**
   * REST: the Cookie header forwarded verbatim. A valid user joins the state's open channels.
   * Read from Node's parsed headers (requestHeaders): `c.req.raw.headers` builds a WHATWG Headers.
   */
  const rest = (headers: HeaderLookup, state: ChatState): Promise<RestAuth> =>
    check(headers.get('cookie') ?? undefined, headers.get('x-request-id') ?? undefined, state)

  /**
   * A WebSocket handshake (Node upgrade, or a socket another transport accepted): a foreign
   * Origin is refused first (403; no Origin, as from Node clients, is fine), then the session
   * from `?token=` (the cookie's value, sent as `better-auth.session_token` and its `__Secure-`
   * twin) or,
   * without one, from the Cookie header.
   */
  const upgrade = async (request: Request, state: ChatState): Promise<UpgradeAuth> => {
    const origin = request.headers.get('origin')
    if (origin !== null && !trusted(origin)) {
      return refuse(403, 'forbidden_origin', `Origin ${origin} is not allowed to open the chat socket`)
    }
    const token = rawQueryParam(searchOf(request.url), 'token')
    const policy = state.wsAuth
    const mode = policy.mode
    // Ephemeral WS tokens (core/ws-token.ts) are checked here, by signature and expiry alone:
    // no get-session call, as a chat-service verifying family-hub's JWT would do.
    if (mode !== 'raw' && token && looksLikeJwt(token)) {
      const checked = await verifyWsToken(token, r.deps.config.wsTokenSecret)
      if (!checked.ok) {
        return refuse(
          401,
          checked.reason === 'expired' ? 'ws_token_expired' : 'ws_token_invalid',
          checked.message,
        )
      }
      // A token belongs to the tenant that issued it (no `tnt`: the default one). The router
      // placed this request by its other signals; one naming another tenant is refused as any
      // disagreeing signals are, never a socket opened in a world the session is not from.
      const issuedIn = checked.claims.tnt ?? DEFAULT_TENANT
      if (issuedIn !== state.tenant) {
        return refuse(
          409,
          'tenant_conflict',
          `Tenant signals disagree: the WS token was issued in "${issuedIn}", the request names "${state.tenant}"`,
        )
      }
      state.store.noteUser(checked.claims.sub)
      return {
        ok: true,
        session: { userId: checked.claims.sub, email: policy.emailOf(checked.claims.sub) ?? '' },
      }
    }
    if (mode === 'ephemeral') {
      return refuse(
        401,
        'ws_token_required',
        'This chat takes ephemeral WS tokens only: POST /api/auth/ws-token, then connect with ?token=<token>',
      )
    }
    let cookie: string | undefined
    if (token) {
      if (!COOKIE_OCTETS.test(token)) return unauthenticated()
      // Under both names: a better-auth on https (or told so behind TLS termination) reads
      // only `__Secure-`, and the scheme of AUTH_SERVICE_URL cannot tell which one it uses.
      cookie = `${SESSION_COOKIE}=${token}; ${SECURE_SESSION_COOKIE}=${token}`
    } else {
      cookie = request.headers.get('cookie') ?? undefined
    }
    const result = await check(cookie, request.headers.get('x-request-id') ?? undefined, state)
    if (!result.ok) return result
    return {
      ok: true,
      session: {
        userId: result.user.id,
        email: result.user.email,
        sessionToken: r.deps.faults.tokenFrom(cookie),
      },
    }
  }

  return { rest, upgrade, trusted }
}

/**
 * Browsers on an allowed origin may call the REST API directly, with credentials. Served in
 * front of the fault engine (index.ts), as tower-http's CorsLayer wraps the real service: an
 * injected 500 or 503 still carries these headers, so a browser can read its status.
 */
export function chatCors(trusted: (origin: string | undefined) => boolean): CorsOptions {
  return {
    origin: trusted,
    prefix: '/api/',
    allowMethods: ['GET', 'OPTIONS'],
    allowHeaders: ['content-type', 'x-request-id', 'traceparent', ...TENANT_CORS_HEADERS],
  }
}

export function registerChatRoutes(app: Hono, r: ChatRouteDeps): void {
  const auth = createChatAuth(r)
  const fail = (c: Context, f: Refusal) => c.json({ error: f.message, code: f.code }, f.status)
  // A tenant deleted while get-session ran: `stateOf` throws its 404, so the answer is neither a
  // 503 for the cut get-session nor one from the deleted tenant's disposed state.
  const restAuth = async (c: Context, state: ChatState) => {
    const session = await auth.rest(requestHeaders(c), state)
    r.stateOf(c)
    return session
  }

  const missingChannel = () =>
    refuse(400, 'missing_channel', 'Query parameter "channel" is required (?channel=<id>)')

  /** The channel if the user may read it, else the refusal. */
  const readable = (id: string, user: SessionUser, store: ChatStore) => {
    const channel = store.channel(id)
    if (!channel) return refuse(404, 'unknown_channel', `Unknown channel "${id.slice(0, 200)}"`)
    if (!store.isMember(channel, user.id)) {
      return refuse(403, 'forbidden_channel', `You are not a member of channel "${id}"`)
    }
    return { ok: true as const, channel, store }
  }

  app.get('/api/v1/messages', async (c) => {
    const state = r.stateOf(c)
    const { store } = state
    const session = await restAuth(c, state)
    if (!session.ok) return fail(c, session)
    const id = c.req.query('channel')
    if (!id) return fail(c, missingChannel())
    const rawLimit = c.req.query('limit')
    let limit = DEFAULT_LIMIT
    if (rawLimit) {
      if (!/^\d+$/.test(rawLimit) || Number(rawLimit) < 1) {
        return fail(
          c,
          refuse(
            400,
            'invalid_limit',
            `"limit" must be a whole number from 1 to ${MAX_LIMIT}; got "${rawLimit.slice(0, 50)}"`,
          ),
        )
      }
      limit = Math.min(Number(rawLimit), MAX_LIMIT)
    }
    const access = readable(id, session.user, store)
    if (!access.ok) return fail(c, access)
    const rawBefore = c.req.query('before')
    let before: Cursor | undefined
    if (rawBefore) {
      if (isoInstant.safeParse(rawBefore).success) before = { kind: 'time', ms: Date.parse(rawBefore) }
      else if (access.store.hasMessage(access.channel.id, rawBefore))
        before = { kind: 'message', id: rawBefore }
      else {
        return fail(
          c,
          refuse(
            400,
            'invalid_before',
            `"before" must be an ISO-8601 timestamp (e.g. 2026-02-19T08:00:00.000Z) or the id of a message in "${access.channel.id}"`,
          ),
        )
      }
    }
    const body = access.store.historyBody(
      access.channel.id,
      { limit, ...(before ? { before } : {}) },
      (rows) => utf8.encode(JSON.stringify(rows.map(toRest))),
    )
    return c.body(body, 200, { 'content-type': 'application/json' })
  })

  app.get('/api/v1/presence', async (c) => {
    const state = r.stateOf(c)
    const { store, hub } = state
    const session = await restAuth(c, state)
    if (!session.ok) return fail(c, session)
    const id = c.req.query('channel')
    if (!id) return fail(c, missingChannel())
    const access = readable(id, session.user, store)
    if (!access.ok) return fail(c, access)
    const online = hub.online(access.channel.id)
    return c.json(
      access.store.members(access.channel).map((userId) => ({
        user_id: userId,
        online: online.has(userId),
        channel_id: access.channel.id,
      })),
    )
  })

  app.get(WS_PATH, async (c) => {
    if (c.req.header('upgrade')?.toLowerCase() !== 'websocket') {
      c.header('upgrade', 'websocket')
      return fail(
        c,
        refuse(
          426,
          'upgrade_required',
          `${WS_PATH} is the WebSocket endpoint: connect with ws://…${WS_PATH}?token=`,
        ),
      )
    }
    // The socket belongs to the state its handshake reached: its store and its hub.
    const state = r.stateOf(c)
    const decision = await auth.upgrade(c.req.raw, state)
    r.stateOf(c) // the tenant deleted meanwhile: its 404
    // Over Node the handshake is refused with the bare status (ws writes no body).
    if (!decision.ok) return fail(c, decision)
    const log = r.deps.logger
    let socket: ChatSocket | undefined
    return upgradeWebSocket(
      c,
      {
        onOpen: (_evt, ws) => {
          socket = state.hub.connect(nodePeer(ws.raw as unknown as WebSocket), decision.session, {
            path: WS_PATH,
            headers: c.req.raw.headers,
          })
        },
        onMessage: (evt) => socket?.receive(evt.data as string | ArrayBuffer),
        onClose: (evt) => socket?.closed(evt.code),
        onError: (evt) => log.debug({ err: String((evt as ErrorEvent).error) }, 'chat socket error'),
      },
      { onError: (err) => log.error({ err: String(err) }, 'chat socket handler failed') },
    )
  })

  // Axum's MethodRouter: a known path asked with another method is 405 with the methods it
  // takes in Allow (a GET route takes HEAD too), not the 404 of an unknown path.
  for (const path of ['/api/v1/messages', '/api/v1/presence', WS_PATH]) {
    app.all(path, (c) => {
      c.header('allow', 'GET,HEAD')
      return fail(
        c,
        refuse(405, 'method_not_allowed', `Method ${c.req.method} is not allowed on ${path}: GET`),
      )
    })
  }
}
