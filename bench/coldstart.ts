import { type ChildProcess, spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import path from 'node:path'
import type { StartupTiming } from '../mocks/core/startup.ts'
import { FAKES } from '../mocks/registry.ts'
import { PORT_ENV } from '../mocks/runtime/config.ts'
import { BUNDLE_OUTFILE, buildBundle } from '../scripts/build.ts'
import { groupProcesses } from '../scripts/proc-group.ts'
import type { Benchmark, Ctx } from './context.ts'
import { ROOT } from './machine.ts'
import { answers200, freePorts, sleep } from './net.ts'
import type { Figure } from './report.ts'
import { median, pairedRatio, round, roundOrder } from './stats.ts'

// 2. Cold start: from spawning the process to every fake and the control plane answering
// `GET /__mocks/health` with 200, on free high ports. `pnpm dev:mocks` itself (pnpm's own start
// included), the production bundle with node (`pnpm start`), and the sources under tsx,
// against a bare Node http server started with `node -e` and polled the same way. Runs vary
// the order (rotated and reversed, as the REST rounds). Where the time goes comes from the
// process: it logs its start-up marks at debug level (mocks/core/startup.ts), and the spawn
// instant is compared with its timeOrigin.

const BARE = "require('node:http').createServer((q,s)=>s.end('ok')).listen(+process.env.PORT,'127.0.0.1')"
const POLL_MS = 5

interface Started {
  child: ChildProcess
  stderr: () => string
  stdout: () => string
}

/** Process groups started here and not yet stopped: killed if the run itself exits (Ctrl-C). */
const live = new Set<number>()
process.on('exit', () => {
  for (const pgid of live) signalGroup(pgid, 'SIGKILL')
})

/** A signal to a whole process group: false when the group is already gone. */
function signalGroup(pgid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(-pgid, signal)
    return true
  } catch {
    return false
  }
}

function launch(cmd: string, args: string[], env: Record<string, string>): Started {
  // Own process group, so tsx's inner node goes with it.
  const child = spawn(cmd, args, {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  })
  if (child.pid) live.add(child.pid)
  child.once('exit', () => {
    if (child.pid) live.delete(child.pid)
  })
  let stderr = ''
  child.stderr?.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-4000)
  })
  // Kept whole until the start-up timing line is in (the banner is a few KB).
  let stdout = ''
  child.stdout?.on('data', (d: Buffer) => {
    if (stdout.length < 200_000) stdout += d.toString()
  })
  return { child, stderr: () => stderr, stdout: () => stdout }
}

async function stop({ child }: Started): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  if (!signalGroup(child.pid!, 'SIGTERM')) child.kill('SIGTERM')
  const timer = setTimeout(() => signalGroup(child.pid!, 'SIGKILL'), 5000)
  await gone
  clearTimeout(timer)
}

/**
 * CPU time (user + system, ms) used so far by a process group: the process and, for tsx, the
 * node it spawns. Less sensitive than wall time to other work on a shared machine. Linux only.
 */
function groupCpuMs(pgid: number): number | undefined {
  const group = groupProcesses(pgid)
  if (!group?.length) return undefined
  return group.reduce((ticks, p) => ticks + p.utime + p.stime, 0) * CLOCK_TICK_MS
}

/** Resident memory (MiB) of every process in a group (pnpm, its shell, node). Linux only. */
function groupRssMiB(pgid: number): number | undefined {
  let kib = 0
  let found = false
  for (const { pid } of groupProcesses(pgid) ?? []) {
    try {
      const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
      if (m) {
        kib += Number(m[1])
        found = true
      }
    } catch {
      // gone meanwhile
    }
  }
  return found ? kib / 1024 : undefined
}

/** USER_HZ is 100 on Linux (sysconf(_SC_CLK_TCK)). */
const CLOCK_TICK_MS = 10

interface Start {
  ms: number
  cpuMs: number | undefined
  /** The process tree's resident memory once idle (IDLE_MS after healthy). */
  rssMiB?: number | undefined
  /** Phases of the start, ms, from the process's own marks (mocks only). */
  phases?: Record<string, number>
}

const IDLE_MS = 1000

