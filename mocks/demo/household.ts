import type { Context, Hono } from 'hono'
import pg from 'pg'

// family-hub's household data, read from its Postgres (DATABASE_URL: the db service, through
// its fault proxy) as family-hub's server would: a real query with `pg`, a short timeout so a
// slow database degrades the page instead of hanging it, and one retry of this idempotent read
// when the connection was cut (db-flaky). The page shows the matrix's "graceful degradation
// message" when the database cannot be reached, never a 500. GET /api/health is family-hub's
// health check: unhealthy while the database is.

/** Connect and query timeout, each (family-hub's would be a few seconds; db-slow answers after 6). */
export const DB_TIMEOUT_MS = 2000

export interface HouseholdHost {
  url(service: 'db'): string | undefined
}

export interface Household {
  id: string
  name: string
  members: { id: string; name: string; role: string }[]
  events: { title: string; startsAt: string }[]
}

/** One attempt as the route reports it: what happened and how long it took. */
export interface Attempt {
  outcome: 'ok' | 'refused' | 'reset' | 'timeout' | 'query-error' | 'unreachable'
  ms: number
  detail?: string
}

// One statement, simple protocol (no parameters): one message each way per read.
const QUERY = `SELECT h.id, h.name,
  COALESCE((SELECT json_agg(json_build_object('id', m.user_id, 'name', m.name, 'role', m.role) ORDER BY m.name)
    FROM household_members m WHERE m.household_id = h.id), '[]') AS members,
  COALESCE((SELECT json_agg(json_build_object('title', e.title, 'startsAt', e.starts_at) ORDER BY e.starts_at)
    FROM household_events e WHERE e.household_id = h.id), '[]') AS events
FROM households h ORDER BY h.id LIMIT 1`

class QueryError extends Error {
  constructor(
    message: string,
    readonly sqlState: string,
  ) {
    super(message)
  }
}

/** What a failure of `pg` means for the page. */
export function classify(err: unknown): Omit<Attempt, 'ms'> {
  const e = err as NodeJS.ErrnoException & { severity?: string }
  const message = e.message ?? String(err)
  if (e.code === 'ECONNREFUSED') return { outcome: 'refused', detail: 'connection refused (ECONNREFUSED)' }
  if (e.code === 'ECONNRESET' || e.code === 'EPIPE' || /terminated unexpectedly/i.test(message))
    return { outcome: 'reset', detail: `connection reset (${e.code ?? 'closed mid-query'})` }
  if (/timeout/i.test(message)) return { outcome: 'timeout', detail: `no answer in ${DB_TIMEOUT_MS} ms` }
  if (e.severity && typeof e.code === 'string') return { outcome: 'query-error', detail: message }
  return { outcome: 'unreachable', detail: e.code ?? message }
}

async function queryOnce<T extends pg.QueryResultRow>(url: string, sql: string): Promise<T[]> {
  const client = new pg.Client({
    connectionString: url,
    connectionTimeoutMillis: DB_TIMEOUT_MS,
    query_timeout: DB_TIMEOUT_MS,
  })
  // A connection cut after the answer (or while ending) is not this request's failure.
  client.on('error', () => {})
  try {
    await client.connect()
    return (await client.query<T>(sql)).rows
  } catch (err) {
    const e = err as { severity?: string; code?: string; message: string }
    if (e.severity && typeof e.code === 'string') throw new QueryError(e.message, e.code)
    throw err
  } finally {
    // Not awaited: ending waits for the server's goodbye, which a latency fault delays.
    client.end().catch(() => {})
  }
}

/** Runs `sql`, retrying once when the connection was cut; the attempts say what happened. */
export async function readWithRetry<T extends pg.QueryResultRow>(
  url: string,
  sql: string,
  retries = 1,
): Promise<{ rows?: T[]; error?: QueryError; attempts: Attempt[] }> {
  const attempts: Attempt[] = []
  for (let i = 0; i <= retries; i++) {
    const started = performance.now()
    try {
      const rows = await queryOnce<T>(url, sql)
      attempts.push({ outcome: 'ok', ms: Math.round(performance.now() - started) })
      return { rows, attempts }
    } catch (err) {
      const ms = Math.round(performance.now() - started)
      if (err instanceof QueryError) {
        attempts.push({ outcome: 'query-error', ms, detail: err.message })
        return { error: err, attempts }
      }
      const a = { ...classify(err), ms }
      attempts.push(a)
      // Only a cut connection is worth an immediate retry: a refused or silent database
      // would just double the wait.
      if (a.outcome !== 'reset') break
    }
  }
  return { attempts }
}

const unavailable = (c: Context, attempts: Attempt[]) =>
  c.json(
    {
      error: "We can't reach your household data right now, try again in a moment.",
      code: 'db_unavailable',
      reason: attempts.at(-1)?.detail ?? 'unreachable',
      attempts,
    },
    503,
  )

export function registerHouseholdRoutes(app: Hono, host: HouseholdHost): void {
  app.get('/api/household', async (c) => {
    c.header('cache-control', 'no-store')
    const url = host.url('db')
    if (!url) return unavailable(c, [{ outcome: 'unreachable', ms: 0, detail: 'no db service is running' }])
    const { rows, error, attempts } = await readWithRetry<Household>(url, QUERY)
    if (error?.sqlState === '42P01')
      return c.json(
        {
          error: 'This scenario seeds no household data (try db-household).',
          code: 'no_household_data',
          attempts,
        },
        404,
      )
    if (error) return c.json({ error: `The household query failed: ${error.message}`, code: 'db_error' }, 500)
    if (!rows) return unavailable(c, attempts)
    const household = rows[0]
    if (!household)
      return c.json({ error: 'No household in the database', code: 'no_household_data', attempts }, 404)
    return c.json({ household, attempts })
  })

  // family-hub's health check: its database answers within the timeout, or it is unhealthy.
  app.get('/api/health', async (c) => {
    c.header('cache-control', 'no-store')
    const url = host.url('db')
    const { rows, attempts } = url
      ? await readWithRetry(url, 'SELECT 1 AS ok', 0)
      : { rows: undefined, attempts: [{ outcome: 'unreachable', ms: 0, detail: 'no db service' } as Attempt] }
    const a = attempts.at(-1)!
    if (rows) return c.json({ status: 'ok', checks: { database: { status: 'ok', ms: a.ms } } })
    return c.json(
      { status: 'unhealthy', checks: { database: { status: 'unhealthy', reason: a.detail, ms: a.ms } } },
      503,
    )
  })
}
