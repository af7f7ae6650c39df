import { describe, expect, it } from 'vitest'
import { type CpuProfile, fileOf, layerGap, startProfiling, summarise, topOf } from './profile.ts'

const ROOT = '/repo/'

describe('fileOf', () => {
  it('names the repository file, the package, the Node.js area or V8 entry a frame belongs to', () => {
    expect(fileOf('file:///repo/mocks/core/journal.ts', 'record', ROOT)).toBe('mocks/core/journal.ts')
    expect(
      fileOf('file:///repo/node_modules/.pnpm/hono@4.13.19/node_modules/hono/dist/hono.js', 'x', ROOT),
    ).toBe('hono')
    expect(
      fileOf(
        'file:///repo/node_modules/.pnpm/@hono+node-server@2.1.9/node_modules/@hono/node-server/dist/index.mjs',
        'x',
        ROOT,
      ),
    ).toBe('@hono/node-server')
    expect(fileOf('node:internal/streams/writable', 'write', ROOT)).toBe('node:internal/streams')
    expect(fileOf('node:_http_outgoing', 'end', ROOT)).toBe('node:_http_outgoing')
    expect(fileOf('', '(garbage collector)', ROOT)).toBe('(garbage collector)')
    expect(fileOf('', 'writev', ROOT)).toBe('(native)')
  })
})

// root -> a (mocks file) -> b (hono); idle beside them. Sample i stands for timeDeltas[i + 1].
const profile: CpuProfile = {
  nodes: [
    { id: 1, callFrame: { functionName: '(root)', url: '', lineNumber: -1 }, children: [2, 4] },
    {
      id: 2,
      callFrame: { functionName: 'a', url: 'file:///repo/mocks/x.ts', lineNumber: 9 },
      children: [3],
    },
    {
      id: 3,
      callFrame: { functionName: 'b', url: 'file:///repo/node_modules/hono/dist/hono.js', lineNumber: 0 },
    },
    { id: 4, callFrame: { functionName: '(idle)', url: '', lineNumber: -1 } },
  ],
  startTime: 0,
  endTime: 10_000,
  samples: [2, 3, 3, 4, 3],
  timeDeltas: [0, 1000, 1000, 1000, 5000, 1000],
}

describe('summarise', () => {
  it('sums self time per file and per function over busy samples only, largest first', () => {
    const s = summarise(profile, 'w', ROOT)
    expect(s.busyMs).toBe(4)
    expect(s.samples).toBe(4)
    expect(s.wallMs).toBe(10)
    expect(s.files).toEqual([
      { name: 'hono', ms: 3, pct: 75 },
      { name: 'mocks/x.ts', ms: 1, pct: 25 },
    ])
    expect(s.functions.map((f) => f.name)).toEqual(['b hono:1', 'a mocks/x.ts'])
    expect(s.layers).toEqual([
      { name: 'Hono and @hono/node-server', ms: 3, pct: 75 },
      { name: "the fakes' own code (mocks/)", ms: 1, pct: 25 },
    ])
    expect(topOf(s, 1)).toBe(
      "Hono and @hono/node-server 75 %, the fakes' own code (mocks/) 25 %; by file or package: hono 75 %",
    )
  })
})

describe('layerGap', () => {
  it('gives busy CPU per request by layer for the candidate and each baseline, in µs', () => {
    const fake = { ...summarise(profile, 'fake', ROOT), requests: 2 }
    const bare = { ...summarise(profile, 'bare', ROOT), requests: 4 }
    expect(layerGap(fake, 'the fake', [bare, 'bare'])).toBe(
      "the fake 2000 µs (Hono and @hono/node-server 1500, the fakes' own code (mocks/) 500); bare 1000 µs (Hono and @hono/node-server 750, the fakes' own code (mocks/) 250)",
    )
    expect(layerGap({ ...fake, requests: 0 }, 'x')).toBe('x: no count')
  })
})

describe('startProfiling', () => {
  it('profiles this thread until stopped and names the function that burned the time', async () => {
    const profiler = await startProfiling(100)
    function burnForProfileTest() {
      const until = performance.now() + 150
      let x = 0
      while (performance.now() < until) x += Math.sqrt(x + 1)
      return x
    }
    burnForProfileTest()
    const s = summarise(await profiler.stop(), 'burn', ROOT)
    expect(s.samples).toBeGreaterThan(10)
    expect(s.functions.some((f) => f.name.startsWith('burnForProfileTest'))).toBe(true)
  })
})
