import { connect } from 'node:net'
import fc from 'fast-check'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { DbService } from '../../mocks/db/service.ts'
import type { Effect } from '../../mocks/faults/schema.ts'
import { startupPacket, withPg } from '../db-helpers.ts'
import { leaks, openFds, rawHttp, serverSockets, watchProcess, writeResult } from './support.ts'

// The db service under bad input and churn: random and truncated wire-protocol bytes, clients
// vanishing mid-query, faults switched while a pool is under load; and on the same port Neon's
// SQL-over-HTTP (random, malformed and truncated requests) and its WebSocket bridge (random
// frames, clients vanishing mid-query). Afterwards nothing is left: no proxied connection, no
// PGlite client, PGlite not owned, no socket on the port, and queries work. Each check is
// written to db.json for RELIABILITY.md (scripts/reliability-report.ts).

const SEED = Number(process.env.RELIABILITY_SEED ?? 20261205)
const RUNS = Number(process.env.RELIABILITY_DB_RUNS ?? 40)

let db: DbService
let faults: Effect[] = []
let watch: ReturnType<typeof watchProcess>
let fdsBefore: number | undefined

interface Survived {
  name: string
  runs: number
  /** What was left behind (a connection, a PGlite owner, a socket): empty = nothing. */
  lost: string[]
  /** What the clients saw, by kind, for the report. */
  seen?: Record<string, number>
}
const survived: Survived[] = []

function count(map: Record<string, number>, key: string) {
  map[key] = (map[key] ?? 0) + 1
}

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

/** A valid session: startup, a transaction with an extended-protocol batch inside, COMMIT. */
function sessionScript(): Buffer {
  const q = (sql: string) => message('Q', Buffer.from(`${sql}\0`))
  const parse = message('P', Buffer.from('stmt\0INSERT INTO t (v) VALUES ($1)\0\0\0'))
  const bind = message(
    'B',
    Buffer.concat([Buffer.from('\0stmt\0'), Buffer.from([0, 0, 0, 1, 0, 0, 0, 1, 0x78, 0, 0])]),
  )
  const exec = message('E', Buffer.from('\0\0\0\0\0'))
  const sync = message('S', Buffer.alloc(0))
  return Buffer.concat([
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
  watch = watchProcess()
  fdsBefore = openFds()
  db = new DbService({
    host: '127.0.0.1',
    port: 0,
    decide: () => faults.map((effect, i) => ({ id: `f${i}`, effect, random: () => 0.3 })),
  })
  await db.start()
  await withPg(db.url, (c) => c.query('CREATE TABLE t (id serial PRIMARY KEY, v text)'))
}, 120_000)

afterAll(async () => {
  const socketsAfter = db ? serverSockets([db.port]) : 0
  await db?.close()
  watch?.stop()
  writeResult('db', {
    runsPerProperty: RUNS,
    seed: SEED,
    survived,
    serverSocketsAfter: socketsAfter,
    fds: { before: fdsBefore, after: openFds() },
    processErrors: watch?.seen ?? [],
  })
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
    survived.push({
      name: 'wire protocol: random bytes, with or without a valid startup first',
      runs: RUNS,
      lost: [],
    })
  }, 120_000)

  it('valid messages cut anywhere (mid-transaction, mid-batch, mid-message) leave nothing behind', async () => {
    const script = sessionScript()
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
    survived.push({
      name: 'wire protocol: a valid session cut anywhere (mid-transaction, mid-batch, mid-message), abruptly or not',
      runs: RUNS,
      lost: [],
    })
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
    survived.push({
      name: 'faults switched (reset, latency, hang, slow-body, down and up) under a pool of 10 with 20 workers, 3 rounds',
      runs: 3,
      lost: [],
      seen: Object.fromEntries(outcomes),
    })
  }, 120_000)
})

// ---- Neon's SQL-over-HTTP and WebSocket bridge, on the same port ----

/** No proxied connection left and nobody owns PGlite (pooled Neon connections may stay idle). */
const settled = () => db.proxy.connections === 0 && db.pglite!.idle

