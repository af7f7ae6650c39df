import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { isoTime } from './iso-time.ts'

describe('isoTime', () => {
  it('is new Date(ms).toISOString() for any millisecond in Date range', () => {
    fc.assert(
      fc.property(fc.integer({ min: -8.64e15, max: 8.64e15 }), (ms) => {
        expect(isoTime(ms)).toBe(new Date(ms).toISOString())
      }),
      { numRuns: 20_000 },
    )
  })

  it('across day, year and epoch boundaries, in any order of calls', () => {
    const edges = [
      0,
      -1,
      1,
      86_399_999,
      86_400_000,
      Date.UTC(2026, 11, 31, 23, 59, 59, 999),
      Date.UTC(2027, 0, 1),
    ]
    for (const ms of [...edges, ...edges.reverse(), Date.now()])
      expect(isoTime(ms)).toBe(new Date(ms).toISOString())
  })
})
