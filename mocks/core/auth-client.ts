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
  const doFetch = opts.fetch ?? fetch
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
    if (res.status === 401) {
      await res.body?.cancel()
      return { kind: 'unauthenticated' }
    }
    if (res.status !== 200) {
      await res.body?.cancel()
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
