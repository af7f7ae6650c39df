import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import WebSocket from 'ws'
import { freePort } from './ports.ts'
import { type RedisServer, startRedisServer } from './redis-server.ts'

// Replicas as separate processes (the CLI from sources, tsx as node's loader), each on its own
// free ports, all sharing one Redis: the harness of tests/replicas*.test.ts and bench/replicas.ts.
// Not the tsx command: it relays a signal its child got too (a second copy after 30 ms, then a
// SIGKILL when the child is slow to say it got one), so a stop would not be the one a test sent.

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const CLI = join(ROOT, 'mocks/cli/index.ts')

export const REPLICA_SERVICES = ['auth', 'chat', 'v01t'] as const
/** Services a replica may run (media and db on request: `services`). */
type Service = (typeof REPLICA_SERVICES)[number] | 'media' | 'db'

export interface ReplicaProcess {
  name: string
  ports: Record<Service, number>
  url(service: Service): string
  output(): string
  /** Sends a signal to its process group (SIGSTOP/SIGCONT: a replica stalled). */
  signal(signal: NodeJS.Signals): void
  /** Resolves with its exit status (null: killed by a signal) once it exited by itself or was stopped. */
  exited: Promise<number | null>
  /** SIGTERM to its process group; resolves once it exited. */
  stop(signal?: NodeJS.Signals): Promise<void>
}

export interface ReplicaOptions {
  name: string
  redisUrl: string
  prefix: string
  env?: Record<string, string>
  /** Ports to reuse (a restarted replica); default free ones. */
  ports?: Record<(typeof REPLICA_SERVICES)[number], number> & { media?: number; db?: number }
  /** Its own loopback address (127.0.0.2 ...: replicas behind haproxy share port numbers). */
  host?: string
  /** Without MOCKS_REDIS_URL: one process, the single-world baseline. */
  single?: boolean
  /** The services it runs (default REPLICA_SERVICES). */
  services?: readonly Service[]
}

export async function startReplica(opts: ReplicaOptions): Promise<ReplicaProcess> {
  // A free port taken by another process between our probe and the replica's bind (other test
  // files run meanwhile): new ports, up to three times, when the ports were ours to choose.
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(opts)
    } catch (err) {
      if (opts.ports || attempt >= 3 || !/already in use/.test(String(err))) throw err
    }
  }
}

async function startOnce(opts: ReplicaOptions): Promise<ReplicaProcess> {
  const ports = opts.ports
    ? ({
        ...opts.ports,
        media: opts.ports.media ?? (await freePort()),
        db: opts.ports.db ?? (await freePort()),
      } as Record<Service, number>)
    : ({
        auth: await freePort(),
        chat: await freePort(),
        v01t: await freePort(),
        media: await freePort(),
        db: await freePort(),
      } as Record<Service, number>)
  const services = opts.services ?? REPLICA_SERVICES
  const env: Record<string, string | undefined> = {
    ...process.env,
    ...(opts.single ? {} : { MOCKS_REDIS_URL: opts.redisUrl }),
    MOCKS_REDIS_PREFIX: opts.prefix,
    MOCKS_REPLICA: opts.name,
    MOCKS_AUTH_PORT: String(ports.auth),
    MOCKS_CHAT_PORT: String(ports.chat),
    MOCKS_V01T_PORT: String(ports.v01t),
    MOCKS_MEDIA_PORT: String(ports.media),
    MOCKS_DB_PORT: String(ports.db),
    MOCKS_LOG_LEVEL: 'warn',
    MOCKS_LOG_FORMAT: 'json',
    ...opts.env,
  }
  delete env.MOCKS_CONTROL_URL
  delete env.AUTH_SERVICE_URL
  delete env.MOCKS_HOST
  if (opts.single) delete env.MOCKS_REDIS_URL
  if (opts.host) {
    env.MOCKS_HOST = opts.host
    // Its own better-auth (the derived URL names 127.0.0.1, where a balancer may not be).
    env.AUTH_SERVICE_URL = `http://${opts.host}:${ports.auth}`
  }
  let out = ''
  const child: ChildProcess = spawn(
    process.execPath,
    ['--import', 'tsx', CLI, 'start', '--only', services.join(',')],
    {
      env,
      cwd: ROOT,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  )
  child.stdout?.on('data', (d: Buffer) => {
    out += d.toString()
  })
  child.stderr?.on('data', (d: Buffer) => {
    out += d.toString()
  })
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
  const host = opts.host ?? '127.0.0.1'
  const url = (service: Service) => `http://${host}:${ports[service]}`
  const replica: ReplicaProcess = {
    name: opts.name,
    ports,
    url,
    output: () => out,
    signal(signal) {
      if (child.pid) process.kill(-child.pid, signal)
    },
    exited,
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null && child.pid) {
        try {
          process.kill(-child.pid, signal)
        } catch {
          // already gone
        }
      }
      await exited
    },
  }
  const deadline = Date.now() + 60_000
  for (;;) {
    if (child.exitCode !== null) throw new Error(`replica ${opts.name} exited early:\n${out}`)
    try {
      // The db port is raw TCP (Postgres; Neon's HTTP has no health route): up once it accepts.
      const ok = await Promise.all(
        services.map((s) =>
          s === 'db' ? accepts(host, ports.db) : fetch(`${url(s)}/__mocks/health`).then((r) => r.ok),
        ),
      )
      if (ok.every(Boolean)) return replica
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await replica.stop()
      throw new Error(`replica ${opts.name} did not come up in 60 s:\n${out}`)
    }
    await new Promise((r) => setTimeout(r, 100))
  }
}

