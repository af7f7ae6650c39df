import { type ChildProcess, spawn } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { PORT_ENV } from '../mocks/runtime/config.ts'
import { buildBundle } from '../scripts/build.ts'
import type { Benchmark, Ctx } from './context.ts'
import { ROOT } from './machine.ts'
import { answers200, freePorts, sleep } from './net.ts'
import type { Figure } from './report.ts'
import { median, pairedRatio, round } from './stats.ts'

// 2. Cold start: from spawning the process to every fake and the control plane answering
// `GET /__mocks/health` with 200, on free high ports. The production bundle (`pnpm start`),
// built first by this run, and the dev path (`pnpm dev:mocks`: tsx) against a bare Node http
// server started with `node -e` and polled the same way. Runs rotate the order.

const BARE = "require('node:http').createServer((q,s)=>s.end('ok')).listen(+process.env.PORT,'127.0.0.1')"
const POLL_MS = 5

interface Started {
  child: ChildProcess
  stderr: () => string
}

/** Process groups started here and not yet stopped: killed if the run itself exits (Ctrl-C). */
const live = new Set<number>()
process.on('exit', () => {
  for (const pgid of live) {
    try {
      process.kill(-pgid, 'SIGKILL')
    } catch {
      // already gone
    }
  }
})

function launch(cmd: string, args: string[], env: Record<string, string>): Started {
  // Own process group, so tsx's inner node goes with it.
  const child = spawn(cmd, args, {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
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
  return { child, stderr: () => stderr }
}

async function stop({ child }: Started): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  try {
    process.kill(-child.pid!, 'SIGTERM')
  } catch {
    child.kill('SIGTERM')
  }
  const timer = setTimeout(() => {
    try {
      process.kill(-child.pid!, 'SIGKILL')
    } catch {
      // already gone
    }
  }, 5000)
  await gone
  clearTimeout(timer)
}

/** Fields of /proc/<pid>/stat after the command name (Linux). */
function statFields(pid: string): string[] | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return text.slice(text.lastIndexOf(')') + 2).split(' ')
  } catch {
    return undefined
  }
}

/**
 * CPU time (user + system, ms) used so far by a process group: the process and, for tsx, the
 * node it spawns. Less sensitive than wall time to other work on a shared machine. Linux only.
 */
function groupCpuMs(pgid: number): number | undefined {
  let ticks = 0
  let found = false
  let pids: string[]
  try {
    pids = readdirSync('/proc').filter((d) => /^\d+$/.test(d))
  } catch {
    return undefined
  }
  for (const pid of pids) {
    const f = statFields(pid)
    // After the name: state(0) ppid(1) pgrp(2) ... utime(11) stime(12)
    if (!f || Number(f[2]) !== pgid) continue
    found = true
    ticks += Number(f[11]) + Number(f[12])
  }
  return found ? ticks * CLOCK_TICK_MS : undefined
}

/** USER_HZ is 100 on Linux (sysconf(_SC_CLK_TCK)). */
const CLOCK_TICK_MS = 10

interface Start {
  ms: number
  cpuMs: number | undefined
}

