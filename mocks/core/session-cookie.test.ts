import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  cookieValue,
  cookieVerifier,
  sessionCookieFrom,
  signSessionToken,
  verifySessionCookie,
} from './session-cookie.ts'

/** The oracle: parses a Cookie header into name → value (first occurrence wins, as browsers send it). */
function parseCookieHeader(header: string | undefined | null): Map<string, string> {
  const out = new Map<string, string>()
  if (!header) return out
  for (const part of header.split(';')) {
    const eq = part.indexOf('=')
    if (eq <= 0) continue
    const name = part.slice(0, eq).trim()
    let value = part.slice(eq + 1).trim()
    if (value.startsWith('"') && value.endsWith('"') && value.length >= 2) value = value.slice(1, -1)
    if (name && !out.has(name)) out.set(name, value)
  }
  return out
}

const SECRET = 'a-secret-of-at-least-thirty-two-characters'
const TOKEN = 'AbCdEfGhIjKlMnOpQrStUvWxYz012345'

// better-call signs with WebCrypto and btoa; compute it that way, independently of node:crypto.
async function webCryptoSigned(token: string, secret: string): Promise<string> {
  const key = await crypto.subtle.importKey(
    'raw',
    new TextEncoder().encode(secret),
    { name: 'HMAC', hash: 'SHA-256' },
    false,
    ['sign'],
  )
  const sig = await crypto.subtle.sign('HMAC', key, new TextEncoder().encode(token))
  return encodeURIComponent(`${token}.${btoa(String.fromCharCode(...new Uint8Array(sig)))}`)
}

describe('session cookie', () => {
  it('signs exactly as better-auth does', async () => {
    expect(signSessionToken(TOKEN, SECRET)).toBe(await webCryptoSigned(TOKEN, SECRET))
  })

  it('verifies encoded and decoded values and returns the raw token', () => {
    const signed = signSessionToken(TOKEN, SECRET)
    expect(verifySessionCookie(signed, SECRET)).toBe(TOKEN)
    expect(verifySessionCookie(decodeURIComponent(signed), SECRET)).toBe(TOKEN)
  })

  it('rejects unsigned, tampered, other-secret and malformed values', () => {
    const signed = decodeURIComponent(signSessionToken(TOKEN, SECRET))
    expect(verifySessionCookie(TOKEN, SECRET)).toBeNull()
    expect(verifySessionCookie(`X${signed.slice(1)}`, SECRET)).toBeNull()
    expect(verifySessionCookie(signSessionToken(TOKEN, `${SECRET}!`), SECRET)).toBeNull()
    expect(verifySessionCookie('%E0%A4%A', SECRET)).toBeNull()
    expect(verifySessionCookie('.', SECRET)).toBeNull()
    expect(verifySessionCookie(`${TOKEN}.${'A'.repeat(43)}=`, SECRET)).toBeNull()
  })

  it('parses Cookie headers and finds either cookie name', () => {
    expect(parseCookieHeader('a=1; b="2"; a=3;; =x; c')).toEqual(
      new Map([
        ['a', '1'],
        ['b', '2'],
      ]),
    )
    expect(sessionCookieFrom('x=1; better-auth.session_token=abc')).toBe('abc')
    expect(sessionCookieFrom('__Secure-better-auth.session_token=def')).toBe('def')
    expect(sessionCookieFrom(undefined)).toBeUndefined()
  })

  it('remembers verdicts per value, bounded, and answers exactly as verifySessionCookie', () => {
    const verify = cookieVerifier(SECRET, 3)
    const good = signSessionToken(TOKEN, SECRET)
    const other = signSessionToken(TOKEN, 'another-secret-of-at-least-thirty-two-chars')
    for (let round = 0; round < 3; round++) {
      expect(verify(good)).toBe(TOKEN)
      expect(verify(other)).toBeNull()
      expect(verify('garbage')).toBeNull()
      // A fourth value starts the memo over; verdicts do not change.
      expect(verify(decodeURIComponent(good))).toBe(TOKEN)
    }
  })
})

describe('cookieValue: one cookie, read as parseCookieHeader reads every one', () => {
  it('gives what parseCookieHeader(header).get(name) gives, for any header and name', () => {
    const names = ['a', 'ab', 'better-auth.session_token', '__Secure-better-auth.session_token', ' a', '']
    const piece = fc.oneof(
      fc.constantFrom(...names, ';', '=', ' ', '\t', '"', '\u00a0', 'x', 'tok.sig%3D'),
      fc.string({ maxLength: 3 }),
    )
    const header = fc.array(piece, { maxLength: 24 }).map((p) => p.join(''))
    fc.assert(
      fc.property(fc.option(header, { nil: undefined }), fc.constantFrom(...names), (h, name) => {
        expect(cookieValue(h, name)).toBe(parseCookieHeader(h).get(name))
      }),
      { numRuns: 5000 },
    )
  })
})
