import { Session } from 'node:inspector/promises'
import { round } from './stats.ts'

// Where the time goes: a V8 CPU profile of a server process while one workload runs (taken
// with the inspector from inside the process, so each workload gets its own profile), summed
// by self time per function and per file or package. Rendered into BENCHMARKS.md.

export interface ProfileNode {
  id: number
  callFrame: { functionName: string; url: string; lineNumber: number }
  hitCount?: number
  children?: number[]
}

export interface CpuProfile {
  nodes: ProfileNode[]
  startTime: number
  endTime: number
  samples?: number[]
  timeDeltas?: number[]
}

export interface ProfileRow {
  name: string
  /** Self time, ms. */
  ms: number
  /** Share of the busy (non-idle) samples, %. */
  pct: number
}

export interface ProfileSummary {
  /** The workload profiled, e.g. "V01T list, 50 connections". */
  title: string
  /** Wall time of the profile, ms, and the part of it the thread was busy. */
  wallMs: number
  busyMs: number
  samples: number
  /** Requests (or frames) served while profiling, when the caller counted them. */
  requests?: number
  /** Self time by layer: Node.js core (JS and native), the Hono framework, the fake's own code, GC, other packages. */
  layers: ProfileRow[]
  files: ProfileRow[]
  functions: ProfileRow[]
}

/** The layer a file or package of `fileOf` belongs to. */
export function layerOf(file: string): string {
  if (file === '(garbage collector)') return 'garbage collection'
  if (file.startsWith('node:') || file === '(native)' || file === '(program)')
    return 'Node.js core (JS, native, V8)'
  if (file === 'hono' || file === '@hono/node-server') return 'Hono and @hono/node-server'
  if (file.startsWith('mocks/')) return "the fakes' own code (mocks/)"
  return 'other packages'
}

const IDLE = new Set(['(idle)', '(root)'])

/**
 * Where a frame's code lives: the repository file (`mocks/core/journal.ts`), the package
 * (`hono`, `@hono/node-server`), the Node.js internal module (`node:internal/http`, `node:net`),
 * or V8's own entries (`(garbage collector)`, `(program)`) and native code (`(native)`).
 */
export function fileOf(url: string, functionName: string, root: string): string {
  if (!url) return functionName.startsWith('(') ? functionName : '(native)'
  const pkg = /node_modules\/(?:\.pnpm\/[^/]+\/node_modules\/)?((?:@[^/]+\/)?[^/]+)/.exec(url)
  if (pkg) return pkg[1]!
  if (url.startsWith('node:internal/')) {
    // One row per area (streams, http, ...), not per module.
    return `node:internal/${url.slice('node:internal/'.length).split('/')[0]}`
  }
  if (url.startsWith('node:')) return url
  const local = url.replace(/^file:\/\//, '')
  return local.startsWith(root) ? local.slice(root.length) : local
}

/** Self time per function and per file from a V8 CPU profile, busy samples only. */
export function summarise(
  profile: CpuProfile,
  title: string,
  root: string,
  top = { files: 10, functions: 12 },
): ProfileSummary {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]))
  const selfUs = new Map<number, number>()
  const samples = profile.samples ?? []
  const deltas = profile.timeDeltas ?? []
  // timeDeltas[i] is the time before sample i; the time a sample stands for is the next delta.
  for (let i = 0; i < samples.length; i++) {
    const us = deltas[i + 1] ?? deltas[i] ?? 0
    selfUs.set(samples[i]!, (selfUs.get(samples[i]!) ?? 0) + Math.max(0, us))
  }
  const files = new Map<string, number>()
  const functions = new Map<string, number>()
  const layers = new Map<string, number>()
  let busy = 0
  let busySamples = 0
  const counts = new Map<number, number>()
  for (const id of samples) counts.set(id, (counts.get(id) ?? 0) + 1)
  for (const [id, us] of selfUs) {
    const node = byId.get(id)
    if (!node) continue
    const { functionName, url, lineNumber } = node.callFrame
    if (IDLE.has(functionName) && !url) continue
    busy += us
    busySamples += counts.get(id) ?? 0
    const file = fileOf(url, functionName, root)
    layers.set(layerOf(file), (layers.get(layerOf(file)) ?? 0) + us)
    files.set(file, (files.get(file) ?? 0) + us)
    // Line numbers of the fakes' code are tsx's transpiled output's, not the source's: left out.
    const fn = url
      ? `${functionName || '(anonymous)'} ${file}${file.startsWith('mocks/') ? '' : `:${lineNumber + 1}`}`
      : `${functionName || '(anonymous)'}${file === functionName ? '' : ` ${file}`}`
    functions.set(fn, (functions.get(fn) ?? 0) + us)
  }
  const rows = (m: Map<string, number>, n: number): ProfileRow[] =>
    [...m]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([name, us]) => ({ name, ms: round(us / 1000, 1), pct: busy ? round((us / busy) * 100, 1) : 0 }))
  return {
    title,
    wallMs: round((profile.endTime - profile.startTime) / 1000, 1),
    busyMs: round(busy / 1000, 1),
    samples: busySamples,
    layers: rows(layers, 5),
    files: rows(files, top.files),
    functions: rows(functions, top.functions),
  }
}

/** Starts profiling this process's main thread; `stop()` ends it and returns the raw profile. */
export async function startProfiling(intervalUs = 250): Promise<{ stop(): Promise<CpuProfile> }> {
  const session = new Session()
  session.connect()
  await session.post('Profiler.enable')
  await session.post('Profiler.setSamplingInterval', { interval: intervalUs })
  await session.post('Profiler.start')
  return {
    async stop() {
      const { profile } = (await session.post('Profiler.stop')) as { profile: CpuProfile }
      await session.post('Profiler.disable')
      session.disconnect()
      return profile
    },
  }
}

/** The biggest entries of a profile, as prose: "mocks/faults/http.ts 12 %, hono 9 %, ...". */
export function topOf(p: ProfileSummary | undefined, n = 6): string {
  if (!p) return 'no profile'
  const layers = p.layers.map((l) => `${l.name} ${round(l.pct, 1)} %`).join(', ')
  return `${layers}; by file or package: ${p.files
    .slice(0, n)
    .map((f) => `${f.name} ${round(f.pct, 1)} %`)
    .join(', ')}`
}

/** The layers' order in prose, the fake's own code last (what a fix would act on). */
const LAYERS = [
  'Node.js core (JS, native, V8)',
  'garbage collection',
  'Hono and @hono/node-server',
  'other packages',
  "the fakes' own code (mocks/)",
]

/**
 * Busy CPU per request (or frame) by layer, the candidate against its baselines:
 * "the fake 104 µs (Node.js core 60, ...), bare Hono 66 µs (...)". Needs `requests` on each.
 */
export function layerGap(
  cand: ProfileSummary,
  label: string,
  ...baselines: [ProfileSummary, string][]
): string {
  const one = (p: ProfileSummary, name: string) => {
    const n = p.requests ?? 0
    if (!n) return `${name}: no count`
    const per = (ms: number) => round((ms * 1000) / n, 1)
    const parts = LAYERS.map((layer) => [layer, p.layers.find((l) => l.name === layer)?.ms ?? 0] as const)
      .filter(([, ms]) => ms > 0)
      .map(([layer, ms]) => `${layer} ${per(ms)}`)
    return `${name} ${per(p.busyMs)} µs (${parts.join(', ')})`
  }
  return [one(cand, label), ...baselines.map(([p, name]) => one(p, name))].join('; ')
}
