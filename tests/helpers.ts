import { type ChildProcess, spawn } from 'node:child_process'
import { readdirSync } from 'node:fs'
import { connect } from 'node:net'
import { join } from 'node:path'
import type { FakeDescriptor } from '../mocks/fake/descriptor.ts'
import { usersForControl } from '../mocks/fake/seeded.ts'
import { FAKES } from '../mocks/registry.ts'
import { loadConfig, type ServiceName } from '../mocks/runtime/config.ts'
import { type Mocks, startMocks } from '../mocks/runtime/runtime.ts'

// Boots real servers on ephemeral 127.0.0.1 ports for socket-level tests.

export interface TestMocks {
  mocks: Mocks
  url(service: ServiceName): string
  controlUrl: string
  /** `better-auth.session_token=<signed>` for a seeded user, by id or role. */
  cookieFor(userIdOrRole: string): string
  /** The signed cookie value alone (for `?token=`). */
  tokenFor(userIdOrRole: string): string
  close(): Promise<void>
}

export async function startTestMocks(
  opts: {
    services?: ServiceName[]
    scenario?: string
    env?: Record<string, string>
    /** The fakes known (default the registry); `services` picks which of them run. */
    fakes?: readonly FakeDescriptor[]
  } = {},
): Promise<TestMocks> {
  const fakes = opts.fakes ?? FAKES
  const config = loadConfig({ MOCKS_SCENARIO: opts.scenario ?? 'default', ...opts.env }, undefined, fakes)
  const mocks = await startMocks({
    config,
    fakes,
    ...(opts.services ? { only: opts.services } : {}),
    ephemeralPorts: true,
  })
  const user = (key: string) => {
    const users = usersForControl(mocks.scenario, config.betterAuthSecret)
    const u = users.find((x) => x.id === key) ?? users.find((x) => x.role === key && !x.banned)
    if (!u?.cookieValue) throw new Error(`no seeded user with a session for "${key}"`)
    return u
  }
  return {
    mocks,
    url(service) {
      const u = mocks.url(service)
      if (!u) throw new Error(`${service} is not running in this test`)
      return u
    },
    controlUrl: mocks.control?.url ?? '',
    cookieFor: (key) => `${user(key).cookieName}=${user(key).cookieValue}`,
    tokenFor: (key) => user(key).cookieValue!,
    close: () => mocks.close(),
  }
}

/** Opens a fresh TCP connection: 'connected' or the error code (no pooled sockets involved). */
export function connectResult(url: string): Promise<string> {
  const u = new URL(url)
  return new Promise((resolve) => {
    const sock = connect(Number(u.port), u.hostname, () => {
      sock.destroy()
      resolve('connected')
    })
    sock.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message))
  })
}

/**
 * File names stored under STORAGE_PATH, sorted: its own files and those in the media states'
 * folders (`state-<pid>-<n>/`, one per state), whose names are the uploads' ids or temp files.
 */
export function storedFiles(root: string): string[] {
  return readdirSync(root, { withFileTypes: true })
    .flatMap((e) =>
      e.isDirectory() && /^state-\d+-\d+$/.test(e.name) ? readdirSync(join(root, e.name)) : [e.name],
    )
    .sort()
}

/** Upstash's error when a database is over its request limit (the body of its 429). */
export const UPSTASH_RATE_LIMITED = 'ERR max requests limit exceeded. Limit: 10000, Usage: 10000.'

/** A fault for `mocks.faults.add`: the Upstash fake answers `times` requests as a rate-limited database does. */
export function upstashRateLimit(times: number) {
  return {
    service: 'upstash',
    effect: { type: 'status', status: 429, body: { error: UPSTASH_RATE_LIMITED } },
    times,
  }
}

/**
 * A command run as a terminal runs a job: in a process group of its own (a signal to the group
 * reaches every process in it), its stdout and stderr handed to `sink` as they come.
 */
export function spawnJob(
  command: string,
  args: string[],
  opts: { env: NodeJS.ProcessEnv; cwd: string },
  sink: (text: string) => void,
): ChildProcess {
  const child = spawn(command, args, { ...opts, stdio: ['ignore', 'pipe', 'pipe'], detached: true })
  child.stdout?.on('data', (d: Buffer) => sink(d.toString()))
  child.stderr?.on('data', (d: Buffer) => sink(d.toString()))
  return child
}