/** ms from spawn until every URL has answered 200 once, and the CPU the process group used. */
async function timeToHealthy(
  cmd: string,
  args: string[],
  env: Record<string, string>,
  urls: string[],
  more?: { timing: boolean },
): Promise<Start> {
  const started = performance.now()
  const spawnedAt = performance.timeOrigin + started
  const proc = launch(cmd, args, env)
  try {
    const pending = new Set(urls)
    while (pending.size) {
      if (proc.child.exitCode !== null)
        throw new Error(`${cmd} ${args.join(' ')} exited early:\n${proc.stderr()}`)
      if (performance.now() - started > 30_000) throw new Error(`${args.join(' ')}: not healthy within 30 s`)
      const ok = await Promise.all([...pending].map(async (u) => [u, await answers200(u)] as const))
      for (const [u, good] of ok) if (good) pending.delete(u)
      if (pending.size) await sleep(POLL_MS)
    }
    const ms = performance.now() - started
    const cpuMs = groupCpuMs(proc.child.pid!)
    if (!more?.timing) return { ms, cpuMs }
    await sleep(IDLE_MS)
    const rssMiB = groupRssMiB(proc.child.pid!)
    const line = proc
      .stdout()
      .split('\n')
      .find((l) => l.includes('"start-up timing"'))
    if (!line) throw new Error(`${args.join(' ')}: no start-up timing line (MOCKS_LOG_LEVEL=debug)`)
    const timing = (JSON.parse(line) as { startup: StartupTiming }).startup
    return { ms, cpuMs, rssMiB, phases: phasesOf(timing, spawnedAt, ms) }
  } finally {
    await stop(proc)
  }
}

/** Free ports are released before the child binds them: another process may take one first. */
async function withFreshPorts(start: () => Promise<Start>): Promise<Start> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await start()
    } catch (err) {
      if (attempt >= 3 || !/already in use|EADDRINUSE/.test((err as Error).message)) throw err
    }
  }
}

/** The phases of one start, in order: [key, label]. Marks are those of mocks/core/startup.ts. */
export const PHASES: [string, string][] = [
  ['launch', 'spawn until the node process begins (pnpm, its shell, exec)'],
  ['node', "Node's own start (bootstrapComplete)"],
  ['entry', 'until the entry runs: launcher (stale check), loader, bundle compile, external packages'],
  ['modules', "module graph: evaluating the CLI's imports (registry, fakes, runtime, demo)"],
  ['config', 'config from env'],
  ['fakes', 'creating the fakes (apps, routes, control slices)'],
  [
    'scenario',
    'loading the default scenario (YAML, its parsed value cached by text; schema checks; extends)',
  ],
  ['seeding', 'seeding every fake (each one: seed <fake>)'],
  ['listen', 'fakes listening'],
  ['control', 'control plane and demo: created and listening'],
  ['banner', 'banner and scenario-file watch'],
  ['seen', 'last port seen answering by the bench after ready (polling every 5 ms)'],
]

/** Start-up marks -> ms per phase (and per fake's seeding, measured from the parsed scenario). */
function phasesOf(t: StartupTiming, spawnedAt: number, totalMs: number): Record<string, number> {
  const m = t.marks
  const at = (k: string) => m[k] ?? Number.NaN
  const controlEnd = m['control-listening'] ?? at('fakes-listening')
  const out: Record<string, number> = {
    launch: t.timeOrigin - spawnedAt,
    node: t.node.bootstrapComplete,
    entry: at('entry') - t.node.bootstrapComplete,
    modules: at('modules') - at('entry'),
    config: at('config') - at('modules'),
    fakes: at('fakes-created') - at('config'),
    scenario: at('scenario-parsed') - at('fakes-created'),
    seeding: at('seeded') - at('scenario-parsed'),
    listen: at('fakes-listening') - at('seeded'),
    control: controlEnd - at('fakes-listening'),
    banner: at('ready') - controlEnd,
    seen: totalMs - (t.timeOrigin + at('ready') - spawnedAt),
  }
  for (const [k, v] of Object.entries(m))
    if (k.startsWith('seeded:')) out[`seed:${k.slice('seeded:'.length)}`] = v - at('scenario-parsed')
  return out
}

