import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { compilePathTest } from './match.ts'
import { PathIndex } from './path-index.ts'

// The index is a shortcut: for any mix of items, the candidates for a path are, in install
// order, exactly the service's items that could match it (those without a path included).

interface Item {
  n: number
  service: string
  path: string | undefined
}

const item = fc.record({
  service: fc.constantFrom('a', 'b'),
  path: fc.option(fc.constantFrom('/x', '/x/', '/x/y', '/p/:id', '/t/*', '/', '/x/:id/z'), {
    nil: undefined,
  }),
})
const path = fc.constantFrom('/x', '/x/', '/x/y', '/p/1', '/t/1/2', '/', '/x/1/z', '/q')

describe('PathIndex', () => {
  it('gives every item that may match, in install order, and no other literal one', () => {
    fc.assert(
      fc.property(fc.array(item, { maxLength: 12 }), fc.constantFrom('a', 'b'), path, (raw, service, p) => {
        const items: Item[] = raw.map((x, n) => ({ ...x, n }))
        const index = new PathIndex<Item>((i) => i)
        index.set(items)
        const got = index.candidates(service, p).map((i) => i.n)
        const matching = items
          .filter((i) => i.service === service && (i.path === undefined || compilePathTest(i.path)(p)))
          .map((i) => i.n)
        // Candidates may include dynamic patterns that miss (tested later), never a literal miss.
        expect(got.filter((n) => matching.includes(n))).toEqual(matching)
        expect([...got].sort((x, y) => x - y)).toEqual(got)
        for (const n of got) {
          const i = items[n]!
          expect(i.service).toBe(service)
          if (i.path !== undefined && !/[:*]/.test(i.path)) expect(compilePathTest(i.path)(p)).toBe(true)
        }
      }),
      { numRuns: 2000 },
    )
  })

  it('sees a new list after set()', () => {
    const index = new PathIndex<Item>((i) => i)
    index.set([{ n: 0, service: 'a', path: '/x' }])
    expect(index.candidates('a', '/x')).toHaveLength(1)
    index.set([])
    expect(index.candidates('a', '/x')).toHaveLength(0)
  })
})
