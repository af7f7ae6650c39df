import { describe, expect, it } from 'vitest'
import type { MatchTarget } from './match.ts'
import { FaultRegistry, faultState, type FaultRegistry as Registry } from './registry.ts'
import { type Fault, FaultSchema } from './schema.ts'

// The registry: ids, install order, times, seeded probability, windows' state.

const fault = (f: Record<string, unknown>): Fault =>
  FaultSchema.parse({ service: 'v01t', effect: { type: 'status', status: 500 }, ...f })
const request = (path = '/x'): MatchTarget => ({
  kind: 'http',
  method: 'GET',
  path,
  headers: { get: () => null },
})
const fires = (r: Registry, path = '/x') => r.fire('v01t', request(path), 'http').map((c) => c.fault.id)

describe('FaultRegistry', () => {
  it('ids: scenario faults are <scenario>-<n> unless named; runtime ones fault-<n>, never taken', () => {
    const r = new FaultRegistry()
    r.install([fault({}), fault({ id: 'named' }), fault({})], 1, 'sc')
    expect(r.list().map((f) => [f.id, f.source])).toEqual([
      ['sc-1', 'scenario'],
      ['named', 'scenario'],
      ['sc-3', 'scenario'],
    ])
    r.install([fault({ id: 'fault-1' })], 1, 'sc')
    expect(r.add(fault({})).fault.id).toBe('fault-2')
    expect(r.add(fault({ id: 'mine' })).fault.id).toBe('mine')
    expect(r.remove('mine')).toBe(true)
    expect(r.remove('mine')).toBe(false)
    // A new install starts runtime numbering over.
    r.install([], 1, 'sc')
    expect(r.add(fault({})).fault.id).toBe('fault-1')
  })

  it('fires in install order, only faults that act on the target, and counts times', () => {
    const r = new FaultRegistry()
    r.install(
      [
        fault({ id: 'twice', times: 2 }),
        fault({ id: 'up', effect: { type: 'ws-reject' } }),
        fault({ id: 'down', effect: { type: 'down' } }),
        fault({ id: 'other', match: { path: '/y' } }),
      ],
      1,
      's',
    )
    expect(fires(r)).toEqual(['twice'])
    expect(fires(r)).toEqual(['twice'])
    expect(fires(r)).toEqual([])
    expect(r.list().find((f) => f.id === 'twice')).toMatchObject({ fired: 2, state: 'expired' })
    expect(fires(r, '/y')).toEqual(['other'])
    expect(r.fire('v01t', { ...request(), kind: 'upgrade' }, 'upgrade').map((c) => c.fault.id)).toEqual([
      'up',
    ])
    expect(r.inForce('v01t', 'service')?.fault.id).toBe('down')
  })

  it('probability draws depend only on the seed, the fault id and the draw number', () => {
    const run = (seed: number) => {
      const r = new FaultRegistry()
      r.install([fault({ id: 'p', probability: 0.5 })], seed, 's')
      return Array.from({ length: 64 }, () => fires(r).length).join('')
    }
    expect(run(42)).toBe(run(42))
    expect(run(42)).not.toBe(run(43))
    const hits = [...run(42)].filter((x) => x === '1').length
    expect(hits).toBeGreaterThan(16)
    expect(hits).toBeLessThan(48)
  })

  it('faultState follows afterMs and forMs from install time', () => {
    const base = { id: 'w', spec: fault({ afterMs: 100, forMs: 50 }), source: 'runtime' as const }
    const f = { ...base, installedAt: 1000, fired: 0, draws: 0 }
    expect(faultState(f, 1099)).toBe('pending')
    expect(faultState(f, 1100)).toBe('active')
    expect(faultState(f, 1149)).toBe('active')
    expect(faultState(f, 1150)).toBe('expired')
  })
})

describe('FaultRegistry with cluster counters (replicated mode, counters in a Map)', () => {
  const cluster = () => {
    const counts = new Map<string, number>()
    const dropped: string[] = []
    const counters = {
      counts,
      dropped,
      replica: 'a',
      epoch: () => 'e1',
      count: async (key: string) => {
        const n = (counts.get(key) ?? 0) + 1
        counts.set(key, n)
        return n
      },
      drop: (keys: readonly string[]) => dropped.push(...keys),
    }
    return counters
  }

  it('decides synchronously when no counted fault matches; counts when one does', async () => {
    const r = new FaultRegistry()
    const c = cluster()
    r.cluster = c
    r.add(fault({ id: 'plain' }))
    const now = r.fireCounted('v01t', request(), 'http')
    expect(Array.isArray(now)).toBe(true)
    r.add(fault({ id: 'twice', times: 2 }))
    // Another replica fired it once already: it fires once more here, then it is expired here too.
    c.counts.set('e1:twice:fired', 1)
    const counted = r.fireCounted('v01t', request(), 'http')
    expect(counted).toBeInstanceOf(Promise)
    expect((await counted).map((f) => f.fault.id)).toEqual(['plain', 'twice'])
    const after = r.fireCounted('v01t', request(), 'http')
    expect(Array.isArray(after) && after.map((f) => f.fault.id)).toEqual(['plain'])
    expect(c.counts.get('e1:twice:fired')).toBe(2)
    // Used up elsewhere: the count says so, it does not fire, and no more round trips here.
    r.add(fault({ id: 'once', times: 1 }))
    c.counts.set('e1:once:fired', 1)
    expect((await r.fireCounted('v01t', request(), 'http')).map((f) => f.fault.id)).toEqual(['plain'])
    expect(Array.isArray(r.fireCounted('v01t', request(), 'http'))).toBe(true)
    expect(r.list().find((f) => f.id === 'once')?.state).toBe('expired')
  })

  it('drops the counters of faults that go: removed, cleared, replaced by an install', () => {
    const r = new FaultRegistry()
    const c = cluster()
    r.cluster = c
    r.add(fault({ id: 'a', times: 1 }))
    r.add(fault({ id: 'b', probability: 0.5 }))
    r.add(fault({ id: 'c' }))
    r.remove('a')
    expect(c.dropped).toEqual(['e1:a:fired'])
    r.remove('c') // no counter
    expect(c.dropped).toEqual(['e1:a:fired'])
    r.install([fault({ id: 'd', times: 2, probability: 0.5 })], 1, 's')
    expect(c.dropped).toEqual(['e1:a:fired', 'e1:b:draws'])
    r.clear()
    expect(c.dropped).toEqual(['e1:a:fired', 'e1:b:draws', 'e1:d:draws', 'e1:d:fired'])
  })
})
