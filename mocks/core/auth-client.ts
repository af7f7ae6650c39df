import { z } from 'zod'
import type { Logger } from './logger.ts'
import { RoleSchema } from './scenario/schema.ts'

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
  fetch?: typeof fetch
}

export type SessionValidator = (
  cookieHeader: string | undefined,
  requestId?: string,
) => Promise<SessionResult>

export function createSessionValidator(opts: SessionValidatorOptions): SessionValidator {
  // Looked up per call, not captured: an interceptor installed later (msw's setupServer().listen())
  // must see the fakes' own get-session calls, or they would bypass it for the network.
  const doFetch: typeof fetch = opts.fetch ?? ((input, init) => globalThis.fetch(input, init))
  return async (cookieHeader, requestId) => {
    const url = `${opts.authServiceUrl()}/api/auth/get-session`
    if (!cookieHeader) return { kind: 'unauthenticated' }
    const headers: Record<string, string> = { cookie: cookieHeader, accept: 'application/json' }
    if (requestId) headers['x-request-id'] = requestId
    let res: Response
    try {
      res = await doFetch(url, { headers, signal: AbortSignal.timeout(opts.timeoutMs) })
    } catch (err) {
      const e = err as Error & { cause?: { code?: string } }
      const reason =
        e.name === 'TimeoutError'
          ? `get-session took longer than ${opts.timeoutMs} ms`
          : `get-session failed: ${e.cause?.code ?? e.message}`
      opts.logger.warn({ url, reason }, 'auth unavailable')
      return { kind: 'unavailable', reason }
    }
    // Both no-session answers mean unauthenticated: the matrix's 401 and better-auth's 200 null.
    // 431: the caller's Cookie header is too large for auth to read, so it carries no session
    // auth could accept; that is the caller's request, not an outage (no 503).
    if (res.status === 401 || res.status === 431) {
      discard(res)
      return { kind: 'unauthenticated' }
    }
    if (res.status !== 200) {
      discard(res)
      opts.logger.warn({ url, status: res.status }, 'auth unavailable')
      return { kind: 'unavailable', reason: `get-session answered ${res.status}` }
    }
    let body: unknown
    try {
      body = await res.json()
    } catch (err) {
      const e = err as Error
      return {
        kind: 'unavailable',
        reason:
          e.name === 'TimeoutError'
            ? `get-session took longer than ${opts.timeoutMs} ms`
            : 'get-session answered invalid JSON',
      }
    }
    const parsed = GetSessionBody.safeParse(body)
    if (!parsed.success) return { kind: 'unavailable', reason: 'get-session answered an unexpected shape' }
    if (parsed.data === null) return { kind: 'unauthenticated' }
    if (parsed.data.user.banned) return { kind: 'unauthenticated' }
    return { kind: 'ok', user: parsed.data.user, session: parsed.data.session }
  }
}

/**
 * Drops a body we do not read. Not awaited: cancelling one branch of a cloned (tee'd) body only
 * settles once the other branch is cancelled too, and interceptors such as msw keep a clone.
 */
function discard(res: Response): void {
  res.body?.cancel().catch(() => undefined)
}
