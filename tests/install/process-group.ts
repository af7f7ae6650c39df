import { type ChildProcess, spawn } from 'node:child_process'
import { groupProcesses } from '../../scripts/proc-group.ts'

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
    alive: () => (groupProcesses(child.pid as number) ?? []).filter((p) => p.state !== 'Z').map((p) => p.pid),
  }
}

/**
 * This process's env without what would leak into a command run as a user runs it (vitest's,
 * the package runner's of this run, the mocks' own settings), quiet and non-interactive, plus `extra`.
 */
export function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {}
  for (const [k, v] of Object.entries(process.env)) {
    if (/^(VITEST|MOCKS_|npm_|PNPM_SCRIPT|NODE_OPTIONS$|NODE_ENV$|TEST$|FORCE_COLOR$)/.test(k)) continue
    env[k] = v
  }
  return { ...env, CI: '1', NO_COLOR: '1', npm_config_update_notifier: 'false', ...extra }
}
