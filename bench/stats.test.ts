import { describe, expect, it } from 'vitest'
import {
  pairedDifference,
  pairedQuartilesText,
  pairedRatio,
  roundOrder,
  signedShare,
  signedUs,
  throughputCost,
} from './stats.ts'

describe('bench statistics', () => {
  it('pairs each candidate round with the baseline round beside it', () => {
    expect(pairedRatio([2, 4, 9], [1, 2, 3])).toBe(2)
    expect(pairedDifference([12, 11, 30], [10, 10, 10])).toBe(2)
    expect(pairedDifference([], [1])).toBeNaN()
  })

  it("gives the per-round ratios' quartiles, paired as the median is, from four pairs on", () => {
    // Ratios 0.5, 0.6, 0.7, 0.8, 2 (a pair that straddled a change of the machine's speed).
    expect(pairedQuartilesText([5, 6, 7, 8, 20], [10, 10, 10, 10, 10])).toBe(
      ", per-round ratios' quartiles 0.6–0.8",
    )
    expect(pairedQuartilesText([1, 2, 3], [1, 1, 1])).toBe('')
  })

  it('turns extra CPU per request into the share of throughput it costs', () => {
    expect(throughputCost(0, 50)).toBe(0)
    // 50 µs a request, 2.5 µs more: 50 / 52.5 of the requests, 1/21 fewer.
    expect(throughputCost(2.5, 50)).toBeCloseTo(1 / 21, 10)
    expect(throughputCost(-2.5, 50)).toBeLessThan(0)
  })

  it('prints signed figures with a real minus sign', () => {
    expect(signedUs(0.404)).toBe('+0.4 µs')
    expect(signedUs(-1.234)).toBe('−1.23 µs')
    expect(signedShare(0.031)).toBe('+3.1 %')
    expect(signedShare(-0.02)).toBe('−2 %')
  })

  it('orders paired blocks so that each runs first, and before each other, equally often', () => {
    for (let n = 2; n <= 5; n++) {
      const items = Array.from({ length: n }, (_, i) => i)
      const first = new Array(n).fill(0)
      const before = new Map<string, number>()
      for (let r = 0; r < 2 * n; r++) {
        const order = roundOrder(items, r)
        expect([...order].sort()).toEqual(items)
        first[order[0]!]++
        order.forEach((a, i) => {
          for (const b of order.slice(i + 1)) before.set(`${a}<${b}`, (before.get(`${a}<${b}`) ?? 0) + 1)
        })
      }
      expect(first, `n=${n}`).toEqual(new Array(n).fill(2))
      for (const a of items)
        for (const b of items) if (a !== b) expect(before.get(`${a}<${b}`), `n=${n} ${a}<${b}`).toBe(n)
    }
  })
})
