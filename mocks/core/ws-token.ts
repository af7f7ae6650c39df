import { decodeJwt, errors, jwtVerify, SignJWT } from 'jose'

// Ephemeral WebSocket tokens: the format family-hub should adopt so the chat socket stops
// carrying the raw session token in `?token=`. A short-lived JWT, HS256 with WS_TOKEN_SECRET,
// claims:
//   sub  user id            sid  session id it was issued for
//   tnt  tenant (when any)  iat  issued at (s)      exp  expiry (s), lifetime 60 s by default
// A verifier counts in whole seconds (jose: expired once floor(now / 1 s) >= exp), so exp is
// rounded up from the issue instant + lifetime: a token lives at least its lifetime and less
// than one second more (a 1 s token: 1-2 s, never 0). iat is rounded down (never in the future),
// so exp - iat is the lifetime or one more.
// Signed and checked with jose. Anything else is refused: another algorithm (`none`, HS512,
// RS256), a bad signature (tampered, or another secret), an expired token, a missing claim.

/** A fixed development secret (>= 32 characters), overridden by `WS_TOKEN_SECRET`. */
export const DEFAULT_WS_TOKEN_SECRET = 'devarno-mocks-ws-token-development-secret'
export const DEFAULT_WS_TOKEN_TTL_SECONDS = 60
export const WS_TOKEN_ALG = 'HS256'

export interface WsTokenSubject {
  /** User id. */
  sub: string
  /** Session id the token was issued for. */
  sid: string
  /** Tenant, when the mocks run tenants. */
  tnt?: string
}

export interface WsTokenClaims extends WsTokenSubject {
  iat: number
  exp: number
}

export type WsTokenCheck =
  | { ok: true; claims: WsTokenClaims }
  | { ok: false; reason: 'expired' | 'invalid'; message: string }

const encoder = new TextEncoder()

function key(secret: string): Uint8Array {
  if (secret.length < 32) throw new Error('WS_TOKEN_SECRET must be at least 32 characters')
  return encoder.encode(secret)
}

export async function signWsToken(
  subject: WsTokenSubject,
  opts: { secret: string; ttlSeconds?: number; now?: number },
): Promise<{ token: string; expiresAt: string; claims: WsTokenClaims }> {
  const now = opts.now ?? Date.now()
  const iat = Math.floor(now / 1000)
  const exp = Math.ceil((now + (opts.ttlSeconds ?? DEFAULT_WS_TOKEN_TTL_SECONDS) * 1000) / 1000)
  const claims: WsTokenClaims = {
    sub: subject.sub,
    sid: subject.sid,
    ...(subject.tnt ? { tnt: subject.tnt } : {}),
    iat,
    exp,
  }
  const token = await new SignJWT({ sid: claims.sid, ...(claims.tnt ? { tnt: claims.tnt } : {}) })
    .setProtectedHeader({ alg: WS_TOKEN_ALG, typ: 'JWT' })
    .setSubject(claims.sub)
    .setIssuedAt(iat)
    .setExpirationTime(exp)
    .sign(key(opts.secret))
  return { token, expiresAt: new Date(exp * 1000).toISOString(), claims }
}

/** Three base64url parts: a JWT rather than a raw session token (which has no dots). */
export function looksLikeJwt(token: string): boolean {
  return /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/.test(token)
}

export async function verifyWsToken(token: string, secret: string, now?: number): Promise<WsTokenCheck> {
  try {
    const { payload } = await jwtVerify(token, key(secret), {
      algorithms: [WS_TOKEN_ALG],
      requiredClaims: ['sub', 'sid', 'iat', 'exp'],
      ...(now !== undefined ? { currentDate: new Date(now) } : {}),
    })
    const { sub, sid, tnt, iat, exp } = payload
    if (
      typeof sub !== 'string' ||
      typeof sid !== 'string' ||
      typeof iat !== 'number' ||
      typeof exp !== 'number'
    ) {
      return { ok: false, reason: 'invalid', message: 'WS token claims have the wrong types' }
    }
    if (tnt !== undefined && typeof tnt !== 'string') {
      return { ok: false, reason: 'invalid', message: 'WS token claim tnt must be a string' }
    }
    return { ok: true, claims: { sub, sid, ...(tnt ? { tnt } : {}), iat, exp } }
  } catch (err) {
    if (err instanceof errors.JWTExpired) {
      return { ok: false, reason: 'expired', message: 'WS token expired: fetch a new one before connecting' }
    }
    // Signature, algorithm, format and claim problems: one answer, no detail a forger could use.
    return { ok: false, reason: 'invalid', message: 'WS token invalid' }
  }
}

/**
 * The `tnt` claim of a token that looks like a WS token, unverified: it only picks the tenant
 * whose chat then verifies the token (a forged claim lands in a tenant that refuses it).
 */
export function wsTokenTenant(token: string): string | undefined {
  if (!looksLikeJwt(token)) return undefined
  try {
    const tnt = decodeJwt(token).tnt
    return typeof tnt === 'string' ? tnt : undefined
  } catch {
    return undefined
  }
}
