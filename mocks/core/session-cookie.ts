import { createHmac, timingSafeEqual } from 'node:crypto'
import { BoundedMemo } from './memo.ts'

// better-auth 1.x signs the session cookie as better-call's signCookieValue does:
// encodeURIComponent(`${token}.${base64(HMAC-SHA256(secret, token))}`), standard base64 with
// padding (44 chars). A raw token without a valid signature is not a session.

export const SESSION_COOKIE = 'better-auth.session_token'
export const SECURE_SESSION_COOKIE = `__Secure-${SESSION_COOKIE}`

function sign(token: string, secret: string): string {
  return createHmac('sha256', secret).update(token).digest('base64')
}

/** The signed value as it appears in the Cookie header (URI-encoded). */
export function signSessionToken(token: string, secret: string): string {
  return encodeURIComponent(`${token}.${sign(token, secret)}`)
}

/**
 * Verifies a cookie value (URI-encoded or not) and returns the raw token, or null when it is
 * unsigned, malformed or signed with another secret.
 */
export function verifySessionCookie(value: string, secret: string): string | null {
  let decoded: string
  try {
    decoded = decodeURIComponent(value)
  } catch {
    return null
  }
  const dot = decoded.lastIndexOf('.')
  if (dot <= 0) return null
  const token = decoded.slice(0, dot)
  const signature = decoded.slice(dot + 1)
  if (signature.length !== 44 || !signature.endsWith('=')) return null
  const expected = Buffer.from(sign(token, secret))
  const given = Buffer.from(signature)
  if (expected.length !== given.length || !timingSafeEqual(expected, given)) return null
  return token
}

/**
 * verifySessionCookie for one secret, remembering the last answers: the fault engine checks the
 * cookie of every request (to journal and scope by user), and an HMAC per request was a tenth
 * of a chat request's CPU. Only the signature check is remembered, never whether the session
 * is valid: that stays auth's answer, asked on every request.
 */
export function cookieVerifier(secret: string, limit = 1024): (value: string) => string | null {
  // Bounded (entries and bytes) whatever cookies clients invent.
  const memo = new BoundedMemo<string, string | null>({
    maxEntries: limit,
    maxBytes: limit * 1024,
    // Cookie values come from clients: their length counts (UTF-16, so x2), plus the token.
    sizeOf: (token, cookie) => 2 * (cookie.length + (token?.length ?? 0)) + 64,
  })
  return (value) => memo.getOrSet(value, () => verifySessionCookie(value, secret))
}

/**
 * One cookie's value from a Cookie header, without parsing the rest (a Map of every cookie per
 * request, three times a chat request, was garbage for the collector): the first occurrence
 * wins, name and value trimmed, a quoted value unquoted. Its test holds it to a whole-header
 * parse with the same rules.
 */
export function cookieValue(header: string | undefined | null, name: string): string | undefined {
  // A cookie never has an empty name.
  if (!header || !name) return undefined
  // Each '=' and ';' found once: a header of many parts is read in one pass, not one per part.
  let eq = -1
  for (let start = 0; start <= header.length; ) {
    let end = header.indexOf(';', start)
    if (end < 0) end = header.length
    if (eq < start) {
      eq = header.indexOf('=', start)
      if (eq < 0) return undefined
    }
    // A name at least as long as the one sought (before trimming), then compared exactly.
    if (eq > start && eq < end && eq - start >= name.length && header.slice(start, eq).trim() === name) {
      const value = header.slice(eq + 1, end).trim()
      return value.length >= 2 && value.startsWith('"') && value.endsWith('"') ? value.slice(1, -1) : value
    }
    start = end + 1
  }
  return undefined
}

/** The session cookie value from a Cookie header, either prefix. */
export function sessionCookieFrom(header: string | undefined | null): string | undefined {
  return cookieValue(header, SESSION_COOKIE) ?? cookieValue(header, SECURE_SESSION_COOKIE)
}
