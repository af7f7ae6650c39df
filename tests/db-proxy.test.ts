import pg from 'pg'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { PgliteHost } from '../mocks/db/pglite-host.ts'
import { type ConnectionEvent, type Firing, TcpFaultProxy, type Upstream } from '../mocks/db/proxy.ts'
import type { Effect } from '../mocks/faults/schema.ts'
import { debianPostgresMissing, pgClient, type RealPostgres, startDebianPostgres } from './db-helpers.ts'

// The TCP fault proxy in front of each upstream (embedded PGlite, and Debian's postgresql when
// installed), with `pg` as the client: what a client sees for each effect, and nothing left
// behind once the fault is gone.

interface Setup {
  upstream: Upstream
  stop(): Promise<void>
  idle(): boolean
}

const upstreams: [string, () => Promise<Setup>][] = [
  [
    'PGlite',
    async () => {
      const host = new PgliteHost()
      const upstream = await host.listen()
      return { upstream, stop: () => host.close(), idle: () => host.idle && host.connections === 0 }
    },
  ],
]
if (!debianPostgresMissing) {
  upstreams.push([
    'Debian postgresql',
    async () => {
      const real: RealPostgres = await startDebianPostgres()
      const u = new URL(real.url)
      return {
        upstream: { host: u.hostname, port: Number(u.port) },
        stop: () => real.stop(),
        idle: () => true,
      }
    },
  ])
} else {
  describe.skip(debianPostgresMissing, () => {
    it('runs the proxy suite against a real Postgres', () => {})
  })
}

async function waitFor(check: () => boolean, ms = 5000): Promise<void> {
  const until = Date.now() + ms
  while (!check()) {
    if (Date.now() > until) throw new Error('condition not reached in time')
    await new Promise((r) => setTimeout(r, 10))
  }
}