async function mocksStart(args: string[]): Promise<Start> {
  // One port per registered fake plus the control plane (PORT_ENV derives from the registry).
  const names = Object.values(PORT_ENV)
  const ports = await freePorts(names.length)
  // JSON logs at debug level: the start-up timing line is read from stdout.
  const env: Record<string, string> = {
    MOCKS_SCENARIO: 'default',
    MOCKS_LOG_LEVEL: 'debug',
    MOCKS_LOG_FORMAT: 'json',
  }
  names.forEach((name, i) => {
    env[name] = String(ports[i])
  })
  // A TCP fake (db) answers no HTTP health: its listener is up once the control plane says so.
  const tcp = new Set(FAKES.filter((f) => f.transport === 'tcp').map((f) => f.portEnv))
  const urls = names.flatMap((name, i) =>
    tcp.has(name) ? [] : [`http://127.0.0.1:${ports[i]}/__mocks/health`],
  )
  return timeToHealthy(args[0]!, args.slice(1), env, urls, { timing: true })
}

async function bareStart(): Promise<Start> {
  const [port] = await freePorts(1)
  return timeToHealthy(process.execPath, ['-e', BARE], { PORT: String(port) }, [`http://127.0.0.1:${port}/`])
}

type Mode = 'dev' | 'bundle' | 'tsx'

const LABELS: Record<Mode, string> = {
  dev: 'cold start, pnpm dev:mocks',
  bundle: 'cold start, production bundle (node dist/mocks.mjs start)',
  tsx: 'cold start, sources under tsx',
}

