import http from 'node:http'
import https from 'node:https'
import { z } from 'zod'
import type { Logger } from './logger.ts'
import { RoleSchema } from './roles.ts'

// How chat and media validate a session: exactly as the real services do, an HTTP call to
// `${AUTH_SERVICE_URL}/api/auth/get-session` with the caller's Cookie header, no caching.
// So an auth outage (or a fault on the fake auth) cascades the way it does in production.

export const SessionUserSchema = z.object({
  id: z.string(),
  email: z.string(),
  name: z.string(),
  image: z.string().nullable().optional(),
  role: RoleSchema,
  emailVerified: z.boolean(),
  banned: z.boolean().nullable().optional(),
  createdAt: z.string(),
  updatedAt: z.string(),
})

export const SessionSchema = z.object({
  id: z.string(),
  userId: z.string(),
  expiresAt: z.string(),
  ipAddress: z.string().nullable().optional(),
  userAgent: z.string().nullable().optional(),
})

const GetSessionBody = z.union([z.null(), z.object({ user: SessionUserSchema, session: SessionSchema })])

export type SessionUser = z.infer<typeof SessionUserSchema>
export type SessionInfo = z.infer<typeof SessionSchema>

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
}

export type SessionValidator = (
  cookieHeader: string | undefined,
  requestId?: string,
) => Promise<SessionResult>

/** get-session's answer, body read whole. */
interface Answer {
  status: number
  text: string
}

type Transport = (url: string, headers: Record<string, string>, timeoutMs: number) => Promise<Answer>

/** A get-session body larger than this is not a session: auth is misbehaving. */
const MAX_BODY = 1024 * 1024

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

// Keep-alive, as a real service's HTTP client keeps its connections to auth: a new connection
// per request would make every chat or media request pay a TCP handshake. node:http rather
// than fetch: fetch costs ~300 µs more CPU per call here (BENCHMARKS.md), a third of a chat
// request. Looked up per call (`http.request`, not a captured import): msw's interceptor patches
// the module when `setupServer().listen()` runs, and must see the fakes' own get-session calls.
const agents = {
  'http:': new http.Agent({ keepAlive: true }),
  'https:': new https.Agent({ keepAlive: true }),
}

const httpTransport: Transport = (url, headers, timeoutMs) =>
  new Promise<Answer>((resolve, reject) => {
    const target = new URL(url)
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
        if (size > MAX_BODY) req.destroy(new Error('answer over 1 MiB'))
        else chunks.push(chunk)
      })
      res.on('error', fail)
      res.on('end', () =>
        settle(() => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') })),
      )
    })
    req.end()
  })

export function createSessionValidator(opts: SessionValidatorOptions): SessionValidator {
  const transport = opts.fetch ? fetchTransport(opts.fetch) : httpTransport
  return async (cookieHeader, requestId) => {
    const url = `${opts.authServiceUrl()}/api/auth/get-session`
    if (!cookieHeader) return { kind: 'unauthenticated' }
    const headers: Record<string, string> = { cookie: cookieHeader, accept: 'application/json' }
    if (requestId) headers['x-request-id'] = requestId
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
    const parsed = GetSessionBody.safeParse(body)
    if (!parsed.success) return { kind: 'unavailable', reason: 'get-session answered an unexpected shape' }
    if (parsed.data === null) return { kind: 'unauthenticated' }
    if (parsed.data.user.banned) return { kind: 'unauthenticated' }
    return { kind: 'ok', user: parsed.data.user, session: parsed.data.session }
  }
}
