import { getIP } from 'better-auth/api'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { sessionIp } from './ip.ts'

// The session's ipAddress against better-auth's own resolver (the devDependency), which under
// test, as in development, falls back to localhost where the real server would store "".
const real = (forwardedFor: string | undefined): string =>
  getIP(new Headers(forwardedFor === undefined ? {} : { 'x-forwarded-for': forwardedFor }), {}) ?? ''

const address = fc.oneof(
  fc.ipV4(),
  fc.ipV4Extended(),
  fc.ipV6(),
  fc.ipV4().map((v4) => `::ffff:${v4}`),
  fc.ipV4().map((v4) => `::FFFF:${v4}`),
  fc.constantFrom('::1', '::', 'fe80::1%eth0', '0:0:0:0:0:ffff:c000:0201', '2001:DB8::1', '01.2.3.4'),
)
const header = fc.oneof(
  address,
  fc.array(address, { minLength: 2, maxLength: 3 }).map((a) => a.join(', ')),
  address.map((a) => `  ${a} ,`),
  fc.string(),
  fc.constantFrom('', ' ', ',', 'unknown', 'not-an-ip'),
)

describe('sessionIp', () => {
  it('is what better-auth stores for these headers', () => {
    for (const h of [
      undefined,
      '203.0.113.7',
      '203.0.113.7, 10.0.0.1',
      '::ffff:198.51.100.9',
      '2001:db8:abcd:12:1:2:3:4',
    ]) {
      expect(sessionIp(h)).toBe(real(h))
    }
    expect(sessionIp('2001:db8:abcd:12:1:2:3:4')).toBe('2001:0db8:abcd:0012:0000:0000:0000:0000')
    expect(sessionIp('203.0.113.7, 10.0.0.1')).toBe('127.0.0.1')
  })

  it('agrees with better-auth on any X-Forwarded-For', () => {
    fc.assert(
      fc.property(header, (h) => {
        expect(sessionIp(h)).toBe(real(h))
      }),
      { numRuns: 2000 },
    )
  })
})
