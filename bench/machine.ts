import { execFileSync } from 'node:child_process'
import os from 'node:os'
import { fileURLToPath } from 'node:url'

export const ROOT = fileURLToPath(new URL('../', import.meta.url))

export interface Machine {
  cpu: string
  cores: number
  memoryGiB: number
  node: string
  os: string
  commit: string
  /** The work tree had uncommitted changes: the figures are for more than the commit. */
  dirty: boolean
  load: number[]
}

function git(args: string[]): string {
  try {
    return execFileSync('git', args, {
      cwd: ROOT,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim()
  } catch {
    return ''
  }
}

export function describeMachine(): Machine {
  const cpus = os.cpus()
  return {
    cpu: cpus[0]?.model.trim() || 'unknown',
    cores: cpus.length,
    memoryGiB: os.totalmem() / 1024 ** 3,
    node: process.version,
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    commit: git(['rev-parse', '--short=12', 'HEAD']) || 'unknown',
    // The reports themselves do not count: an earlier run's BENCHMARKS.md changes no figure.
    dirty: git(['status', '--porcelain', '--', '.', ':!BENCHMARKS.md', ':!RELIABILITY.md']).length > 0,
    load: os.loadavg(),
  }
}
