import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { createInterface } from 'node:readline'
import type { Figure } from './report.ts'
import { round } from './stats.ts'

// Where the time goes over sockets, the kernel included. V8's profiler (bench/profile.ts) sees
// one thread's JavaScript; over sockets a request also costs the kernel (reading it, sending
// the answer through loopback, waking the client to read it) and V8's helper threads. Linux
// `perf` samples the server process's CPU (every thread, kernel and user) on a fixed CPU-time
// period while a workload runs; each sample's stack puts it in one part below. Optional: where
// perf is missing or not permitted, the bench says so and goes on.

/**
 * One sample per this much CPU time, ns (cpu-clock: needs no hardware counters). Sampling
 * costs the sampled process CPU itself (in a VM, a timer interrupt is dear): at 1 ms it adds
 * about a tenth, so the parts are read as shares and scaled to CPU measured without perf.
 */
const PERIOD_NS = 1_000_000

/** The parts a sample is put in, in report order. */
export const PARTS = [
  'kernel: sending answers (TCP, loopback delivery to the client)',
  'kernel: waking the client to read an answer',
  'kernel: reading requests',
  'kernel: the event loop waiting (epoll)',
  'kernel: other (interrupts, timers, scheduling)',
  'V8 garbage collection (all threads)',
  'JavaScript (JIT-compiled code)',
  'V8 builtins and runtime (property access, calls, allocation, the interpreter)',
  'Node.js C++, libuv and llhttp',
  'libc (copies, malloc)',
  'other',
] as const
export type Part = (typeof PARTS)[number]

export interface Frame {
  sym: string
  dso: string
}

const KERNEL_DSO = '[kernel.kallsyms]'
const SEND =
  /^(tcp_sendmsg|tcp_sendmsg_locked|sock_write_iter|do_writev|vfs_writev|__x64_sys_writev|__x64_sys_write|sock_sendmsg)$/
const WAKE = /^(sock_def_readable|__wake_up_common|__wake_up_sync_key|ep_poll_callback|try_to_wake_up)$/
const READ = /^(tcp_recvmsg|tcp_recvmsg_locked|sock_read_iter|ksys_read|__x64_sys_read)$/
const POLL = /^(do_epoll_wait|ep_poll|__x64_sys_epoll_wait|__x64_sys_epoll_pwait)$/
const GC =
  /Scaveng|MarkCompact|ConcurrentMarking|Sweeper|MinorMS|Evacuat|GCTracer|v8::internal::Heap::|IncrementalMarking|MarkingVisitor/

/** The part a sample belongs to, from its stack (leaf first). */
export function partOf(stack: readonly Frame[]): Part {
  const leaf = stack[0]
  if (!leaf) return 'other'
  const has = (re: RegExp) => stack.some((f) => re.test(f.sym))
  // First: the kernel time of a collection (page faults, madvise) is the collector's too.
  if (has(GC)) return 'V8 garbage collection (all threads)'
  if (leaf.dso === KERNEL_DSO) {
    // Delivery through loopback runs the client's receive path, wake-up included, inside the
    // server's send: a client that was idle costs the server its wake-up.
    if (has(SEND)) return has(WAKE) ? 'kernel: waking the client to read an answer' : PARTS[0]
    if (has(READ)) return 'kernel: reading requests'
    if (has(POLL)) return 'kernel: the event loop waiting (epoll)'
    return 'kernel: other (interrupts, timers, scheduling)'
  }
  // JIT code has no symbols without a perf map (the hosts run without one, as in production).
  if (
    (leaf.sym === '[unknown]' && leaf.dso === '[unknown]') ||
    leaf.dso.startsWith('[JIT]') ||
    /\/perf-\d+\.map$/.test(leaf.dso)
  )
    return 'JavaScript (JIT-compiled code)'
  if (leaf.sym.startsWith('Builtins_') || leaf.sym.startsWith('v8::')) return PARTS[7]
  // The rest of the node binary: Node's C++ (with libuv, llhttp and the C++ library inlined).
  if (/\/node$/.test(leaf.dso) || /^(node::|uv_|uv__|llhttp)/.test(leaf.sym)) return PARTS[8]
  if (/\/libc[.-]|\/libstdc\+\+|\/libm[.-]/.test(leaf.dso)) return 'libc (copies, malloc)'
  return 'other'
}

