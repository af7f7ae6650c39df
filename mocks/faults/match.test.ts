import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { compilePath, compilePathTest, literalPath } from './match.ts'

// compilePathTest is a shortcut for compilePath(pattern).test (literal compare, prefix check
// before the regex): it must agree with the regex on every pattern and path.

const segment = fc.oneof(
  fc.constantFrom('api', 'v1', 'trace', 'files', 'a', 'a.b', 'x+y', '(x)', 'q?', '*', ':id', ':slug', ''),
  fc.stringMatching(/^[a-z0-9.*:?+-]{0,6}$/),
)
const pattern = fc.array(segment, { maxLength: 5 }).map((s) => `/${s.join('/')}${s.length % 2 ? '/' : ''}`)
const path = fc.oneof(
  pattern,
  fc
    .array(fc.constantFrom('api', 'v1', 'trace', 'files', 'a', 'a.b', 'x+y', '(x)', 'q?', '42', ''), {
      maxLength: 6,
    })
    .map((s) => `/${s.join('/')}`),
)

describe('compilePathTest', () => {
  it('agrees with compilePath(pattern).test on any pattern and path', () => {
    fc.assert(
      fc.property(pattern, path, (p, target) => {
        expect(compilePathTest(p)(target)).toBe(compilePath(p).test(target))
      }),
      { numRuns: 5000 },
    )
  })

  it('a literal pattern matches exactly the paths the engine looks it up by', () => {
    // The engine indexes literal faults by literalPath and looks a request up by its path
    // minus one trailing slash: that must select exactly the paths the pattern matches.
    fc.assert(
      fc.property(pattern, path, (p, target) => {
        const literal = literalPath(p)
        if (literal === undefined) return
        const key = target.endsWith('/') ? target.slice(0, -1) : target
        expect(key === literal).toBe(compilePath(p).test(target))
      }),
      { numRuns: 5000 },
    )
    expect(literalPath('/api/v1/files/:id')).toBeUndefined()
    expect(literalPath('/trace/*')).toBeUndefined()
    expect(literalPath('/nothing/1/')).toBe('/nothing/1')
    expect(literalPath(undefined)).toBeUndefined()
  })

  it('keeps the documented shapes', () => {
    expect(compilePathTest('/api/v1/files/:id')('/api/v1/files/abc')).toBe(true)
    expect(compilePathTest('/api/v1/files/:id')('/api/v1/files/abc/download')).toBe(false)
    expect(compilePathTest('/trace/*')('/trace/flight-path/artefact/')).toBe(true)
    expect(compilePathTest('/trace/*')('/tracer/x')).toBe(false)
    expect(compilePathTest('/nothing/1')('/nothing/1/')).toBe(true)
    expect(compilePathTest('/nothing/1')('/nothing/10')).toBe(false)
    expect(compilePathTest('/')('/')).toBe(true)
  })
})
