import pg from 'pg'
import type { Benchmark } from './context.ts'
import { json } from './net.ts'
import type { Figure } from './report.ts'
import { median, percentile, round } from './stats.ts'

// Reset of the database (issue 19: "reset restores the database to the scenario's first state,
// target under 200 ms for a small seed"): `POST /__mocks/reset` timed by the client under
// db-household (three tables, eight rows), each time after a client changed the database, and
// checked restored after each. Baseline: the same reset before PGlite has started (it starts on
// the first connection), when the db has nothing to do: the other fakes' share.

export const DB_RESET_SCENARIO = 'db-household'
export const DB_RESET_TARGET_MS = 200

export interface DbResetTimes {
  /** POST /__mocks/reset with PGlite not started yet, ms. */
  withoutDb: number[]
  /** POST /__mocks/reset restoring the seeded database after a client changed it, ms. */
  withDb: number[]
  /** PGlite's start (the first connection), ms. */
  startMs: number
  /** Every reset restored the seed: the client's rows and table gone, the seed's rows back. */
  restored: boolean
}

/**
 * Times resets over HTTP against running mocks (`control`: the control plane's base URL,
 * `dbUrl`: the db service's DATABASE_URL). Must run before anything else starts PGlite, or
 * `withoutDb` includes the db's share too. Leaves the mocks on `default`.
 */
export async function measureDbReset(opts: {
  control: string
  dbUrl: string
  runs: number
  warmup?: number
}): Promise<DbResetTimes> {
  const reset = async () => {
    const started = performance.now()
    await json(`${opts.control}/__mocks/reset`, { method: 'POST' })
    return performance.now() - started
  }
  await json(`${opts.control}/__mocks/scenario`, { method: 'PUT', body: { name: DB_RESET_SCENARIO } })
  const warmup = opts.warmup ?? 3
  for (let i = 0; i < warmup; i++) await reset()
  const withoutDb: number[] = []
  for (let i = 0; i < opts.runs; i++) withoutDb.push(await reset())

  const t0 = performance.now()
  const client = new pg.Client({ connectionString: opts.dbUrl, connectionTimeoutMillis: 120_000 })
  client.on('error', () => {})
  await client.connect()
  const startMs = performance.now() - t0
  let restored = true
  const dirty = async () => {
    await client.query("INSERT INTO households VALUES ('hh_bench', 'Bench household')")
    await client.query('CREATE TABLE bench_scratch (id int)')
  }
  const check = async () => {
    const r = await client.query<{ households: number; scratch: string | null }>(
      "SELECT (SELECT count(*)::int FROM households) AS households, to_regclass('bench_scratch')::text AS scratch",
    )
    const row = r.rows[0]
    if (row?.households !== 1 || row.scratch !== null) restored = false
  }
  try {
    for (let i = 0; i < warmup; i++) {
      await dirty()
      await reset()
    }
    const withDb: number[] = []
    for (let i = 0; i < opts.runs; i++) {
      await dirty()
      withDb.push(await reset())
      await check()
    }
    return { withoutDb, withDb, startMs, restored }
  } finally {
    await client.end().catch(() => undefined)
    await json(`${opts.control}/__mocks/scenario`, { method: 'PUT', body: { name: 'default' } })
  }
}

export const dbResetBenchmark: Benchmark = {
  id: 'db-reset',
  async run(ctx) {
    const dbUrl = ctx.info.urls.db
    if (!dbUrl) throw new Error('db-reset: the db service is not running in the bench host')
    const runs = ctx.opts.reset.defaultRuns
    ctx.log(`db reset: ${runs} resets of ${DB_RESET_SCENARIO} over HTTP`)
    const t = await measureDbReset({ control: ctx.info.control, dbUrl, runs })
    const fig = (name: string, values: number[], note?: string): Figure => ({
      name,
      unit: 'ms',
      candidate: median(values),
      rounds: { candidate: values },
      ...(note ? { note } : {}),
    })
    const m = median(t.withDb)
    return {
      id: 'db-reset',
      title: 'Reset of the database (db)',
      method: [
        `\`POST /__mocks/reset\` timed by the client, ${runs} times under \`${DB_RESET_SCENARIO}\` (a seed of three`,
        'tables and eight rows), each after a client inserted a row and created a table, and checked restored',
        '(seed rows back, the table gone) after each; 3 unmeasured warm-up resets first. The db drops every user',
        'schema and runs the seed again in the embedded PGlite. "Without the db": the same resets before PGlite',
        "started (it starts on the first connection), the other fakes' share.",
      ].join(' '),
      figures: [
        fig('reset with the db (small seed), over HTTP', t.withDb),
        fig('reset with the db, p95', [percentile(t.withDb, 95)], 'over the runs'),
        fig('reset without the db (PGlite not started), over HTTP', t.withoutDb),
        fig('PGlite start (first connection)', [t.startMs], 'one run'),
      ],
      targets: [
        {
          id: 'reset-db',
          text: `reset restores the database for a small seed < ${DB_RESET_TARGET_MS} ms`,
          observed: `median ${round(m, 1)} ms over HTTP (${round(median(t.withoutDb), 1)} ms without the db)${t.restored ? '' : '; NOT restored'}`,
          met: t.restored && m < DB_RESET_TARGET_MS,
        },
      ],
      notes: t.restored ? [] : ['A reset left the database changed: see tests/db-seed.test.ts.'],
    }
  },
}