describe.each(upstreams)('db proxy in front of %s', (_name, setup) => {
  let up: Setup
  let proxy: TcpFaultProxy
  let faults: Effect[] = []
  const events: ConnectionEvent[] = []
  let url: string
  const clients: pg.Client[] = []

  const client = async (extra: Partial<pg.ClientConfig> = {}) => {
    const c = await pgClient(url, extra)
    clients.push(c)
    return c
  }

  beforeAll(async () => {
    up = await setup()
    proxy = new TcpFaultProxy({
      host: '127.0.0.1',
      port: 0,
      upstream: async () => up.upstream,
      decide: () => faults.map((effect, i): Firing => ({ id: `f${i}`, effect, random: () => 0.5 })),
      record: (e) => events.push(e),
    })
    await proxy.start()
    url = `postgres://postgres@127.0.0.1:${proxy.port}/postgres`
    // The first connection starts PGlite (seconds on a loaded machine).
    const c = await client()
    await c.query('SELECT 1')
    await c.end()
  }, 120_000)

  afterEach(async () => {
    faults = []
    await Promise.all(clients.splice(0).map((c) => c.end().catch(() => undefined)))
    await waitFor(() => proxy.connections === 0)
    await waitFor(() => up.idle())
  })

  afterAll(async () => {
    await proxy?.close()
    await up?.stop()
  })

  it('queries go through, and a pool of 10 works concurrently', async () => {
    const pool = new pg.Pool({ connectionString: url, max: 10 })
    const out = await Promise.all(
      Array.from({ length: 40 }, (_, i) => pool.query<{ v: number }>('SELECT $1::int + 1 AS v', [i])),
    )
    expect(out.map((r) => r.rows[0]!.v)).toEqual(Array.from({ length: 40 }, (_, i) => i + 1))
    await pool.end()
  })

  it('journals connections with bytes each way, never query text by default', async () => {
    events.length = 0
    const c = await client()
    await c.query("SELECT 'secret-value' AS v")
    await c.end()
    await waitFor(() => events.some((e) => e.event === 'close'))
    const open = events.find((e) => e.event === 'open')!
    const close = events.find((e) => e.event === 'close')!
    expect(open.id).toBe(close.id)
    expect(close.kind).toBe('postgres')
    expect(close.bytesIn).toBeGreaterThan(30)
    expect(close.bytesOut).toBeGreaterThan(100)
    expect(JSON.stringify(events)).not.toContain('secret-value')
  })

  it('down: the listener closes, clients see ECONNREFUSED; up again, queries work', async () => {
    await proxy.stopListening()
    const c = new pg.Client({ connectionString: url })
    c.on('error', () => {})
    await expect(c.connect()).rejects.toMatchObject({ code: 'ECONNREFUSED' })
    await proxy.resumeListening()
    const d = await client()
    expect((await d.query('SELECT 3 AS v')).rows[0].v).toBe(3)
  })

  it('reset: a new connection is cut with RST (ECONNRESET), an established one at its next query', async () => {
    const established = await client()
    faults = [{ type: 'reset' }]
    const c = new pg.Client({ connectionString: url })
    c.on('error', () => {})
    await expect(c.connect()).rejects.toMatchObject({ code: 'ECONNRESET' })
    await expect(established.query('SELECT 1')).rejects.toThrow(/ECONNRESET|terminated/)
    faults = []
    const d = await client()
    expect((await d.query('SELECT 4 AS v')).rows[0].v).toBe(4)
  })

  it('hang: a connection is accepted and never answered; a client timeout is what ends it', async () => {
    faults = [{ type: 'hang' }]
    const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 300 })
    c.on('error', () => {})
    const t = performance.now()
    await expect(c.connect()).rejects.toThrow(/timeout/i)
    expect(performance.now() - t).toBeGreaterThanOrEqual(290)
    // An established connection: its next query is never answered.
    faults = []
    const e = await client({ query_timeout: 300 })
    faults = [{ type: 'hang' }]
    await expect(e.query('SELECT 1')).rejects.toThrow(/timeout/i)
    faults = []
    await waitFor(() => proxy.connections <= 1)
    const d = await client()
    expect((await d.query('SELECT 5 AS v')).rows[0].v).toBe(5)
  })

  it('latency: every answer is late by at least ms, never early; gone when the fault ends', async () => {
    const c = await client()
    faults = [{ type: 'latency', ms: 200, jitterMs: 50 }]
    for (let i = 0; i < 3; i++) {
      const t = performance.now()
      await c.query('SELECT 1')
      expect(performance.now() - t).toBeGreaterThanOrEqual(200)
    }
    faults = []
    const t = performance.now()
    await c.query('SELECT 1')
    expect(performance.now() - t).toBeLessThan(200)
  })

  it('latency above a client query timeout: the query times out client-side', async () => {
    const c = await client({ query_timeout: 200 })
    faults = [{ type: 'latency', ms: 600, jitterMs: 0 }]
    await expect(c.query('SELECT 1')).rejects.toThrow(/timeout/i)
  })

  it('slow-body: answers trickle at bytesPerSecond', async () => {
    const c = await client()
    faults = [{ type: 'slow-body', bytesPerSecond: 20_000 }]
    const t = performance.now()
    const r = await c.query<{ v: string }>("SELECT repeat('x', 10000) AS v")
    const ms = performance.now() - t
    expect(r.rows[0]!.v).toHaveLength(10000)
    // ~10 kB at 20 kB/s: at least ~450 ms (the first slice leaves after 50 ms).
    expect(ms).toBeGreaterThanOrEqual(400)
    expect(ms).toBeLessThan(5000)
  })

  it('a client vanishing mid-query leaves nothing behind', async () => {
    const c = await client()
    faults = [{ type: 'latency', ms: 300, jitterMs: 0 }]
    const q = c.query('SELECT pg_sleep(0.05)').catch(() => undefined)
    await new Promise((r) => setTimeout(r, 50))
    ;(c as unknown as { connection: { stream: { destroy(): void } } }).connection.stream.destroy()
    await q
    faults = []
    await waitFor(() => proxy.connections === 0)
    const d = await client()
    expect((await d.query('SELECT 6 AS v')).rows[0].v).toBe(6)
  })

  it('a reset of the mocks cuts connections held by a fault, not the others', async () => {
    const calm = await client()
    faults = [{ type: 'hang' }]
    const held = new pg.Client({ connectionString: url })
    held.on('error', () => {})
    const failed = held.connect()
    await waitFor(() => proxy.connections === 2)
    faults = []
    proxy.cutHeld()
    await expect(failed).rejects.toMatchObject({ code: 'ECONNRESET' })
    expect((await calm.query('SELECT 7 AS v')).rows[0].v).toBe(7)
  })
})