function accepts(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, host)
    s.once('connect', () => {
      s.destroy()
      resolve(true)
    })
    s.once('error', () => resolve(false))
  })
}

/** Polls until `check` holds (or throws after `ms`, saying what was awaited). */
export async function eventually<T>(
  what: string,
  check: () => Promise<T | undefined>,
  ms = 2000,
): Promise<T> {
  const until = Date.now() + ms
  let last: unknown
  for (;;) {
    try {
      const v = await check()
      if (v !== undefined && v !== false) return v
    } catch (err) {
      last = err
    }
    if (Date.now() > until) throw new Error(`not within ${ms} ms: ${what}${last ? ` (${String(last)})` : ''}`)
    await new Promise((r) => setTimeout(r, 20))
  }
}

/** A chat socket (`?token=` a signed session cookie value) with the frames it received. */
export interface ChatClient {
  ws: WebSocket
  frames: Record<string, unknown>[]
  send(frame: Record<string, unknown>): void
  /** The first frame (already received or to come) that `match` accepts. */
  next(match: (f: Record<string, unknown>) => boolean, ms?: number): Promise<Record<string, unknown>>
  close(): void
}

export async function chatClient(chatUrl: string, token: string): Promise<ChatClient> {
  const ws = new WebSocket(`${chatUrl.replace('http', 'ws')}/ws?token=${encodeURIComponent(token)}`)
  const frames: Record<string, unknown>[] = []
  const waiters = new Set<() => void>()
  ws.on('message', (data) => {
    frames.push(JSON.parse(String(data)) as Record<string, unknown>)
    for (const w of [...waiters]) w()
  })
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve())
    ws.once('error', reject)
  })
  return {
    ws,
    frames,
    send: (frame) => ws.send(JSON.stringify(frame)),
    next(match, ms = 2000) {
      const found = frames.find(match)
      if (found) return Promise.resolve(found)
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.delete(check)
          reject(new Error(`no matching frame within ${ms} ms; got ${JSON.stringify(frames)}`))
        }, ms)
        const check = () => {
          const f = frames.find(match)
          if (!f) return
          clearTimeout(timer)
          waiters.delete(check)
          resolve(f)
        }
        waiters.add(check)
      })
    },
    close: () => ws.close(),
  }
}

export interface SeededUser {
  id: string
  email: string
  password: string
  cookieName: string
  cookieValue: string | null
}

export async function seededUsers(authUrl: string): Promise<SeededUser[]> {
  const res = await fetch(`${authUrl}/__mocks/users`)
  return ((await res.json()) as { users: SeededUser[] }).users
}

export interface ReplicaPair {
  a: ReplicaProcess
  b: ReplicaProcess
  redis: RedisServer
  /** The temp folder holding Redis's append-only file (and whatever `env` put there). */
  dir: string
}

/**
 * Replicas a and b on a fresh redis-server that keeps every answered write on disk (appendonly,
 * fsync always) in a new temp folder named after `label`; `env` may be made from that folder.
 * End it with `stopCluster([a, b], redis, dir)`.
 */
export async function startPair(
  label: string,
  opts: Omit<ReplicaOptions, 'name' | 'redisUrl' | 'env'> & {
    env?: Record<string, string> | ((dir: string) => Record<string, string>)
  },
): Promise<ReplicaPair> {
  const dir = mkdtempSync(join(tmpdir(), `${label}-`))
  const redis = await startRedisServer({ persistDir: dir })
  const { env: given, ...rest } = opts
  const env = typeof given === 'function' ? given(dir) : given
  const [a, b] = await Promise.all(
    ['a', 'b'].map((name) => startReplica({ ...rest, name, redisUrl: redis.url, ...(env ? { env } : {}) })),
  )
  return { a: a!, b: b!, redis, dir }
}

/** Stops a test file's replicas, then its Redis, and removes its folder. */
export async function stopCluster(
  replicas: (ReplicaProcess | undefined)[],
  redis: RedisServer | undefined,
  dir: string | undefined,
): Promise<void> {
  await Promise.all(replicas.map((r) => r?.stop()))
  redis?.stop()
  await redis?.exited
  if (dir) rmSync(dir, { recursive: true, force: true })
}

/** Creates a tenant through one replica's `/__mocks/tenants`: the response, to be checked (201). */
export function createTenant(serviceUrl: string, scenario: string): Promise<Response> {
  return fetch(`${serviceUrl}/__mocks/tenants`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name: scenario }),
  })
}

/** A chat channel every given user belongs to (else the first channel). */
export async function commonChannel(chatUrl: string, users: readonly { id: string }[]): Promise<string> {
  const res = await fetch(`${chatUrl}/__mocks/channels`)
  const { channels } = (await res.json()) as { channels: { id: string; members: string[] }[] }
  return (channels.find((c) => users.every((u) => c.members.includes(u.id))) ?? channels[0]!).id
}
