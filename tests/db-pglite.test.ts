import { connect, type Socket } from 'node:net'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { PgliteHost } from '../mocks/db/pglite-host.ts'
import { pgClient, startupPacket, withPg } from './db-helpers.ts'

// PGlite is one Postgres session: these prove that clients multiplexed onto it behave as if
// each had its own (serialised, never interleaved), and that a client leaving at a bad moment
// or sending garbage leaves nothing behind. Real sockets, `pg` as the client.

let host: PgliteHost
let url: string

async function waitFor(check: () => boolean, ms = 5000): Promise<void> {
  const until = Date.now() + ms
  while (!check()) {
    if (Date.now() > until) throw new Error('condition not reached in time')
    await new Promise((r) => setTimeout(r, 10))
  }
}

const client = () => pgClient(url)

beforeAll(async () => {
  host = new PgliteHost()
  const { port } = await host.listen()
  url = `postgres://postgres@127.0.0.1:${port}/postgres`
  // PGlite starts on the first connection (it takes seconds on a loaded machine).
  await withPg(url, (c) => c.query('CREATE TABLE rows (owner int NOT NULL, n int NOT NULL)'))
}, 120_000)

afterAll(async () => {
  await host?.close()
})

describe('db: PGlite shared by many clients', () => {
  it('starts lazily: nothing is created before the first connection', async () => {
    const lazy = new PgliteHost()
    await lazy.listen()
    expect(lazy.started).toBe(false)
    await lazy.close()
  })

  it('closed and started again (replicated mode hands the database over): a fresh PGlite from the seed, old sessions gone', async () => {
    const own = new PgliteHost()
    try {
      await own.reset('CREATE TABLE seeded (n int); INSERT INTO seeded VALUES (1);')
      const first = await own.listen()
      const old = await pgClient(`postgres://postgres@127.0.0.1:${first.port}/postgres`)
      await old.query('INSERT INTO seeded VALUES (2)')
      await old.query('BEGIN')
      await old.query(`PREPARE held AS SELECT n FROM seeded`)
      // One more client queued behind the open transaction when the host closes.
      const queued = pgClient(`postgres://postgres@127.0.0.1:${first.port}/postgres`).then((c) =>
        c.query('SELECT 1').finally(() => c.end().catch(() => undefined)),
      )
      // Judged below; until then its failure is expected, not unhandled.
      queued.catch(() => undefined)
      // Connected (its query then waits behind the open transaction) before the host closes.
      await waitFor(() => own.connections === 2)
      await new Promise((r) => setTimeout(r, 100))
      await own.close()
      await expect(old.query('SELECT 1')).rejects.toThrow()
      await expect(queued).rejects.toThrow()
      // The cut sessions clean up without starting a PGlite of their own (a replica that handed
      // the database over runs none).
      await new Promise((r) => setTimeout(r, 300))
      expect(own.active).toBe(false)
      const again = await own.listen()
      const rows = await withPg(`postgres://postgres@127.0.0.1:${again.port}/postgres`, async (c) => {
        // The old client's statement name is free again: nothing of the old session is left.
        await c.query(`PREPARE held AS SELECT n FROM seeded`)
        return (await c.query<{ n: number }>('SELECT n FROM seeded')).rows.map((r) => r.n)
      })
      expect(rows).toEqual([1])
      expect(own.idle).toBe(true)
    } finally {
      await own.close()
    }
  }, 60_000)

  it('10 clients in concurrent transactions never see uncommitted rows nor interleave', async () => {
    const t = await client()
    await t.query('TRUNCATE rows')
    await t.end()
    const windows: { owner: number; begin: number; commit: number; xids: Set<string> }[] = []
    const run = async (owner: number) => {
      const c = await client()
      try {
        await c.query('BEGIN')
        const begin = performance.now()
        const xids = new Set<string>()
        for (let n = 0; n < 3; n++) {
          await c.query('INSERT INTO rows VALUES ($1, $2)', [owner, n])
          const seen = await c.query<{ owner: number; count: string }>(
            'SELECT owner, count(*) FROM rows GROUP BY owner',
          )
          for (const row of seen.rows) {
            // Another client's rows are visible only once committed, i.e. all three of them.
            if (row.owner === owner) expect(Number(row.count)).toBe(n + 1)
            else expect(Number(row.count)).toBe(3)
          }
          xids.add((await c.query<{ x: string }>('SELECT pg_current_xact_id()::text AS x')).rows[0]!.x)
          await new Promise((r) => setTimeout(r, Math.random() * 5))
        }
        await c.query('COMMIT')
        windows.push({ owner, begin, commit: performance.now(), xids })
      } finally {
        await c.end()
      }
    }
    await Promise.all(Array.from({ length: 10 }, (_, i) => run(i)))
    expect(windows).toHaveLength(10)
    // One transaction id per client for its whole transaction, none shared.
    const all = windows.flatMap((w) => [...w.xids])
    for (const w of windows) expect(w.xids.size).toBe(1)
    expect(new Set(all).size).toBe(10)
    // No two transactions overlap in time.
    windows.sort((a, b) => a.begin - b.begin)
    for (let i = 1; i < windows.length; i++) {
      expect(windows[i]!.begin).toBeGreaterThanOrEqual(windows[i - 1]!.commit)
    }
    const c = await client()
    const total = await c.query<{ count: string }>('SELECT count(*) FROM rows')
    await c.end()
    expect(Number(total.rows[0]!.count)).toBe(30)
  }, 60_000)

  it('a pg.Pool of 10 runs 50 queries concurrently', async () => {
    const pool = new pg.Pool({ connectionString: url, max: 10 })
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) => pool.query<{ v: number }>('SELECT $1::int * 2 AS v', [i])),
    )
    expect(results.map((r) => r.rows[0]!.v)).toEqual(Array.from({ length: 50 }, (_, i) => i * 2))
    expect(pool.totalCount).toBeGreaterThan(1)
    await pool.end()
    await waitFor(() => host.connections === 0 && host.idle)
  }, 60_000)

  it('two clients may prepare statements of the same name', async () => {
    const a = await client()
    const b = await client()
    for (let i = 0; i < 3; i++) {
      const [ra, rb] = await Promise.all([
        a.query({ name: 'same', text: 'SELECT $1::int + 1 AS v', values: [i] }),
        b.query({ name: 'same', text: 'SELECT $1::int + 100 AS v', values: [i] }),
      ])
      expect(ra.rows[0].v).toBe(i + 1)
      expect(rb.rows[0].v).toBe(i + 100)
    }
    await a.end()
    await b.end()
    // Their statements were closed when they left: a third client may reuse the name too.
    const c = await client()
    expect((await c.query({ name: 'same', text: 'SELECT 7 AS v' })).rows[0].v).toBe(7)
    const left = await c.query<{ count: string }>(
      "SELECT count(*) FROM pg_prepared_statements WHERE name LIKE 'c%_same'",
    )
    expect(Number(left.rows[0]!.count)).toBe(1)
    await c.end()
  }, 30_000)

  it('a client that vanishes mid-transaction is rolled back and releases PGlite', async () => {
    const a = await client()
    await a.query('BEGIN')
    await a.query('INSERT INTO rows VALUES (999, 0)')
    // A second client queues behind a's transaction.
    const b = await client().catch(() => undefined)
    const waiting = (async () => {
      const c = await client()
      const r = await c.query<{ count: string }>('SELECT count(*) FROM rows WHERE owner = 999')
      const tx = await c.query<{ t: boolean }>('SELECT now() = statement_timestamp() AS t')
      await c.end()
      return { count: Number(r.rows[0]!.count), fresh: tx.rows[0]!.t }
    })()
    await new Promise((r) => setTimeout(r, 100))
    ;(a as unknown as { connection: { stream: Socket } }).connection.stream.destroy()
    const seen = await waiting
    expect(seen.count).toBe(0)
    // Not inside the vanished client's transaction: now() is this statement's own time.
    expect(seen.fresh).toBe(true)
    await b?.end()
    await waitFor(() => host.connections === 0 && host.idle)
  }, 30_000)

  it('a client that vanishes mid-batch (Parse sent, no Sync) does not leave PGlite waiting', async () => {
    const s = connect(Number(new URL(url).port), '127.0.0.1')
    await new Promise((r) => s.once('connect', r))
    s.write(startupPacket())
    await readUntilReady(s)
    // Parse of a named statement, then nothing: the backend waits for Sync.
    const name = Buffer.from('half\0SELECT 1\0')
    const parse = Buffer.alloc(5 + name.length + 2)
    parse[0] = 0x50
    parse.writeInt32BE(4 + name.length + 2, 1)
    name.copy(parse, 5)
    s.write(parse)
    await new Promise((r) => setTimeout(r, 50))
    s.destroy()
    const c = await client()
    expect((await c.query('SELECT 1 AS v')).rows[0].v).toBe(1)
    const left = await c.query<{ count: string }>(
      "SELECT count(*) FROM pg_prepared_statements WHERE name LIKE '%half'",
    )
    expect(Number(left.rows[0]!.count)).toBe(0)
    await c.end()
    await waitFor(() => host.connections === 0 && host.idle)
  }, 30_000)

  it('garbage, a bad startup or truncated messages are refused without harming others', async () => {
    const send = async (bytes: Buffer, endAfter = false) => {
      const s = connect(Number(new URL(url).port), '127.0.0.1')
      await new Promise((r) => s.once('connect', r))
      const got: Buffer[] = []
      s.on('data', (d) => got.push(d))
      s.on('error', () => {})
      s.write(bytes)
      if (endAfter) {
        await new Promise((r) => setTimeout(r, 30))
        s.destroy()
      }
      await new Promise((r) => (s.closed ? r(undefined) : s.once('close', r)))
      return Buffer.concat(got)
    }
    // Not a startup packet at all.
    const junk = await send(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'))
    expect(junk.toString()).toContain('startup packet')
    // An unknown protocol version.
    const v2 = Buffer.alloc(8)
    v2.writeInt32BE(8, 0)
    v2.writeInt32BE(0x00020000, 4)
    expect((await send(v2)).toString()).toContain('unsupported frontend protocol')
    // A valid startup, then a message type Postgres does not know.
    const bad = Buffer.concat([startupPacket(), Buffer.from([0x7a, 0, 0, 0, 4])])
    expect((await send(bad)).toString()).toContain('invalid frontend message type')
    // Truncated: half a startup packet, then half a query, then gone.
    await send(startupPacket().subarray(0, 10), true)
    const q = Buffer.from('Q\0\0\0\x20SELECT 1')
    await send(Buffer.concat([startupPacket(), q]), true)
    // An absurd length.
    await send(Buffer.concat([startupPacket(), Buffer.from([0x51, 0x7f, 0xff, 0xff, 0xff])]))
    await waitFor(() => host.connections === 0 && host.idle)
    const c = await client()
    expect((await c.query('SELECT 2 AS v')).rows[0].v).toBe(2)
    await c.end()
  }, 30_000)

  it('reset drops what clients made and runs the seed again, fast', async () => {
    const seed =
      "CREATE TABLE pets (id serial PRIMARY KEY, name text); INSERT INTO pets (name) VALUES ('rex'), ('tom');"
    await host.reset(seed)
    const c = await client()
    await c.query("INSERT INTO pets (name) VALUES ('new')")
    await c.query('CREATE TABLE extra (x int)')
    await c.end()
    const times: number[] = []
    for (let i = 0; i < 5; i++) {
      const t = performance.now()
      await host.reset(seed)
      times.push(performance.now() - t)
    }
    const d = await client()
    const pets = await d.query<{ name: string; id: number }>('SELECT id, name FROM pets ORDER BY id')
    expect(pets.rows).toEqual([
      { id: 1, name: 'rex' },
      { id: 2, name: 'tom' },
    ])
    const extra = await d.query("SELECT to_regclass('public.extra') AS t")
    expect(extra.rows[0].t).toBeNull()
    await d.end()
    times.sort((a, b) => a - b)
    // The median of five; the target is 200 ms (generous here: other suites share the CPU).
    expect(times[2]).toBeLessThan(1000)
  }, 60_000)
})

function readUntilReady(s: Socket): Promise<void> {
  return new Promise((resolve) => {
    let seen = Buffer.alloc(0)
    const onData = (d: Buffer) => {
      seen = Buffer.concat([seen, d])
      if (seen.includes(Buffer.from([0x5a, 0, 0, 0, 5]))) {
        s.off('data', onData)
        resolve()
      }
    }
    s.on('data', onData)
  })
}
