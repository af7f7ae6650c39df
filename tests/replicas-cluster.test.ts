import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { withPg } from './db-helpers.ts'
import { freePort } from './ports.ts'
import { hasRedisServer } from './redis-server.ts'
import { chatClient, eventually, seededUsers } from './replicas-harness.ts'

// `pnpm dev:cluster` (scripts/dev-cluster.mjs): Redis, two replicas and haproxy come up on the
// given ports, the balancer serves from both replicas (REST and WebSocket), and one Ctrl-C
// (SIGINT to the process group, as a terminal sends it) stops them all.

const ROOT = fileURLToPath(new URL('..', import.meta.url))

function hasHaproxy(): boolean {
  try {
    execFileSync('haproxy', ['-v'], { stdio: 'ignore' })
    return true
  } catch {
    const why = 'haproxy is not installed (apt-get install -y haproxy): dev:cluster test NOT run'
    if (process.env.CI) throw new Error(why)
    console.warn(why)
    return false
  }
}

const run = hasRedisServer() && hasHaproxy()

describe.runIf(run)('pnpm dev:cluster', () => {
  let child: ChildProcess
  let output = ''
  let exited: Promise<number | null>
  const ports: Record<string, number> = {}

  beforeAll(async () => {
    for (const name of ['V01T', 'MEDIA', 'CHAT', 'AUTH', 'UPSTASH', 'DB', 'CONTROL', 'CLUSTER_REDIS'])
      ports[name] = await freePort()
    const env: Record<string, string | undefined> = { ...process.env }
    for (const [name, port] of Object.entries(ports)) env[`MOCKS_${name}_PORT`] = String(port)
    for (const name of ['MOCKS_REDIS_URL', 'MOCKS_CONTROL_URL', 'AUTH_SERVICE_URL', 'MOCKS_HOST'])
      delete env[name]
    child = spawn('node', [join(ROOT, 'scripts/dev-cluster.mjs')], {
      cwd: ROOT,
      env,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    child.stdout?.on('data', (d: Buffer) => {
      output += d.toString()
    })
    child.stderr?.on('data', (d: Buffer) => {
      output += d.toString()
    })
    exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)))
    // Both replicas up behind the balancer: requests reach each of them.
    await eventually(
      'both replicas serving through the balancer',
      async () => {
        if (child.exitCode !== null) throw new Error(`dev:cluster exited (${child.exitCode}):\n${output}`)
        // Every backend has a replica up (haproxy's checks run every second).
        for (const name of ['V01T', 'MEDIA', 'CHAT', 'AUTH', 'UPSTASH', 'CONTROL']) {
          if (!(await fetch(`http://127.0.0.1:${ports[name]}/__mocks/health`)).ok) return undefined
        }
        for (let i = 0; i < 4; i++)
          await fetch(`http://127.0.0.1:${ports.V01T}/trace/devarno-ecosystem/node/`)
        const { entries } = (await (
          await fetch(`http://127.0.0.1:${ports.V01T}/__mocks/journal`)
        ).json()) as {
          entries: { replica?: string }[]
        }
        const names = new Set(entries.map((e) => e.replica))
        return names.has('r1') && names.has('r2') ? true : undefined
      },
      110_000,
    ).catch((err: Error) => {
      throw new Error(`${err.message}\noutput so far:\n${output}`)
    })
  }, 120_000)

  afterAll(async () => {
    if (child?.pid && child.exitCode === null) {
      try {
        process.kill(-child.pid, 'SIGKILL')
      } catch {
        // gone
      }
    }
  })

  it('serves REST and WebSockets through haproxy from both replicas', async () => {
    const base = `http://127.0.0.1:${ports.CHAT}`
    const users = (await seededUsers(`http://127.0.0.1:${ports.AUTH}`)).filter((u) => u.cookieValue)
    const { channels } = (await (await fetch(`${base}/__mocks/channels`)).json()) as {
      channels: { id: string; members: string[] }[]
    }
    const channel = (channels.find((c) => users.every((u) => c.members.includes(u.id))) ?? channels[0]!).id
    // Two sockets through the balancer (round robin: one on each replica) hear each other.
    const one = await chatClient(base, users[0]!.cookieValue!)
    const two = await chatClient(base, users[1]!.cookieValue!)
    try {
      one.send({ type: 'join', channel })
      two.send({ type: 'join', channel })
      await two.next((f) => f.type === 'presence')
      one.send({ type: 'message', channel, content: 'through the balancer' })
      await two.next((f) => f.type === 'message' && f.content === 'through the balancer')
    } finally {
      one.close()
      two.close()
    }
    const health = await fetch(`http://127.0.0.1:${ports.CONTROL}/__mocks/health`)
    expect(health.status).toBe(200)
  })

  it('one database through the balancer and through each replica (its own address, 127.0.0.2 and .3)', async () => {
    const url = (host: string) => `postgres://postgres:postgres@${host}:${ports.DB}/postgres`
    await withPg(url('127.0.0.2'), async (c) => {
      await c.query('CREATE TABLE cluster_rows (id text PRIMARY KEY)')
      await c.query(`INSERT INTO cluster_rows VALUES ('through r1')`)
    })
    await withPg(url('127.0.0.3'), (c) => c.query(`INSERT INTO cluster_rows VALUES ('through r2')`))
    // The balancer spreads connections over both replicas: each sees both rows.
    for (let i = 0; i < 3; i++) {
      const rows = await withPg(url('127.0.0.1'), async (c) =>
        (await c.query<{ id: string }>('SELECT id FROM cluster_rows ORDER BY id')).rows.map((r) => r.id),
      )
      expect(rows).toEqual(['through r1', 'through r2'])
    }
  }, 30_000)

  it('one Ctrl-C stops Redis, both replicas and haproxy, exit 0', async () => {
    process.kill(-child.pid!, 'SIGINT')
    expect(await exited).toBe(0)
    await expect(fetch(`http://127.0.0.1:${ports.V01T}/__mocks/health`)).rejects.toThrow()
    expect(output).toMatch(/\[haproxy\]/)
    expect(output).toMatch(/\[r1\]/)
    expect(output).toMatch(/\[r2\]/)
  }, 30_000)
})
