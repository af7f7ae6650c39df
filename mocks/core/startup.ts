import { performance as nodePerformance } from 'node:perf_hooks'

// Start-up timing: named marks (ms since the process began, `performance.now()`) taken as the
// CLI starts, logged once at debug level when every port listens ("start-up timing"), so the
// cold-start bench (bench/coldstart.ts) reports where the time goes from the process itself.
// The first mark of a name wins: a later scenario switch does not move the start-up's marks.

const marks: Record<string, number> = {}

export function markStartup(name: string): void {
  marks[name] ??= Math.round(performance.now() * 10) / 10
}

export interface StartupTiming {
  /** Epoch ms at which this process began (compare with the launcher's clock). */
  timeOrigin: number
  /** Node's own milestones (ms since timeOrigin): `bootstrapComplete` ends Node's start. */
  node: { environment: number; bootstrapComplete: number }
  /** Marks in the order taken, ms since timeOrigin. */
  marks: Record<string, number>
}

export function startupTiming(): StartupTiming {
  const { environment, bootstrapComplete } = nodePerformance.nodeTiming
  const r = (ms: number) => Math.round(ms * 10) / 10
  return {
    timeOrigin: performance.timeOrigin,
    node: { environment: r(environment), bootstrapComplete: r(bootstrapComplete) },
    marks: { ...marks },
  }
}
