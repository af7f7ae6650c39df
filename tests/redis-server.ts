import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { Redis } from 'ioredis'
import { afterAll, beforeAll } from 'vitest'
import { freePort } from './ports.ts'

// Debian's redis-server for tests: started on a free port with no persistence, stopped after.
// Absent locally, the tests that need it say so and do not run; in CI (CI set) that is an error,
// since .ci/run installs it.

export function hasRedisServer(): boolean {
  try {
    execFileSync('redis-server', ['--version'], { stdio: 'ignore' })
  } catch {
    const why = 'redis-server is not installed (apt-get install -y redis-server): real-Redis tests NOT run'
    if (process.env.CI) throw new Error(why)
    console.warn(why)
    return false
  }
  return true
}

export interface RedisServer {
  url: string
  port: number
  /** SIGTERM by default; SIGKILL for a crash (nothing written after the last fsync). */
  stop(signal?: NodeJS.Signals): void
  /** Resolves once the process has exited. */
  exited: Promise<void>
}

export interface RedisServerOptions {
  /** `appendonly yes` + `appendfsync always` in this folder (replicas: an answered write is on disk). */
  persistDir?: string
  /** A given port (a restart on the same one); default a free one. */
  port?: number
}

export async function startRedisServer(opts: RedisServerOptions = {}): Promise<RedisServer> {
  const port = opts.port ?? (await freePort())
  const url = `redis://127.0.0.1:${port}`
  const persistence = opts.persistDir
    ? ['--appendonly', 'yes', '--appendfsync', 'always', '--dir', opts.persistDir]
    : ['--appendonly', 'no']
  const child: ChildProcess = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', ...persistence],
    { stdio: 'ignore' },
  )
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  const probe = new Redis(url, { lazyConnect: true, retryStrategy: () => 50, maxRetriesPerRequest: null })
  probe.on('error', () => undefined) // refused until the server listens
  const deadline = Date.now() + 10_000
  try {
    for (;;) {
      try {
        await probe.connect().catch(() => undefined)
        if ((await probe.ping()) === 'PONG') break
      } catch (err) {
        if (Date.now() > deadline) throw err
        await new Promise((r) => setTimeout(r, 50))
      }
    }
  } finally {
    probe.disconnect()
  }
  return { url, port, stop: (signal = 'SIGTERM') => child.kill(signal), exited }
}

/**
 * A redis-server for the enclosing `describe`: started before its tests, stopped (and awaited)
 * after them, once the describe's own later `afterAll`s have run (hooks unwind as a stack).
 * Read `url` and `port` from a hook or a test.
 */
export function useRedisServer(opts: RedisServerOptions = {}): Pick<RedisServer, 'url' | 'port'> {
  let server: RedisServer | undefined
  beforeAll(async () => {
    server = await startRedisServer(opts)
  })
  afterAll(async () => {
    server?.stop()
    await server?.exited
  })
  const started = () => {
    if (!server)
      throw new Error('useRedisServer: read before the server started (use it in a hook or a test)')
    return server
  }
  return {
    get url() {
      return started().url
    },
    get port() {
      return started().port
    },
  }
}