function sqlRequest(body: Buffer, headers: Record<string, string> = {}): Buffer {
  const head = [
    'POST /sql HTTP/1.1',
    `Host: 127.0.0.1:${db.port}`,
    'Content-Type: application/json',
    `Content-Length: ${body.length}`,
    'Connection: close',
    ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
  ].join('\r\n')
  return Buffer.concat([Buffer.from(`${head}\r\n\r\n`), body])
}

const sql = (body: unknown, headers?: Record<string, string>) =>
  rawHttp(`http://127.0.0.1:${db.port}`, sqlRequest(Buffer.from(JSON.stringify(body)), headers), 10_000)

/** Statements that change the transaction state, fail, or wait, beside random text. */
const STATEMENTS = [
  'BEGIN',
  'COMMIT',
  'ROLLBACK',
  'START TRANSACTION',
  'SAVEPOINT s',
  'RELEASE SAVEPOINT s',
  'DECLARE c CURSOR FOR SELECT 1',
  'SELECT 1',
  'SELECT $1::text',
  'SELECT 1/0',
  'SELECT pg_sleep(0.02)',
  'BEGIN; SELECT 1',
  '',
]

describe('reliability: db over Neon HTTP and WebSocket (same port)', () => {
  it('random, malformed and truncated /sql requests: 200 or 400 with a message, never 5xx, never a wedged database', async () => {
    const query = fc.oneof(
      { arbitrary: fc.constantFrom(...STATEMENTS), weight: 3 },
      { arbitrary: fc.string({ maxLength: 40 }), weight: 1 },
    )
    const params = fc.option(
      fc.array(fc.oneof(fc.string({ maxLength: 10 }), fc.integer(), fc.boolean(), fc.constant(null)), {
        maxLength: 3,
      }),
      { nil: undefined },
    )
    const single = fc.record({ query, params }, { requiredKeys: ['query'] })
    const body = fc.oneof(
      single.map((q) => Buffer.from(JSON.stringify(q))),
      fc.record({ queries: fc.array(single, { maxLength: 4 }) }).map((q) => Buffer.from(JSON.stringify(q))),
      fc.json().map((j) => Buffer.from(j)),
      fc.string({ maxLength: 60 }).map((x) => Buffer.from(x)),
      fc.uint8Array({ maxLength: 80 }).map((b) => Buffer.from(b)),
    )
    const headers = fc.record(
      {
        'Neon-Batch-Isolation-Level': fc.constantFrom('Serializable', 'ReadCommitted', 'Bogus'),
        'Neon-Batch-Read-Only': fc.constantFrom('true', 'false'),
      },
      { requiredKeys: [] },
    )
    const cut = fc.option(fc.record({ at: fc.nat(), abrupt: fc.boolean() }), { nil: undefined })
    const seen: Record<string, number> = {}
    await fc.assert(
      fc.asyncProperty(body, headers, cut, async (b, h, c) => {
        const request = sqlRequest(b, h)
        if (c) {
          // The client vanishes mid-request (head or body), politely or with RST.
          await raw([request.subarray(0, 1 + (c.at % (request.length - 1)))], c.abrupt, 20)
          count(seen, 'cut')
        } else {
          const a = await rawHttp(`http://127.0.0.1:${db.port}`, request, 10_000)
          count(seen, String(a.status))
          expect([200, 400], a.text).toContain(a.status)
          const json = JSON.parse(a.text) as { message?: unknown }
          if (a.status === 400) expect(typeof json.message, a.text).toBe('string')
          expect(leaks(a.text)).toEqual([])
        }
        await waitFor(settled, 5000)
      }),
      {
        seed: SEED,
        numRuns: RUNS * 3,
        // Always tried: requests that leave a transaction open, alone or in a batch.
        examples: [
          [Buffer.from('{"query":"BEGIN"}'), {}, undefined],
          [Buffer.from('{"queries":[{"query":"COMMIT"},{"query":"BEGIN"}]}'), {}, undefined],
          [Buffer.from('{"query":"SELECT pg_sleep(0.2)"}'), {}, { at: 150, abrupt: true }],
          [Buffer.from('{"queries":[{"query":"BEGIN; SELECT 1"}]}'), {}, undefined],
          [Buffer.from('{"query":"SELECT 1; SELECT 2"}'), {}, undefined],
        ],
      },
    )
    // The wire protocol and HTTP both still answer, outside any transaction a request left.
    await healthyAnyway()
    await expectNoTransactionOverHttp()
    survived.push({
      name: 'Neon HTTP /sql: random JSON, queries that open, end or break transactions, bytes, bad headers; about 5 in 6 cut mid-request (head or body)',
      runs: RUNS * 3,
      lost: [],
      seen,
    })
  }, 120_000)

  it('regression: POST /sql {"query": "BEGIN"} no longer holds the shared database (every other client waited until the pooled connection idled out)', async () => {
    const begin = await sql({ query: 'BEGIN' })
    expect(begin.status).toBe(200)
    await waitFor(settled, 2000)
    const c = new pg.Client({ connectionString: db.url, connectionTimeoutMillis: 2000, query_timeout: 2000 })
    c.on('error', () => {})
    await c.connect()
    expect((await c.query('SELECT 1 AS v')).rows[0].v).toBe(1)
    await c.end()
    // The next request is not inside that transaction either.
    await expectNoTransactionOverHttp()
    const batch = await sql({ queries: [{ query: 'COMMIT' }, { query: 'BEGIN' }] })
    expect(batch.status).toBe(200)
    await waitFor(settled, 2000)
  }, 30_000)

  it('regression: several statements in one HTTP query are a Postgres error (42601), as on Neon, not a 503', async () => {
    for (const body of [{ query: 'BEGIN; SELECT 1' }, { queries: [{ query: 'SELECT 1; SELECT 2' }] }]) {
      const a = await sql(body)
      expect(a.status, a.text).toBe(400)
      expect(JSON.parse(a.text)).toMatchObject({
        message: 'cannot insert multiple commands into a prepared statement',
        code: '42601',
      })
      await waitFor(settled, 2000)
    }
  }, 30_000)

  it('Neon WebSocket (/v2): random frames and clients vanishing mid-query leave nothing behind', async () => {
    const before = db.pglite!.connections
    const script = sessionScript()
    const frames = fc.oneof(
      fc.uint8Array({ minLength: 1, maxLength: 200 }).map((g) => [startupPacket(), Buffer.from(g)]),
      fc.uint8Array({ minLength: 1, maxLength: 200 }).map((g) => [Buffer.from(g)]),
      fc.integer({ min: 1, max: script.length - 1 }).map((at) => [script.subarray(0, at)]),
    )
    await fc.assert(
      fc.asyncProperty(frames, fc.boolean(), async (fs, abrupt) => {
        const ws = new WebSocket(`ws://127.0.0.1:${db.port}/v2`)
        ws.on('error', () => {})
        await new Promise((resolve, reject) => {
          ws.once('open', resolve)
          ws.once('error', reject)
        })
        for (const f of fs) ws.send(f)
        await new Promise((r) => setTimeout(r, 30))
        if (abrupt) ws.terminate()
        else ws.close()
        await waitFor(() => settled() && db.pglite!.connections <= before, 5000)
      }),
      { seed: SEED, numRuns: RUNS },
    )
    await healthyAnyway()
    expect(serverSockets([db.port])).toBe(0)
    survived.push({
      name: 'Neon WebSocket /v2: random frames (with or without a startup), a valid session cut anywhere; closed or terminated',
      runs: RUNS,
      lost: [],
    })
  }, 120_000)
})

/** A wire client and PGlite answer; pooled Neon connections may stay open (idle). */
async function healthyAnyway(): Promise<void> {
  await waitFor(settled)
  const c = new pg.Client({ connectionString: db.url, connectionTimeoutMillis: 2000, query_timeout: 2000 })
  await c.connect()
  expect((await c.query('SELECT now() = statement_timestamp() AS fresh')).rows[0].fresh).toBe(true)
  await c.end()
  await waitFor(settled)
}

/** The next HTTP request runs outside any transaction block: SAVEPOINT is refused (25P01). */
async function expectNoTransactionOverHttp(): Promise<void> {
  const a = await sql({ query: 'SAVEPOINT probe' })
  expect(a.status, a.text).toBe(400)
  expect(JSON.parse(a.text).code, a.text).toBe('25P01')
}
