import { connect } from 'node:net'
import fc from 'fast-check'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { DbService } from '../../mocks/db/service.ts'
import type { Effect } from '../../mocks/faults/schema.ts'
import { startupPacket, withPg } from '../db-helpers.ts'

// The db service under bad input and churn: random and truncated wire-protocol bytes, clients
// vanishing mid-query, faults switched while a pool is under load. Afterwards nothing is left:
// no proxied connection, no PGlite client, PGlite not owned, and queries work.

const SEED = Number(process.env.RELIABILITY_SEED ?? 20261205)
const RUNS = Number(process.env.RELIABILITY_DB_RUNS ?? 40)

let db: DbService
let faults: Effect[] = []

async function waitFor(check: () => boolean, ms = 10_000): Promise<void> {
  const until = Date.now() + ms
  while (!check()) {
    if (Date.now() > until) throw new Error('condition not reached in time')
    await new Promise((r) => setTimeout(r, 10))
  }
}

const clean = () => db.proxy.connections === 0 && db.pglite!.connections === 0 && db.pglite!.idle

async function healthy(): Promise<void> {
  await waitFor(clean)
  await withPg(db.url, async (c) => {
    expect((await c.query('SELECT 1 AS v')).rows[0].v).toBe(1)
    // Not left inside someone's transaction.
    expect((await c.query('SELECT now() = statement_timestamp() AS fresh')).rows[0].fresh).toBe(true)
  })
  await waitFor(clean)
}

function message(type: string, body: Buffer): Buffer {
  const b = Buffer.alloc(5 + body.length)
  b[0] = type.charCodeAt(0)
  b.writeInt32BE(4 + body.length, 1)
  body.copy(b, 5)
  return b
}

/** Sends bytes on a raw socket, keeps it open a moment, then leaves abruptly or politely. */
async function raw(bytes: Buffer[], abrupt: boolean, waitMs: number): Promise<void> {
  const s = connect(db.port, '127.0.0.1')
  s.on('error', () => {})
  s.on('data', () => {})
  await new Promise((r) => s.once('connect', r))
  for (const b of bytes) s.write(b)
  await new Promise((r) => setTimeout(r, waitMs))
  if (abrupt) s.resetAndDestroy()
  else s.end()
  await new Promise((r) => (s.closed ? r(undefined) : s.once('close', r)))
}

beforeAll(async () => {
  db = new DbService({
    host: '127.0.0.1',
    port: 0,
    decide: () => faults.map((effect, i) => ({ id: `f${i}`, effect, random: () => 0.3 })),
  })
  await db.start()
  await withPg(db.url, (c) => c.query('CREATE TABLE t (id serial PRIMARY KEY, v text)'))
}, 120_000)

afterAll(async () => {
  await db?.close()
})

describe('reliability: db wire protocol', () => {
  it('random bytes, with or without a valid startup first, never wedge PGlite', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.boolean(),
        fc.uint8Array({ minLength: 1, maxLength: 200 }),
        fc.boolean(),
        async (withStartup, garbage, abrupt) => {
          const bytes = withStartup ? [startupPacket(), Buffer.from(garbage)] : [Buffer.from(garbage)]
          await raw(bytes, abrupt, 20)
          await waitFor(clean)
        },
      ),
      { seed: SEED, numRuns: RUNS },
    )
    await healthy()
  }, 120_000)

  it('valid messages cut anywhere (mid-transaction, mid-batch, mid-message) leave nothing behind', async () => {
    const q = (sql: string) => message('Q', Buffer.from(`${sql}\0`))
    const parse = message('P', Buffer.from('stmt\0INSERT INTO t (v) VALUES ($1)\0\0\0'))
    const bind = message(
      'B',
      Buffer.concat([Buffer.from('\0stmt\0'), Buffer.from([0, 0, 0, 1, 0, 0, 0, 1, 0x78, 0, 0])]),
    )
    const exec = message('E', Buffer.from('\0\0\0\0\0'))
    const sync = message('S', Buffer.alloc(0))
    const script = Buffer.concat([
      startupPacket(),
      q('BEGIN'),
      q("INSERT INTO t (v) VALUES ('half')"),
      parse,
      bind,
      exec,
      sync,
      q('SELECT pg_sleep(0.01)'),
      q('COMMIT'),
    ])
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: script.length - 1 }), fc.boolean(), async (cut, abrupt) => {
        await raw([script.subarray(0, cut)], abrupt, 30)
        await waitFor(clean)
      }),
      { seed: SEED, numRuns: RUNS },
    )
    await healthy()
    // Every cut client was rolled back: nothing it inserted before COMMIT survived.
    const n = await withPg(db.url, (c) => c.query<{ n: number }>('SELECT count(*)::int AS n FROM t'))
    expect(n.rows[0]!.n).toBe(0)
  }, 120_000)

  it('faults switched while a pool of 10 is under load: afterwards nothing leaks and queries work', async () => {
    const pool = new pg.Pool({
      connectionString: db.url,
      max: 10,
      query_timeout: 400,
      connectionTimeoutMillis: 400,
    })
    pool.on('error', () => {})
    const outcomes = new Map<string, number>()
    let stop = false
    const worker = async () => {
      while (!stop) {
        try {
          await pool.query('SELECT $1::int AS v', [1])
          outcomes.set('ok', (outcomes.get('ok') ?? 0) + 1)
        } catch (err) {
          const key = (err as NodeJS.ErrnoException).code ?? (err as Error).message.slice(0, 30)
          outcomes.set(key, (outcomes.get(key) ?? 0) + 1)
        }
      }
    }
    const workers = Array.from({ length: 20 }, worker)
    const plan: Effect[][] = [
      [{ type: 'reset' }],
      [],
      [{ type: 'latency', ms: 50, jitterMs: 50 }],
      [{ type: 'hang' }],
      [{ type: 'slow-body', bytesPerSecond: 2000 }],
      [],
    ]
    for (let round = 0; round < 3; round++) {
      for (const step of plan) {
        faults = step
        await new Promise((r) => setTimeout(r, 150))
      }
      await db.proxy.stopListening()
      await new Promise((r) => setTimeout(r, 100))
      await db.proxy.resumeListening()
    }
    faults = []
    db.proxy.cutHeld()
    await new Promise((r) => setTimeout(r, 300))
    stop = true
    await Promise.all(workers)
    await pool.end()
    expect(outcomes.get('ok') ?? 0).toBeGreaterThan(20)
    await healthy()
  }, 120_000)
})
