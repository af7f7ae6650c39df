import http from 'node:http'
import https from 'node:https'
import type { Logger } from './logger.ts'
import { type LoopbackRegistry, loopbackGet } from './loopback.ts'
import { DEFAULT_ROLE_MAP, mapRole, type Role, type RoleMap } from './roles.ts'
import { DEFAULT_TENANT, TENANT_HEADER } from './tenant.ts'

// How chat and media validate a session: exactly as the real services do, an HTTP GET of
// `${AUTH_SERVICE_URL}/api/auth/get-session` with the caller's Cookie header, no caching.
// So an auth outage (or a fault on the fake auth) cascades the way it does in production.
// The fake auth of the same process is asked in-process (core/loopback.ts), through the same
// layers and with the same failures as over TCP; any other URL over the network.

// Only what chat and media need is required: a user id. Every other field is read when present
// and of the expected type, so any better-auth configuration (plugins, additional fields, a
// stock user with no role) is a signed-in user. Not JSON, or no user id: auth is broken.
// Checked by hand, reading the parsed body where it lies: zod's loose objects copy every field
// of the answer on every chat and media request. The test holds it to the zod schema it replaced.

type Fields = Record<string, unknown>
const isFields = (v: unknown): v is Fields => typeof v === 'object' && v !== null && !Array.isArray(v)

/**
 * A parsed get-session body: `null` (no session), a user with its session (`{}` when none is
 * sent), or `undefined` for any other shape (`{user: {id: non-empty string}, session?: object | null}`).
 */
export function readSessionBody(
  body: unknown,
): { user: Fields & { id: string }; session: Fields } | null | undefined {
  if (body === null) return null
  if (!isFields(body)) return undefined
  const { user, session } = body
  if (!isFields(user) || typeof user.id !== 'string' || user.id === '') return undefined
  const withId = user as Fields & { id: string }
  if (session === undefined || session === null) return { user: withId, session: {} }
  return isFields(session) ? { user: withId, session } : undefined
}

export interface SessionUser {
  id: string
  email: string
  name: string
  image: string | null
  /** The role chat and media act on, mapped from `rawRole`. */
  role: Role
  /** better-auth's own `role` value, if it sent one. */
  rawRole: string | null
  emailVerified: boolean
  banned: boolean
}

export interface SessionInfo {
  id: string | null
  userId: string
  expiresAt: string | null
}

const str = (v: unknown): string | null => (typeof v === 'string' ? v : null)

export type SessionResult =
  | { kind: 'ok'; user: SessionUser; session: SessionInfo }
  | { kind: 'unauthenticated' }
  | { kind: 'unavailable'; reason: string }

export interface SessionValidatorOptions {
  /** Read per call: the URL may be settled only once ports are known. */
  authServiceUrl: () => string
  timeoutMs: number
  logger: Logger
  /** How get-session is fetched instead of node:http (in-process tests route it to the auth app). */
  fetch?: typeof fetch
  /** Read per call: the scenario's map can change. Default DEFAULT_ROLE_MAP. */
  roleMap?: () => RoleMap
  /**
   * This process's listeners: a get-session URL one of them serves (the fake auth beside chat
   * and media) is answered in-process, through every layer a TCP request passes (core/loopback.ts).
   */
  loopback?: LoopbackRegistry | undefined
}

export type SessionValidator = (
  cookieHeader: string | undefined,
  requestId?: string,
  /** Overrides the validator's own map for this call (a state's scenario map). */
  roleMap?: RoleMap,
  /** The caller's tenant, passed on (`X-Mocks-Tenant`) so the session is looked up in its world. */
  tenant?: string,
) => Promise<SessionResult>

/** get-session's answer, body read whole. */
interface Answer {
  status: number
  text: string
}

type Transport = (url: string, headers: Record<string, string>, timeoutMs: number) => Promise<Answer>

/** A get-session body larger than this is not a session: auth is misbehaving. */
const MAX_BODY = 1024 * 1024

const bodyTooLarge = () => new Error('answer over 1 MiB')

function timeoutError(ms: number): Error {
  const err = new Error(`get-session took longer than ${ms} ms`)
  err.name = 'TimeoutError'
  return err
}

function fetchTransport(doFetch: typeof fetch): Transport {
  return async (url, headers, timeoutMs) => {
    const res = await doFetch(url, { headers, signal: AbortSignal.timeout(timeoutMs) })
    return { status: res.status, text: await res.text() }
  }
}

// Over the network (a URL no listener of this process serves): keep-alive, as a real service's
// HTTP client keeps its connections to auth: a new connection per request would make every
// chat or media request pay a TCP handshake. node:http rather than fetch: fetch costs far more
// CPU per call. Looked up per call (`http.request`, not a captured import): msw's interceptor
// patches the module when `setupServer().listen()` runs, and must see the fakes' own
// get-session calls (msw's fakes listen on no port, so none of their calls is in-process).
const agents = {
  'http:': new http.Agent({ keepAlive: true }),
  'https:': new https.Agent({ keepAlive: true }),
}