/** ms from spawn until every URL has answered 200 once, and the CPU the process group used. */
async function timeToHealthy(
  cmd: string,
  args: string[],
  env: Record<string, string>,
  urls: string[],
): Promise<Start> {
  const started = performance.now()
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
    return { ms: performance.now() - started, cpuMs: groupCpuMs(proc.child.pid!) }
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

async function mocksStart(args: string[]): Promise<Start> {
  // One port per registered fake plus the control plane (PORT_ENV derives from the registry).
  const ports = await freePorts(Object.keys(PORT_ENV).length)
  const env: Record<string, string> = { MOCKS_SCENARIO: 'default' }
  Object.values(PORT_ENV).forEach((name, i) => {
    env[name] = String(ports[i])
  })
  const urls = ports.map((p) => `http://127.0.0.1:${p}/__mocks/health`)
  return timeToHealthy(args[0]!, args.slice(1), env, urls)
}

async function bareStart(): Promise<Start> {
  const [port] = await freePorts(1)
  return timeToHealthy(process.execPath, ['-e', BARE], { PORT: String(port) }, [`http://127.0.0.1:${port}/`])
}

export const coldStartBenchmark: Benchmark = {
  id: 'coldstart',
  ownProcesses: () => true,
  async run(ctx: Ctx) {
    const { runs, modes, bundleOutfile } = ctx.opts.coldStart
    const commands: Record<'bundle' | 'tsx', string[]> = {
      bundle: [process.execPath, '--enable-source-maps', path.resolve(ROOT, bundleOutfile), 'start'],
      tsx: [path.join(ROOT, 'node_modules', '.bin', 'tsx'), 'mocks/cli/index.ts', 'start'],
    }
    let buildMs: number | undefined
    if (modes.includes('bundle')) {
      ctx.log(`coldstart: building ${bundleOutfile}`)
      const started = performance.now()
      await buildBundle({ outfile: bundleOutfile })
      buildMs = performance.now() - started
    }
    const samples: Record<string, number[]> = { bare: [] }
    const cpu: Record<string, number[]> = { bare: [] }
    for (const m of modes) {
      samples[m] = []
      cpu[m] = []
    }
    const order = ['bare', ...modes]
    for (let i = 0; i < runs; i++) {
      ctx.log(`coldstart: run ${i + 1}`)
      // Rotate which goes first: the machine's state drifts.
      for (let k = 0; k < order.length; k++) {
        const which = order[(i + k) % order.length]!
        const start = await withFreshPorts(() =>
          which === 'bare' ? bareStart() : mocksStart(commands[which as 'bundle' | 'tsx']),
        )
        samples[which]!.push(start.ms)
        if (start.cpuMs !== undefined) cpu[which]!.push(start.cpuMs)
      }
    }
    const bare = median(samples.bare!)
    const label = (m: string) =>
      m === 'bundle' ? 'cold start, production bundle (pnpm start)' : 'cold start, tsx (pnpm dev:mocks)'
    const figures: Figure[] = modes.flatMap((m) => [
      {
        name: label(m),
        unit: 'ms',
        candidate: median(samples[m]!),
        baseline: bare,
        ratio: pairedRatio(samples[m]!, samples.bare!),
        rounds: { candidate: samples[m]!, baseline: samples.bare! },
      },
      ...(cpu[m]!.length && cpu.bare!.length
        ? [
            {
              name: `${label(m)}, CPU time until healthy`,
              unit: 'ms',
              candidate: median(cpu[m]!),
              baseline: median(cpu.bare!),
              ratio: pairedRatio(cpu[m]!, cpu.bare!),
              rounds: { candidate: cpu[m]!, baseline: cpu.bare! },
              note: 'user + system of the process group, 10 ms ticks',
            },
          ]
        : []),
    ])
    const judged = modes.includes('bundle') ? 'bundle' : modes[0]!
    const judgedMs = median(samples[judged]!)
    return {
      id: 'coldstart',
      title: 'Cold start',
      method: [
        'From `spawn()` to every fake (auth, chat, media, v01t) and the control plane answering',
        '`GET /__mocks/health` with 200, each port polled every 5 ms (fresh connection per poll) on free high ports',
        `(MOCKS_*_PORT), scenario \`default\`; median of ${runs}. Bundle: \`node --enable-source-maps ${bundleOutfile} start\``,
        `(built by this run with scripts/build.ts${buildMs === undefined ? '' : `, ${Math.round(buildMs)} ms`}); tsx: \`tsx mocks/cli/index.ts start\`.`,
        'Baseline: `node -e` starting a bare http server on one port, polled the same way. Runs rotate the order.',
      ].join(' '),
      figures,
      targets: [
        {
          id: 'cold-start',
          text: 'cold start of every fake and the control plane < 1 s',
          observed: `median ${Math.round(judgedMs)} ms (${judged}; bare node ${round(bare, 0)} ms)`,
          met: judgedMs < 1000,
        },
      ],
      notes: [],
    }
  },
}