/** One line of `perf script -F ip,sym,dso`: `\t<ip> <sym> (<dso>)`. */
export function parseFrame(line: string): Frame | undefined {
  const m = /^\s*[0-9a-f]+ (.*) \((.*)\)$/.exec(line)
  return m ? { sym: m[1]!, dso: m[2]! } : undefined
}

export interface PerfBreakdown {
  title: string
  /** Requests (or frames) served while sampled. */
  requests: number
  samples: number
  /** CPU per request by part, µs (all parts sum to `totalUs`): see `scaledTo`. */
  parts: Record<Part, number>
  totalUs: number
}

/** Counts samples per part from `perf script` output (samples separated by blank lines). */
export async function countParts(lines: AsyncIterable<string>): Promise<Map<Part, number>> {
  const counts = new Map<Part, number>()
  let stack: Frame[] = []
  const flush = () => {
    if (stack.length) counts.set(partOf(stack), (counts.get(partOf(stack)) ?? 0) + 1)
    stack = []
  }
  for await (const line of lines) {
    if (!line.trim()) {
      flush()
      continue
    }
    const frame = parseFrame(line)
    if (frame) stack.push(frame)
  }
  flush()
  return counts
}

export function breakdown(title: string, counts: Map<Part, number>, requests: number): PerfBreakdown {
  const samples = [...counts.values()].reduce((a, b) => a + b, 0)
  const perRequest = (n: number) => (requests > 0 ? (n * PERIOD_NS) / 1000 / requests : 0)
  const parts = Object.fromEntries(PARTS.map((p) => [p, round(perRequest(counts.get(p) ?? 0), 2)])) as Record<
    Part,
    number
  >
  return { title, requests, samples, parts, totalUs: round(perRequest(samples), 2) }
}

/**
 * The same shares of a CPU per request measured without perf (the bench's rounds): sampling
 * inflates what it measures, and the machine's speed can change between two runs.
 */
export function scaledTo(b: PerfBreakdown, totalUs: number): PerfBreakdown {
  const k = b.totalUs > 0 ? totalUs / b.totalUs : 0
  const parts = Object.fromEntries(PARTS.map((p) => [p, round(b.parts[p] * k, 2)])) as Record<Part, number>
  return { ...b, parts, totalUs: round(totalUs, 2) }
}

let probed: string | null | undefined

/** Why perf cannot be used here, or null when it can (it must sample the kernel too). Probed once. */
export function perfUnavailable(): string | null {
  if (probed === undefined) probed = probePerf()
  return probed
}

function probePerf(): string | null {
  // Not allowed to sample the kernel, perf leaves it out and says so only in a warning:
  // every kernel part would read 0 and the user-space parts would take all the CPU.
  let paranoid = 2
  try {
    paranoid = Number(readFileSync('/proc/sys/kernel/perf_event_paranoid', 'utf8').trim())
  } catch {
    return 'no /proc/sys/kernel/perf_event_paranoid: not Linux, or perf events are not available'
  }
  if (paranoid > 1 && process.getuid?.() !== 0)
    return `perf may not sample the kernel here (kernel.perf_event_paranoid is ${paranoid}; run as root or set it to 1)`
  const probe = spawnSync(
    'perf',
    ['record', '-q', '-e', 'cpu-clock', '-c', String(PERIOD_NS), '-g', '-o', '/dev/null', '--', 'true'],
    { encoding: 'utf8', timeout: 20_000 },
  )
  if (probe.error) return `\`perf\` is not installed (Debian: \`apt-get install linux-perf\`)`
  if (probe.status !== 0) return `\`perf record\` failed: ${(probe.stderr || '').trim().split('\n')[0]}`
  return null
}

