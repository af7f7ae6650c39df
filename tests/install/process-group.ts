import { type ChildProcess, spawn } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import { createServer } from 'node:net'

// A long-running command started as a terminal's foreground job: in its own process group, so
// Ctrl-C (SIGINT to the group) reaches it and whatever it started, as a user's would.

export interface GroupProcess {
  readonly child: ChildProcess
  /** stdout and stderr so far, in the order they came. */
  output(): string
  /** Its exit code (null when a signal ended it). */
  readonly exited: Promise<number | null>
  /** The signal that ended it (null when it exited with a code). */
  readonly signal: Promise<NodeJS.Signals | null>
  /** Ctrl-C: SIGINT to the whole process group, if it still runs. */
  interrupt(): void
  /** Processes of its group still alive (zombies, whose ports are closed, not counted). */
  alive(): number[]
}

export function spawnGroup(
  command: string,
  args: readonly string[],
  opts: { cwd: string; env: NodeJS.ProcessEnv },
): GroupProcess {
  const child = spawn(command, args, {
    cwd: opts.cwd,
    env: opts.env,
    detached: true, // its own process group
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let out = ''
  child.stdout?.on('data', (d) => {
    out += d
  })
  child.stderr?.on('data', (d) => {
    out += d
  })
  const exit = new Promise<[number | null, NodeJS.Signals | null]>((resolve) =>
    child.once('exit', (code, signal) => resolve([code, signal])),
  )
  return {
    child,
    output: () => out,
    exited: exit.then(([code]) => code),
    signal: exit.then(([, signal]) => signal),
    interrupt() {
      if (child.exitCode === null && child.signalCode === null) process.kill(-(child.pid as number), 'SIGINT')
    },
    alive: () => liveInGroup(child.pid as number),
  }
}

/** Pids of the live (not zombie) processes in a process group, from /proc (Linux). */
export function liveInGroup(pgid: number): number[] {
  const pids: number[] = []
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue
    let stat: string
    try {
      stat = readFileSync(`/proc/${name}/stat`, 'utf8')
    } catch {
      continue // ended meanwhile
    }
    // `pid (comm) state ppid pgrp ...`; comm may hold spaces and parentheses.
    const [state, , pgrp] = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    if (Number(pgrp) === pgid && state !== 'Z') pids.push(Number(name))
  }
  return pids
}

/** `n` distinct free ports on 127.0.0.1 (each bound, read, released). */
export function freePorts(n: number): Promise<number[]> {
  return Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<number>((resolve) => {
          const srv = createServer()
          srv.listen(0, '127.0.0.1', () => {
            const { port } = srv.address() as { port: number }
            srv.close(() => resolve(port))
          })
        }),
    ),
  )
}
