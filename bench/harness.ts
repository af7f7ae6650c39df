import { writeFile } from 'node:fs/promises'
import { coldStartBenchmark } from './coldstart.ts'
import type { Benchmark, BenchOptions, Ctx, MocksInfo } from './context.ts'
import { dbResetBenchmark } from './db-reset.ts'
import { latencyBenchmark } from './latency.ts'
import { describeMachine } from './machine.ts'
import { load1 } from './net.ts'
import { replicasBenchmark } from './replicas.ts'
import { type Report, renderMarkdown, type Section } from './report.ts'
import { resetBenchmark } from './reset.ts'
import { restBenchmark } from './rest.ts'
import { type Host, startHost } from './rpc.ts'
import { tenantsBenchmark } from './tenants.ts'
import { uploadBenchmark } from './upload.ts'
import { wsBenchmark } from './ws.ts'

export type { BenchOptions } from './context.ts'

const MiB = 1024 * 1024

/** full: `pnpm bench` (~9 min); quick: `--quick` (~3 min); tiny: the harness test. */
export const PRESETS: Record<'full' | 'quick' | 'tiny', BenchOptions> = {
  full: {
    mode: 'full',
    rounds: 5,
    rest: {
      connections: [10, 50],
      peers: ['wiremock', 'mockoon'],
      peerWarmupSec: 5,
      rounds: 15,
      durationSec: 1,
      sampleSec: 3,
      warmupSec: 1,
      idleFaults: 100,
      engineRequests: 4000,
    },
    coldStart: { runs: 5, modes: ['dev', 'bundle', 'tsx'], bundleOutfile: 'dist/mocks.mjs' },
    reset: { defaultRuns: 15, largeRuns: 5, messagesPerChannel: 3334, records: 1000 },
    ws: {
      clients: 500,
      batch: 50,
      pacedMessages: 30,
      pacedIntervalMs: 50,
      burstMessages: 100,
      window: 8,
      rounds: 9,
    },
    upload: { rounds: 5, oversizeBytes: 50 * MiB, freshProcesses: true },
    latency: { delays: [100, 500, 1000, 2000], connections: 8, samplesPerDelay: 40 },
  },
  quick: {
    mode: 'quick',
    rounds: 1,
    rest: {
      connections: [10, 50],
      peers: ['wiremock', 'mockoon'],
      peerWarmupSec: 2,
      rounds: 3,
      durationSec: 1,
      sampleSec: 1,
      warmupSec: 0.5,
      idleFaults: 100,
      engineRequests: 2000,
    },
    coldStart: { runs: 2, modes: ['dev', 'bundle'], bundleOutfile: 'dist/mocks.mjs' },
    reset: { defaultRuns: 5, largeRuns: 2, messagesPerChannel: 3334, records: 1000 },
    ws: {
      clients: 100,
      batch: 50,
      pacedMessages: 20,
      pacedIntervalMs: 50,
      burstMessages: 50,
      window: 8,
      rounds: 1,
    },
    upload: { rounds: 1, oversizeBytes: 50 * MiB, freshProcesses: true },
    latency: { delays: [100, 500], connections: 4, samplesPerDelay: 8 },
  },
  tiny: {
    mode: 'tiny',
    rounds: 1,
    rest: {
      connections: [4, 8],
      peers: ['mockoon'],
      peerWarmupSec: 0,
      rounds: 1,
      durationSec: 0.5,
      sampleSec: 0.5,
      warmupSec: 0,
      idleFaults: 100,
      engineRequests: 200,
    },
    coldStart: { runs: 1, modes: ['bundle'], bundleOutfile: 'dist/mocks.mjs' },
    reset: { defaultRuns: 3, largeRuns: 1, messagesPerChannel: 50, records: 50 },
    ws: {
      clients: 20,
      batch: 10,
      pacedMessages: 5,
      pacedIntervalMs: 20,
      burstMessages: 10,
      window: 4,
      rounds: 1,
    },
    upload: { rounds: 1, oversizeBytes: 16 * MiB, freshProcesses: false },
    latency: { delays: [20], connections: 2, samplesPerDelay: 4 },
  },
}

/** Sections that use the long-lived hosts come first; upload and cold start start their own processes. */
export const BENCHMARKS: Benchmark[] = [
  restBenchmark,
  latencyBenchmark,
  resetBenchmark,
  tenantsBenchmark,
  dbResetBenchmark,
  wsBenchmark,
  uploadBenchmark,
  coldStartBenchmark,
  replicasBenchmark,
]

export interface RunOptions {
  /** Section ids to run (all by default). */
  only?: string[]
  log?: (message: string) => void
}

export async function runBenchmarks(opts: BenchOptions, run: RunOptions = {}): Promise<Report> {
  const log = run.log ?? (() => {})
  const started = performance.now()
  const startedAt = new Date().toISOString()
  const machine = describeMachine()
  const wanted = BENCHMARKS.filter((b) => !run.only?.length || run.only.includes(b.id))
  const unknown = (run.only ?? []).filter((id) => !BENCHMARKS.some((b) => b.id === id))
  if (unknown.length) {
    throw new Error(
      `unknown benchmark ${unknown.join(', ')}; known: ${BENCHMARKS.map((b) => b.id).join(', ')}`,
    )
  }
  const sections: Section[] = []
  let hosts: { mocks: Host; baseline: Host } | undefined
  const closeHosts = async () => {
    await Promise.all([hosts?.mocks.close(), hosts?.baseline.close()])
    hosts = undefined
  }
  try {
    for (const b of wanted) {
      let ctx: Ctx
      if (b.ownProcesses?.(opts)) {
        // Idle servers still cost memory and wake-ups: close them before measuring processes.
        await closeHosts()
        ctx = { opts, mocks: undefined as never, baseline: undefined as never, info: undefined as never, log }
      } else {
        if (!hosts) {
          log('starting the fakes and the baseline servers')
          const [mocks, baseline] = await Promise.all([startHost('mocks'), startHost('baseline')])
          hosts = { mocks, baseline }
        }
        ctx = { opts, ...hosts, info: await hosts.mocks.call<MocksInfo>('info'), log }
      }
      const t0 = performance.now()
      const before = load1()
      const result = await b.run(ctx)
      sections.push({ ...result, load: [before, load1()], seconds: (performance.now() - t0) / 1000 })
    }
  } finally {
    await closeHosts()
  }
  return {
    mode: opts.mode,
    machine,
    options: { ...opts, ...(run.only?.length ? { only: run.only } : {}) },
    startedAt,
    seconds: (performance.now() - started) / 1000,
    sections,
  }
}

/** Runs and writes the markdown report to `out` (BENCHMARKS.md for `pnpm bench`). */
export async function runAndWrite(opts: BenchOptions, out: string, run: RunOptions = {}): Promise<Report> {
  const report = await runBenchmarks(opts, run)
  await writeFile(out, renderMarkdown(report))
  return report
}