/**
 * The parsed get-session URL, kept for the last URL seen (it is the same on every call):
 * parsing it again per request was a visible share of a chat request's CPU. Passed to
 * `http.request` as before (msw's interceptor reads the call the same way); nothing mutates it.
 */
let lastUrl: string | undefined
let lastTarget: URL | undefined
function targetOf(url: string): URL {
  if (url !== lastUrl || !lastTarget) {
    lastTarget = new URL(url)
    lastUrl = url
  }
  return lastTarget
}

const httpTransport: Transport = (url, headers, timeoutMs) =>
  new Promise<Answer>((resolve, reject) => {
    const target = targetOf(url)
    const isHttps = target.protocol === 'https:'
    // Never retried: a request auth has received is a request auth has seen (journaled, counted
    // by its faults), as with any client that does not retry a GET it has sent.
    const req = (isHttps ? https : http).request(target, {
      headers,
      agent: isHttps ? agents['https:'] : agents['http:'],
    })
    let settled = false
    const timer = setTimeout(() => req.destroy(timeoutError(timeoutMs)), timeoutMs)
    const settle = (outcome: () => void) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      outcome()
    }
    // A broken connection is reported on the request and again on the response: first wins.
    const fail = (err: Error) => settle(() => reject(err))
    req.on('error', fail)
    req.on('response', (res) => {
      const chunks: Buffer[] = []
      let size = 0
      res.on('data', (chunk: Buffer) => {
        size += chunk.length
        if (size > MAX_BODY) req.destroy(bodyTooLarge())
        else chunks.push(chunk)
      })
      res.on('error', fail)
      res.on('end', () =>
        settle(() => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') })),
      )
    })
    req.end()
  })

/** In-process when the URL is a listener of this process's, else over the network. */
function loopbackTransport(loopback: LoopbackRegistry): Transport {
  return (url, headers, timeoutMs) => {
    const route = loopback.find(url)
    if (!route) return httpTransport(url, headers, timeoutMs)
    return loopbackGet(route, headers, { timeoutMs, maxBody: MAX_BODY, bodyTooLarge }).then((a) => ({
      status: a.status,
      text: a.body.toString('utf8'),
    }))
  }
}

export function createSessionValidator(opts: SessionValidatorOptions): SessionValidator {
  const transport = opts.fetch
    ? fetchTransport(opts.fetch)
    : opts.loopback
      ? loopbackTransport(opts.loopback)
      : httpTransport
  return async (cookieHeader, requestId, callRoleMap, tenant) => {
    const url = `${opts.authServiceUrl()}/api/auth/get-session`
    if (!cookieHeader) return { kind: 'unauthenticated' }
    const headers: Record<string, string> = { cookie: cookieHeader, accept: 'application/json' }
    if (requestId) headers['x-request-id'] = requestId
    if (tenant && tenant !== DEFAULT_TENANT) headers[TENANT_HEADER] = tenant
    let res: Answer
    try {
      res = await transport(url, headers, opts.timeoutMs)
    } catch (err) {
      const e = err as Error & { code?: string; cause?: { code?: string } }
      const reason =
        e.name === 'TimeoutError'
          ? `get-session took longer than ${opts.timeoutMs} ms`
          : `get-session failed: ${e.code ?? e.cause?.code ?? e.message}`
      opts.logger.warn({ url, reason }, 'auth unavailable')
      return { kind: 'unavailable', reason }
    }
    // Both no-session answers mean unauthenticated: the matrix's 401 and better-auth's 200 null.
    // 431: the caller's Cookie header is too large for auth to read, so it carries no session
    // auth could accept; that is the caller's request, not an outage (no 503).
    if (res.status === 401 || res.status === 431) return { kind: 'unauthenticated' }
    if (res.status !== 200) {
      opts.logger.warn({ url, status: res.status }, 'auth unavailable')
      return { kind: 'unavailable', reason: `get-session answered ${res.status}` }
    }
    let body: unknown
    try {
      body = JSON.parse(res.text)
    } catch {
      return { kind: 'unavailable', reason: 'get-session answered invalid JSON' }
    }
    const parsed = readSessionBody(body)
    if (parsed === undefined)
      return { kind: 'unavailable', reason: 'get-session answered an unexpected shape' }
    if (parsed === null) return { kind: 'unauthenticated' }
    const u = parsed.user
    // The admin plugin answers get-session for a banned user with no session; a better-auth
    // that still returns one is read the same way.
    if (u.banned === true) return { kind: 'unauthenticated' }
    const s = parsed.session
    const rawRole = str(u.role)
    return {
      kind: 'ok',
      user: {
        id: u.id,
        email: str(u.email) ?? '',
        name: str(u.name) ?? '',
        image: str(u.image),
        role: mapRole(rawRole, callRoleMap ?? opts.roleMap?.() ?? DEFAULT_ROLE_MAP),
        rawRole,
        emailVerified: u.emailVerified === true,
        banned: false,
      },
      session: { id: str(s.id), userId: str(s.userId) ?? u.id, expiresAt: str(s.expiresAt) },
    }
  }
}
