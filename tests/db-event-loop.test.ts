import { afterEach, describe, expect, it } from 'vitest'
import { PgliteHost } from '../mocks/db/pglite-host.ts'
import { withPg } from './db-helpers.ts'

// PGlite's start (its module, the cached data directory, Postgres' start in WASM, the seed) is
// seconds of synchronous work. In the worker thread (as the db service runs it), this thread's
// event loop, which every other fake shares, stays free meanwhile. Real sockets, `pg`.

const SEED = `CREATE TABLE items (id int PRIMARY KEY, label text NOT NULL);
INSERT INTO items SELECT i, 'item ' || i FROM generate_series(1, 5000) AS i;`

/** The longest this thread's event loop went without running a 5 ms timer, while `fn` runs. */
async function maxLoopDelay(fn: () => Promise<void>): Promise<number> {
  let max = 0
  let running = true
  const tick = (at: number) => {
    const late = performance.now() - at - 5
    if (late > max) max = late
    if (running) setTimeout(tick, 5, performance.now())
  }
  setTimeout(tick, 5, performance.now())
  try {
    await fn()
  } finally {
    running = false
  }
  // The last timer may still be due; its lateness counts.
  await new Promise((r) => setTimeout(r, 20))
  return Math.round(max)
}

/**
 * A first connection starts PGlite with the seed; then a reset reseeds, a client reads, and a
 * long query runs. Resolves to that query's own duration (ms, as its client saw it).
 */
async function startSeedResetQuery(host: PgliteHost): Promise<number> {
  await host.reset(SEED)
  const { port } = await host.listen()
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`
  const n = await withPg(url, (c) => c.query<{ n: number }>('SELECT count(*)::int AS n FROM items'))
  expect(n.rows[0]!.n).toBe(5000)
  await host.reset(SEED)
  await withPg(url, (c) => c.query('SELECT label FROM items ORDER BY id DESC LIMIT 100'))
  // A query that computes for seconds: Postgres answers it in one synchronous WASM call.
  return withPg(url, async (c) => {
    const started = performance.now()
    const long = await c.query<{ n: string }>(
      'SELECT count(*) AS n FROM generate_series(1, 10000000) AS i WHERE i % 7 = 0',
    )
    expect(long.rows[0]!.n).toBe('1428571')
    return performance.now() - started
  })
}

/** The loop's worst delay while the work runs, and the long query's duration. */
async function measured(host: PgliteHost): Promise<{ delay: number; query: number }> {
  let query = 0
  const delay = await maxLoopDelay(async () => {
    query = await startSeedResetQuery(host)
  })
  return { delay, query: Math.round(query) }
}

const hosts: PgliteHost[] = []
afterEach(async () => {
  await Promise.all(hosts.splice(0).map((h) => h.close()))
})

describe('db: PGlite in a worker thread leaves the event loop free', () => {
  it('the event loop is never held for long while PGlite starts, seeds, resets and answers', async () => {
    const host = new PgliteHost()
    hosts.push(host)
    const { delay, query } = await measured(host)
    console.log(
      `db event loop: max delay ${delay} ms with PGlite in a worker thread (long query ${query} ms)`,
    )
    // Tens of ms here; generous, where other suites share two cores. In this thread the loop
    // would wait for the whole long query.
    expect(delay).toBeLessThan(Math.min(1000, query / 2))
  }, 120_000)

  it('the same work with PGlite in this thread holds the loop for the long query (the measure sees it)', async () => {
    const host = new PgliteHost({ worker: false })
    hosts.push(host)
    const { delay, query } = await measured(host)
    console.log(`db event loop: max delay ${delay} ms with PGlite in this thread (long query ${query} ms)`)
    // The long query is one synchronous call: the loop waits for most of it, however fast.
    expect(delay).toBeGreaterThan(query / 2)
  }, 120_000)
})
