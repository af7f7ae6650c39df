import { type ChildProcess, spawn } from 'node:child_process'
import { createServer } from 'node:net'

// A long-running command started as a terminal's foreground job: in its own process group, so
// Ctrl-C (SIGINT to the group) reaches it and whatever it started, as a user's would.

export interface GroupProcess {
  readonly child: ChildProcess
  /** stdout and stderr so far, in the order they came. */
  output(): string
  /** Its exit code (null when a signal ended it). */
  readonly exited: Promise<number | null>
  /** Ctrl-C: SIGINT to the whole process group, if it still runs. */
  interrupt(): void
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
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
  return {
    child,
    output: () => out,
    exited,
    interrupt() {
      if (child.exitCode === null) process.kill(-(child.pid as number), 'SIGINT')
    },
  }
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
