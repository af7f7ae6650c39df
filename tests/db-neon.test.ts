import { Pool as NeonPool, neon, neonConfig } from '@neondatabase/serverless'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import ws from 'ws'
import { DbService } from '../mocks/db/service.ts'
import type { Effect } from '../mocks/faults/schema.ts'
import { debianPostgresMissing, type RealPostgres, startDebianPostgres, withPg } from './db-helpers.ts'

// Neon's SQL-over-HTTP on the db service's port, driven by the vendor's own `neon()` with its
// `fetchEndpoint` pointed here: same data as the wire protocol, same faults.

const backends: [string, () => Promise<{ upstreamUrl?: string; stop(): Promise<void> }>][] = [
  ['PGlite', async () => ({ stop: async () => {} })],
]
if (!debianPostgresMissing) {
  backends.push([
    'Debian postgresql',
    async () => {
      const real: RealPostgres = await startDebianPostgres()
      return { upstreamUrl: real.url, stop: () => real.stop() }
    },
  ])
} else {
  describe.skip(debianPostgresMissing, () => {
    it('serves Neon HTTP over a real Postgres upstream', () => {})
  })
}

describe.each(backends)('db: Neon SQL-over-HTTP over %s', (_name, backend) => {
  let db: DbService
  let stopBackend: () => Promise<void>
  let faults: Effect[] = []

  beforeAll(async () => {
    const b = await backend()
    stopBackend = b.stop
    db = new DbService({
      host: '127.0.0.1',
      port: 0,
      upstreamUrl: b.upstreamUrl,
      decide: () => faults.map((effect, i) => ({ id: `f${i}`, effect, random: () => 0 })),
    })
    await db.start()
    neonConfig.fetchEndpoint = db.neonEndpoint
    await withPg(db.url, async (c) => {
      await c.query('DROP TABLE IF EXISTS notes')
      await c.query(
        'CREATE TABLE notes (id serial PRIMARY KEY, body text, tags text[], meta jsonb, at timestamptz)',
      )
      await c.query(
        `INSERT INTO notes (body, tags, meta, at) VALUES ('hi', '{a,b}', '{"k": 1}', '2026-01-02T03:04:05Z')`,
      )
    })
  }, 120_000)

  afterAll(async () => {
    await db?.close()
    await stopBackend?.()
  })

  it('neon() reads what pg wrote, with the driver parsing types', async () => {
    const sql = neon(db.url)
    const rows = await sql`SELECT id, body, tags, meta, at FROM notes WHERE body = ${'hi'}`
    expect(rows).toEqual([
      { id: 1, body: 'hi', tags: ['a', 'b'], meta: { k: 1 }, at: new Date('2026-01-02T03:04:05Z') },
    ])
    const full = await sql.query('SELECT $1::int + 1 AS v', [41], { fullResults: true, arrayMode: true })
    expect(full.rows).toEqual([[42]])
    expect(full.fields[0]!.name).toBe('v')
    expect(full.command).toBe('SELECT')
  })

  it('a transaction runs as one, and is rolled back on error', async () => {
    const sql = neon(db.url)
    const [, count] = await sql.transaction(
      [sql`INSERT INTO notes (body) VALUES ('tx')`, sql`SELECT count(*)::int AS n FROM notes`],
      { isolationLevel: 'Serializable' },
    )
    expect(count).toEqual([{ n: 2 }])
    await expect(
      sql.transaction([sql`INSERT INTO notes (body) VALUES ('lost')`, sql`SELECT * FROM missing_table`]),
    ).rejects.toMatchObject({ code: '42P01' })
    const lost = await sql`SELECT count(*)::int AS n FROM notes WHERE body = 'lost'`
    expect(lost).toEqual([{ n: 0 }])
  })

  it('a Postgres error reaches the driver with its fields', async () => {
    const sql = neon(db.url)
    const err = await sql`SELECT * FROM nowhere`.catch((e: unknown) => e)
    expect(err).toMatchObject({ name: 'NeonDbError', code: '42P01', severity: 'ERROR' })
    expect((err as Error).message).toContain('nowhere')
  })

  it("Neon's WebSocket Pool works when its wsProxy points here", async () => {
    neonConfig.wsProxy = () => `127.0.0.1:${db.port}/v2`
    neonConfig.useSecureWebSocket = false
    neonConfig.pipelineConnect = false
    neonConfig.pipelineTLS = false
    neonConfig.webSocketConstructor = ws
    const pool = new NeonPool({ connectionString: db.url })
    pool.on('error', () => {})
    const client = await pool.connect()
    await client.query('BEGIN')
    await client.query("INSERT INTO notes (body) VALUES ('via ws')")
    const r = await client.query<{ n: number }>("SELECT count(*)::int AS n FROM notes WHERE body = 'via ws'")
    await client.query('ROLLBACK')
    client.release()
    expect(r.rows).toEqual([{ n: 1 }])
    await pool.end()
  })

  it('faults apply to Neon HTTP as to the wire protocol: latency, reset, down', async () => {
    const sql = neon(db.url)
    faults = [{ type: 'latency', ms: 250, jitterMs: 0 }]
    const t = performance.now()
    await sql`SELECT 1 AS v`
    expect(performance.now() - t).toBeGreaterThanOrEqual(250)
    faults = [{ type: 'reset' }]
    await expect(sql`SELECT 1 AS v`).rejects.toThrow(/Error connecting to database/)
    faults = []
    await db.proxy.stopListening()
    await expect(sql`SELECT 1 AS v`).rejects.toThrow(/Error connecting to database/)
    await db.proxy.resumeListening()
    expect(await sql`SELECT 2 AS v`).toEqual([{ v: 2 }])
  })
})
