import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { BoundedMemo } from './memo.ts'

describe('BoundedMemo', () => {
  it('remembers answers and runs make only on a miss', () => {
    const memo = new BoundedMemo<string, number>({ maxEntries: 4 })
    let calls = 0
    const make = () => ++calls
    expect(memo.getOrSet('a', make)).toBe(1)
    expect(memo.getOrSet('a', make)).toBe(1)
    expect(calls).toBe(1)
    expect(memo.get('b')).toBeUndefined()
    expect(memo.has('a')).toBe(true)
  })

  it('evicts the oldest entries beyond maxEntries', () => {
    const memo = new BoundedMemo<number, number>({ maxEntries: 3 })
    for (let i = 0; i < 5; i++) memo.set(i, i)
    expect(memo.size).toBe(3)
    expect([0, 1, 2, 3, 4].map((k) => memo.has(k))).toEqual([false, false, true, true, true])
  })

  it('evicts the oldest entries beyond maxBytes and never keeps a value larger than the budget', () => {
    const memo = new BoundedMemo<string, Uint8Array>({
      maxEntries: 100,
      maxBytes: 10,
      sizeOf: (v) => v.length,
    })
    memo.set('a', new Uint8Array(4))
    memo.set('b', new Uint8Array(4))
    expect(memo.bytes).toBe(8)
    memo.set('c', new Uint8Array(4))
    expect(memo.has('a')).toBe(false)
    expect(memo.bytes).toBe(8)
    const huge = new Uint8Array(11)
    expect(memo.set('huge', huge)).toBe(huge)
    expect(memo.has('huge')).toBe(false)
    expect(memo.has('b') && memo.has('c')).toBe(true)
  })

  it('replacing a key counts its bytes once; delete and clear release them', () => {
    const memo = new BoundedMemo<string, string>({ maxEntries: 10, maxBytes: 100, sizeOf: (v) => v.length })
    memo.set('k', 'xxxx')
    memo.set('k', 'yy')
    expect(memo.bytes).toBe(2)
    expect(memo.delete('k')).toBe(true)
    expect(memo.bytes).toBe(0)
    memo.set('a', 'abc')
    memo.clear()
    expect(memo.size).toBe(0)
    expect(memo.bytes).toBe(0)
  })

  it('refuses bounds that cannot hold anything or half a byte bound', () => {
    expect(() => new BoundedMemo({ maxEntries: 0 })).toThrow(/maxEntries/)
    expect(() => new BoundedMemo<string, string>({ maxEntries: 1, maxBytes: 5 })).toThrow(/sizeOf/)
  })

  it('stays within both bounds and answers like a map for whatever it keeps (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 8 }),
        fc.integer({ min: 1, max: 40 }),
        fc.array(fc.tuple(fc.integer({ min: 0, max: 12 }), fc.string({ maxLength: 12 }))),
        (maxEntries, maxBytes, ops) => {
          const memo = new BoundedMemo<number, string>({ maxEntries, maxBytes, sizeOf: (v) => v.length })
          const last = new Map<number, string>()
          for (const [k, v] of ops) {
            memo.set(k, v)
            last.set(k, v)
            expect(memo.size).toBeLessThanOrEqual(maxEntries)
            expect(memo.bytes).toBeLessThanOrEqual(maxBytes)
          }
          for (const [k, v] of last) {
            const got = memo.get(k)
            if (got !== undefined) expect(got).toBe(v)
          }
        },
      ),
    )
  })
})

describe('BoundedMemo keyed by client input', () => {
  it('counts keys through sizeOf, so long invented keys cannot exceed the byte budget', () => {
    const memo = new BoundedMemo<string, null>({
      maxEntries: 1000,
      maxBytes: 1000,
      sizeOf: (_v, k) => k.length,
    })
    for (let i = 0; i < 50; i++) memo.set(`${i}`.padEnd(100, 'x'), null)
    expect(memo.bytes).toBeLessThanOrEqual(1000)
    expect(memo.size).toBe(10)
    expect(memo.get('49'.padEnd(100, 'x'))).toBeNull()
  })
})
