import { describe, expect, it } from 'vitest'
import { DEFAULT_ALLOWED_ORIGINS } from './config.ts'
import { createOriginMatcher } from './origins.ts'

describe('origin allow-list', () => {
  const allowed = createOriginMatcher(DEFAULT_ALLOWED_ORIGINS)

  it('allows the matrix origins and devarno.cloud subdomains', () => {
    for (const o of [
      'https://casa.devarno.cloud',
      'https://a.b.devarno.cloud',
      'http://localhost:3000',
      'http://127.0.0.1:8090',
    ]) {
      expect(allowed(o)).toBe(true)
    }
  })

  it('refuses look-alikes, other schemes and ports, and missing origins', () => {
    for (const o of [
      'https://devarno.cloud.evil.com',
      'https://evildevarno.cloud',
      'http://casa.devarno.cloud',
      'http://localhost:3001',
      'https://devarno.cloud',
      'null',
      '',
      undefined,
    ]) {
      expect(allowed(o)).toBe(false)
    }
  })
})
