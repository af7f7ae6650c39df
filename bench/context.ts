import type { PeerName } from './peers.ts'
import type { Section } from './report.ts'
import type { Host } from './rpc.ts'

// What every benchmark gets: the options of the run and the two long-lived server hosts.

export interface BenchOptions {
  mode: string
  /** Alternating candidate/baseline rounds; figures are medians over them. */
  rounds: number
  rest: {
    /** autocannon connections: V01T runs at each; chat and get-session at the first. */
    connections: number[]
    /** Other mock servers serving the V01T bytes in the same rounds (skipped when missing). */
    peers: PeerName[]
    /** Extra warm-up of each peer (WireMock's JVM needs it to reach its pace). */
    peerWarmupSec: number
    /**
     * Rounds of the REST runs (its own count: short runs, many of them). This machine's speed
     * changes within seconds, so a long run's pair often straddles a change; many short pairs
     * leave most pairs within one state, and their median ratio moves less between runs.
     */
    rounds: number
    durationSec: number
    /** Seconds of each profiled (V8 or perf) run: at least a round's, longer in full runs for enough samples. */
    sampleSec: number
    warmupSec: number
    idleFaults: number
    engineRequests: number
  }
  coldStart: {
    runs: number
    /** dev: `pnpm dev:mocks` itself; bundle: node on the bundle; tsx: the sources under tsx. */
    modes: ('dev' | 'bundle' | 'tsx')[]
    /** Where the production bundle is built (relative to the repository root). */
    bundleOutfile: string
  }
  reset: { defaultRuns: number; largeRuns: number; messagesPerChannel: number; records: number }
  ws: {
    clients: number
    /** Sockets opened (and authenticated) at once. */
    batch: number
    /** Latency phase: messages sent one every `pacedIntervalMs`. */
    pacedMessages: number
    pacedIntervalMs: number
    /** Throughput phase: messages sent with at most `window` not yet delivered to everyone. */
    burstMessages: number
    window: number
    /** Alternating chat/bare rounds (more than the other sections': see rest.rounds). */
    rounds: number
  }
  /** freshProcesses: each round in new server processes (no heap left from earlier work). */
  upload: { rounds: number; oversizeBytes: number; freshProcesses: boolean }
  latency: { delays: number[]; connections: number; samplesPerDelay: number }
}

export interface SeededUser {
  id: string
  role: string
  cookieName: string
  cookieValue: string | null
  banned?: boolean
}

export interface MocksInfo {
  urls: Record<string, string>
  control: string
  users: SeededUser[]
  maxFileSize: number
}

export interface Ctx {
  opts: BenchOptions
  mocks: Host
  baseline: Host
  info: MocksInfo
  log(message: string): void
}

export type SectionResult = Omit<Section, 'load' | 'seconds'>

export interface Benchmark {
  id: string
  /** Starts its own server processes (the long-lived hosts are closed first, and not passed). */
  ownProcesses?(opts: BenchOptions): boolean
  run(ctx: Ctx): Promise<SectionResult>
}

export function cookieOf(user: SeededUser): string {
  return `${user.cookieName}=${user.cookieValue}`
}

export function userById(info: MocksInfo, id: string): SeededUser {
  const user = info.users.find((u) => u.id === id)
  if (!user?.cookieValue) throw new Error(`seeded user ${id} with a session not found`)
  return user
}
