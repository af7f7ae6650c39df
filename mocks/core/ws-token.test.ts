import fc from 'fast-check'
import { base64url, SignJWT, UnsecuredJWT } from 'jose'
import { describe, expect, it } from 'vitest'
import {
  DEFAULT_WS_TOKEN_SECRET,
  looksLikeJwt,
  signWsToken,
  verifyWsToken,
  WS_TOKEN_ALG,
} from './ws-token.ts'

const secret = DEFAULT_WS_TOKEN_SECRET
const subject = { sub: 'user-member', sid: 'session-1' }

describe('ephemeral WS tokens', () => {
  it('signs HS256 with sub, sid, iat, exp (60 s by default), and verifies', async () => {
    const now = Date.UTC(2026, 1, 19, 9, 0, 0)
    const { token, expiresAt, claims } = await signWsToken(subject, { secret, now })
    expect(looksLikeJwt(token)).toBe(true)
    const [header] = token.split('.')
    expect(JSON.parse(new TextDecoder().decode(base64url.decode(header!)))).toEqual({
      alg: 'HS256',
      typ: 'JWT',
    })
    expect(claims).toEqual({ sub: 'user-member', sid: 'session-1', iat: now / 1000, exp: now / 1000 + 60 })
    expect(expiresAt).toBe('2026-02-19T09:01:00.000Z')
    expect(await verifyWsToken(token, secret, now + 59_000)).toEqual({ ok: true, claims })
  })

  it('carries the tenant when there is one', async () => {
    const { token } = await signWsToken({ ...subject, tnt: 'team-a' }, { secret, ttlSeconds: 5 })
    const r = await verifyWsToken(token, secret)
    expect(r.ok && r.claims.tnt).toBe('team-a')
    // 5 s, or 6 when issued within a second (exp rounds up, iat down).
    expect(r.ok && r.claims.exp - r.claims.iat).toBeOneOf([5, 6])
  })

  it('lives at least its lifetime, and less than one second more, whatever the millisecond it is issued at', async () => {
    // An injected clock: issued at `issued`, checked at `issued + offset`.
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: Date.UTC(2026, 0, 1), max: Date.UTC(2027, 0, 1) }),
        fc.integer({ min: 1, max: 120 }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        async (issued, ttlSeconds, within) => {
          const { token, expiresAt } = await signWsToken(subject, { secret, ttlSeconds, now: issued })
          const life = Date.parse(expiresAt) - issued
          expect(life).toBeGreaterThanOrEqual(ttlSeconds * 1000)
          expect(life).toBeLessThan(ttlSeconds * 1000 + 1000)
          // Accepted at any instant of its lifetime, its last millisecond included ...
          const during = issued + Math.floor(within * ttlSeconds * 1000)
          expect((await verifyWsToken(token, secret, during)).ok).toBe(true)
          expect((await verifyWsToken(token, secret, issued + ttlSeconds * 1000 - 1)).ok).toBe(true)
          // ... and refused one second after it.
          expect(await verifyWsToken(token, secret, issued + ttlSeconds * 1000 + 1000)).toMatchObject({
            ok: false,
            reason: 'expired',
          })
        },
      ),
      { numRuns: 200 },
    )
  })

  it('a 1 s token: accepted until 1 s after issue, refused 2 s after, at every phase of the second', async () => {
    const second = Date.UTC(2026, 1, 19, 9, 0, 0)
    for (const ms of [0, 1, 500, 999]) {
      const issued = second + ms
      const { token, claims } = await signWsToken(subject, { secret, ttlSeconds: 1, now: issued })
      expect(claims.iat).toBe(second / 1000)
      expect(claims.exp).toBe(second / 1000 + (ms === 0 ? 1 : 2))
      for (const at of [issued, issued + 999])
        expect(
          (await verifyWsToken(token, secret, at)).ok,
          `issued at +${ms} ms, checked at +${at - second} ms`,
        ).toBe(true)
      expect(await verifyWsToken(token, secret, issued + 2000)).toMatchObject({
        ok: false,
        reason: 'expired',
      })
    }
  })

  it('refuses an expired token as expired', async () => {
    const now = Date.now()
    const { token } = await signWsToken(subject, { secret, ttlSeconds: 1, now: now - 5000 })
    expect(await verifyWsToken(token, secret)).toMatchObject({ ok: false, reason: 'expired' })
  })

  it('refuses a tampered payload, another secret, another algorithm, none, and junk', async () => {
    const { token } = await signWsToken(subject, { secret })
    const [h, p, s] = token.split('.')
    const payload = JSON.parse(new TextDecoder().decode(base64url.decode(p!)))
    const forged = base64url.encode(JSON.stringify({ ...payload, sub: 'user-admin' }))
    expect(await verifyWsToken(`${h}.${forged}.${s}`, secret)).toMatchObject({ ok: false, reason: 'invalid' })
    expect(await verifyWsToken(`${h}.${p}.${s!.slice(0, -2)}AA`, secret)).toMatchObject({
      ok: false,
      reason: 'invalid',
    })

    const other = await signWsToken(subject, { secret: 'x'.repeat(32) })
    expect(await verifyWsToken(other.token, secret)).toMatchObject({ ok: false, reason: 'invalid' })

    const hs512 = await new SignJWT({ sid: 's' })
      .setProtectedHeader({ alg: 'HS512' })
      .setSubject('user-member')
      .setIssuedAt()
      .setExpirationTime('1m')
      .sign(new TextEncoder().encode(secret))
    expect(WS_TOKEN_ALG).toBe('HS256')
    expect(await verifyWsToken(hs512, secret)).toMatchObject({ ok: false, reason: 'invalid' })

    const none = new UnsecuredJWT({ sid: 's' })
      .setSubject('user-member')
      .setIssuedAt()
      .setExpirationTime('1m')
      .encode()
    expect(await verifyWsToken(none, secret)).toMatchObject({ ok: false, reason: 'invalid' })

    const noSid = await new SignJWT({})
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('user-member')
      .setIssuedAt()
      .setExpirationTime('1m')
      .sign(new TextEncoder().encode(secret))
    expect(await verifyWsToken(noSid, secret)).toMatchObject({ ok: false, reason: 'invalid' })

    expect(await verifyWsToken('a.b.c', secret)).toMatchObject({ ok: false, reason: 'invalid' })
    expect(looksLikeJwt('Zx9abcdefghijklmnopqrstuvwxyz012.sig')).toBe(false)
  })

  it('refuses a secret shorter than 32 characters', async () => {
    await expect(signWsToken(subject, { secret: 'short' })).rejects.toThrow(/at least 32/)
  })
})
