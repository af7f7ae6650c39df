import * as fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { baggageTenant, cookieTenant, explicitTenantSignals, isTenantId, tenantIdProblem } from './tenant.ts'

const idArb = fc.stringMatching(/^[a-z0-9][a-z0-9-]{0,62}$/)
const headers = (h: Record<string, string>) => new Headers(h)

describe('tenant ids and signals', () => {
  it('accepts exactly [a-z0-9][a-z0-9-]{0,62}', () => {
    fc.assert(fc.property(idArb, (id) => isTenantId(id)))
    for (const bad of ['', '-a', 'A', 'a_b', 'a'.repeat(64), 'a b', 'é', 'a\n'])
      expect(isTenantId(bad)).toBe(false)
    expect(tenantIdProblem('x'.repeat(500)).length).toBeLessThan(200)
  })

  it('finds mocks.tenant among any other baggage members, with properties and encoding', () => {
    fc.assert(
      fc.property(
        idArb,
        fc.array(
          fc.tuple(fc.stringMatching(/^[a-z][a-z0-9_.]{0,10}$/), fc.stringMatching(/^[A-Za-z0-9]{0,8}$/)),
          {
            maxLength: 5,
          },
        ),
        fc.nat(5),
        (id, others, at) => {
          const members = others.filter(([k]) => k !== 'mocks.tenant').map(([k, v]) => `${k}=${v}`)
          members.splice(Math.min(at, members.length), 0, ` mocks.tenant = ${encodeURIComponent(id)};prop=1 `)
          expect(baggageTenant(members.join(','))).toBe(id)
        },
      ),
    )
    expect(baggageTenant('other=1')).toBeUndefined()
    expect(baggageTenant('mocks.tenantx=1')).toBeUndefined()
    expect(baggageTenant(null)).toBeUndefined()
  })

  it('reads the mocks_tenant cookie among others, never a cookie whose name only contains it', () => {
    fc.assert(
      fc.property(idArb, (id) => {
        expect(cookieTenant(`a=1; mocks_tenant=${id}; better-auth.session_token=x.y%3D`)).toBe(id)
        expect(cookieTenant(`xmocks_tenant=${id}`)).toBeUndefined()
      }),
    )
  })

  it('never throws on arbitrary header values, and lists the signals in the documented order', () => {
    fc.assert(
      fc.property(fc.string(), fc.string(), (a, b) => {
        expect(() => baggageTenant(a)).not.toThrow()
        expect(() => cookieTenant(b)).not.toThrow()
      }),
    )
    const signals = explicitTenantSignals(
      headers({ cookie: 'mocks_tenant=c', baggage: 'mocks.tenant=b', 'x-mocks-tenant': ' a ' }),
    )
    expect(signals).toEqual([
      { source: 'header', value: 'a' },
      { source: 'baggage', value: 'b' },
      { source: 'cookie', value: 'c' },
    ])
    expect(explicitTenantSignals(headers({}))).toEqual([])
  })
})