/** Resolves with the exit code once `child` has exited (null: by a signal); SIGKILL after `timeoutMs`. */
function exited(child: ChildProcess, timeoutMs: number): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode)
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`perf did not finish within ${timeoutMs / 1000} s`))
    }, timeoutMs)
    timer.unref()
    child.once('exit', (code) => {
      clearTimeout(timer)
      resolve(code)
    })
  })
}

export interface PerfRecording {
  /** Stops sampling and breaks the CPU down over `requests` requests (or frames). */
  stop(requests: number): Promise<PerfBreakdown>
}

/** Starts sampling process `pid` (every thread, kernel included). */
export async function startPerf(title: string, pid: number): Promise<PerfRecording> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'bench-perf-'))
  const file = path.join(dir, 'perf.data')
  let stderr = ''
  let failed: Error | undefined
  const rec = spawn(
    'perf',
    ['record', '-q', '-e', 'cpu-clock', '-c', String(PERIOD_NS), '-g', '-p', String(pid), '-o', file],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  )
  rec.on('error', (e) => {
    failed = e
  })
  rec.stderr?.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-2000)
  })
  // perf attaches to every thread of the process before it samples.
  await new Promise((resolve) => setTimeout(resolve, 300))
  return {
    async stop(requests) {
      try {
        if (!failed) {
          rec.kill('SIGINT')
          await exited(rec, 30_000)
        }
        if (failed) throw new Error(`perf record failed for ${title}: ${failed.message}`)
        const script = spawn('perf', ['script', '-i', file, '-F', 'ip,sym,dso'], {
          stdio: ['ignore', 'pipe', 'ignore'],
        })
        let scriptFailed: Error | undefined
        script.on('error', (e) => {
          scriptFailed = e
        })
        const counts = await countParts(createInterface({ input: script.stdout! }))
        const code = scriptFailed ? null : await exited(script, 120_000)
        if (scriptFailed || code !== 0 || counts.size === 0)
          throw new Error(
            `perf gave no samples for ${title}${scriptFailed ? `: ${scriptFailed.message}` : stderr ? `: ${stderr.trim()}` : ''}`,
          )
        return breakdown(title, counts, requests)
      } finally {
        await rm(dir, { recursive: true, force: true })
      }
    },
  }
}

/**
 * Samples process `pid` (every thread) while `work` runs, then breaks its CPU down per
 * request. `work` returns how many requests (or frames) it had served.
 */
export async function perfDuring(
  title: string,
  pid: number,
  work: () => Promise<number>,
): Promise<PerfBreakdown> {
  const recording = await startPerf(title, pid)
  let requests: number
  try {
    requests = await work()
  } catch (e) {
    await recording.stop(0).catch(() => undefined)
    throw e
  }
  return recording.stop(requests)
}

/** The parts where `a` spends more than `b` per request, largest first, as text. */
export function gapText(a: PerfBreakdown, b: PerfBreakdown, min = 0.5): string {
  return PARTS.map((p) => [p, a.parts[p] - b.parts[p]] as const)
    .filter(([, d]) => Math.abs(d) >= min)
    .sort((x, y) => y[1] - x[1])
    .map(([p, d]) => `${p} ${d > 0 ? '+' : '−'}${round(Math.abs(d), 1)} µs`)
    .join(', ')
}

/** A perf breakdown as figures: CPU per request (or frame) by part, against a baseline's. */
export function perfFigures(what: string, cand: PerfBreakdown, base: PerfBreakdown, note: string): Figure[] {
  const row = (part: string, a: number, b: number): Figure => ({
    name: `${what} over sockets (perf, kernel included), ${part}`,
    unit: 'µs',
    candidate: a,
    baseline: b,
    ratio: b > 0 ? round(a / b, 3) : Number.NaN,
    note,
  })
  return [
    row('total', cand.totalUs, base.totalUs),
    ...PARTS.filter((p) => cand.parts[p] > 0 || base.parts[p] > 0).map((p) =>
      row(p, cand.parts[p], base.parts[p]),
    ),
  ]
}