export const coldStartBenchmark: Benchmark = {
  id: 'coldstart',
  ownProcesses: () => true,
  async run(ctx: Ctx) {
    const { runs, modes, bundleOutfile } = ctx.opts.coldStart
    const commands: Record<Mode, string[]> = {
      // The command itself, as a developer and Playwright's webServer start it.
      dev: ['pnpm', 'dev:mocks'],
      bundle: [process.execPath, path.resolve(ROOT, bundleOutfile), 'start'],
      tsx: [path.join(ROOT, 'node_modules', '.bin', 'tsx'), 'mocks/cli/index.ts', 'start'],
    }
    // The one-time build of set-up, not counted: the bundle under test, and dev:mocks's own.
    const builds: Record<string, number> = {}
    for (const outfile of new Set([
      ...(modes.includes('bundle') ? [bundleOutfile] : []),
      ...(modes.includes('dev') ? [BUNDLE_OUTFILE] : []),
    ])) {
      ctx.log(`coldstart: building ${outfile}`)
      const started = performance.now()
      await buildBundle({ outfile })
      builds[outfile] = performance.now() - started
    }
    const samples: Record<string, number[]> = { bare: [] }
    const cpu: Record<string, number[]> = { bare: [] }
    const rss: Record<string, number[]> = {}
    const phases: Record<string, Record<string, number[]>> = {}
    for (const m of modes) {
      samples[m] = []
      cpu[m] = []
      rss[m] = []
      phases[m] = {}
    }
    // An untimed start of each: fills the thumbnail cache and the OS file cache as set-up would.
    for (const m of modes) await withFreshPorts(() => mocksStart(commands[m]))
    const blocks: ('bare' | Mode)[] = ['bare', ...modes]
    for (let i = 0; i < runs; i++) {
      ctx.log(`coldstart: run ${i + 1}`)
      // Vary which goes first and what follows what: the machine's state drifts.
      for (const which of roundOrder(blocks, i)) {
        const start = await withFreshPorts(() =>
          which === 'bare' ? bareStart() : mocksStart(commands[which]),
        )
        samples[which]!.push(start.ms)
        if (start.cpuMs !== undefined) cpu[which]!.push(start.cpuMs)
        if (start.rssMiB !== undefined) rss[which]!.push(start.rssMiB)
        for (const [phase, ms] of Object.entries(start.phases ?? {})) {
          const list = phases[which]![phase] ?? []
          list.push(ms)
          phases[which]![phase] = list
        }
      }
    }
    const bare = median(samples.bare!)
    const figures: Figure[] = modes.flatMap((m) => [
      {
        name: LABELS[m],
        unit: 'ms',
        candidate: median(samples[m]!),
        baseline: bare,
        ratio: pairedRatio(samples[m]!, samples.bare!),
        rounds: { candidate: samples[m]!, baseline: samples.bare! },
      },
      ...(cpu[m]!.length && cpu.bare!.length
        ? [
            {
              name: `${LABELS[m]}, CPU time until healthy`,
              unit: 'ms',
              candidate: median(cpu[m]!),
              baseline: median(cpu.bare!),
              ratio: pairedRatio(cpu[m]!, cpu.bare!),
              rounds: { candidate: cpu[m]!, baseline: cpu.bare! },
              note: 'user + system of the process group, 10 ms ticks',
            },
          ]
        : []),
      ...(rss[m]!.length
        ? [
            {
              name: `${LABELS[m]}, idle RSS of the process tree`,
              unit: 'MiB',
              candidate: median(rss[m]!),
              rounds: { candidate: rss[m]! },
              note: `every process of the group, ${IDLE_MS} ms after healthy`,
            },
          ]
        : []),
      // Where the time goes: medians of each phase (they need not add up to the median total).
      ...[
        ...PHASES,
        ...Object.keys(phases[m]!)
          .filter((k) => k.startsWith('seed:'))
          .map((k): [string, string] => [k, `${k.slice(5)} seeded (since the scenario was parsed)`]),
      ]
        .filter(([key]) => phases[m]![key]?.length)
        .map(([key, label]) => ({
          name: `${LABELS[m]}: ${label}`,
          unit: 'ms',
          candidate: median(phases[m]![key]!),
          rounds: { candidate: phases[m]![key]!.map((v) => round(v, 1)) },
        })),
    ])
    const judged: Mode = modes.includes('dev') ? 'dev' : modes.includes('bundle') ? 'bundle' : modes[0]!
    const judgedMs = median(samples[judged]!)
    const judgedRss = rss[judged]!.length ? median(rss[judged]!) : undefined
    const buildText = Object.entries(builds)
      .map(([f, ms]) => `${f} in ${Math.round(ms)} ms`)
      .join(', ')
    return {
      id: 'coldstart',
      title: 'Cold start',
      method: [
        'From `spawn()` to every fake and the control plane answering',
        '`GET /__mocks/health` with 200, each port polled every 5 ms (fresh connection per poll) on free high ports',
        `(MOCKS_*_PORT), scenario \`default\`, JSON logs at debug level; median of ${runs}, after one untimed start of each.`,
        '`pnpm dev:mocks`: the command itself, pnpm included (it runs the bundle through scripts/dev.mjs);',
        `bundle: \`node ${bundleOutfile} start\`; tsx: \`tsx mocks/cli/index.ts start\`. Bundles built first by this run${buildText ? ` (${buildText})` : ''}, as set-up does: not counted.`,
        'Phases come from the process: it logs its start-up marks (mocks/core/startup.ts) at debug level; the launch phase',
        "compares the bench's spawn instant with the process's `performance.timeOrigin`. Idle RSS: every process of the tree",
        `${IDLE_MS} ms after healthy. Baseline: \`node -e\` starting a bare http server on one port, polled the same way. Runs vary the order (rotated and reversed, as the REST rounds).`,
      ].join(' '),
      figures,
      targets: [
        {
          id: 'cold-start',
          text: 'pnpm dev:mocks: every fake and the control plane answer < 1 s after launch',
          observed: `median ${Math.round(judgedMs)} ms (${judged}; bare node ${round(bare, 0)} ms)`,
          met: judgedMs < 1000,
        },
        ...(judgedRss === undefined
          ? []
          : [
              {
                id: 'cold-start-rss',
                text: 'pnpm dev:mocks: idle RSS of the whole process tree < 120 MB',
                observed: `median ${round(judgedRss, 1)} MiB (${judged})`,
                met: judgedRss * 1.048576 < 120,
              },
            ]),
      ],
      notes: [],
    }
  },
}
