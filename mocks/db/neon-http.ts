import { Hono } from 'hono'
import type pg from 'pg'

// Neon's SQL-over-HTTP protocol, as `@neondatabase/serverless`'s `neon()` speaks it (read from
// its source, 1.2): `POST <fetchEndpoint>` with `{query, params}` or `{queries: [...]}` (a
// transaction), headers `Neon-Connection-String`, `Neon-Raw-Text-Output: true`,
// `Neon-Array-Mode: true`, and for a transaction `Neon-Batch-Isolation-Level`,
// `Neon-Batch-Read-Only`, `Neon-Batch-Deferrable`. A result is `{command, rowCount, rows,
// fields, rowAsArray}` with rows as arrays of Postgres text values (the driver parses them by
// `dataTypeID`); a transaction answers `{results: [...]}`. A Postgres error is a 400 whose JSON
// carries `message` and the error fields (`code`, `detail`, ...), which the driver copies onto
// its NeonDbError. The queries run on the same database, behind the same fault proxy.

export interface NeonQuery {
  query: string
  params?: unknown[]
}

/** Runs queries on one connection of the upstream, released after `fn`. */
export type WithClient = <T>(fn: (client: pg.ClientBase) => Promise<T>) => Promise<T>

const ERROR_FIELDS = [
  'severity',
  'code',
  'detail',
  'hint',
  'position',
  'internalPosition',
  'internalQuery',
  'where',
  'schema',
  'table',
  'column',
  'dataType',
  'constraint',
  'file',
  'line',
  'routine',
] as const

const ISOLATION: Record<string, string> = {
  ReadUncommitted: 'READ UNCOMMITTED',
  ReadCommitted: 'READ COMMITTED',
  RepeatableRead: 'REPEATABLE READ',
  Serializable: 'SERIALIZABLE',
}

/** Every value stays Postgres text: the driver parses it with its own type parsers. */
const RAW_TEXT = { getTypeParser: () => (value: string) => value }

async function run(client: pg.ClientBase, q: NeonQuery) {
  const config: pg.QueryArrayConfig & { queryMode: 'extended' } = {
    text: q.query,
    values: q.params ?? [],
    rowMode: 'array',
    types: RAW_TEXT as never,
    // Always the extended protocol, as Neon runs HTTP queries: several statements in one
    // ("BEGIN; SELECT 1") are a Postgres error (42601), not several results (pg's simple
    // protocol, taken when there are no params, answered an array this could not read: a 503).
    queryMode: 'extended',
  }
  const result = await client.query(config)
  return {
    command: result.command,
    rowCount: result.rowCount,
    rows: result.rows,
    fields: result.fields.map((f) => ({
      name: f.name,
      tableID: f.tableID,
      columnID: f.columnID,
      dataTypeID: f.dataTypeID,
      dataTypeSize: f.dataTypeSize,
      dataTypeModifier: f.dataTypeModifier,
      format: f.format,
    })),
    rowAsArray: true,
  }
}

function isQuery(x: unknown): x is NeonQuery {
  const q = x as NeonQuery | null
  return (
    typeof q === 'object' &&
    q !== null &&
    typeof q.query === 'string' &&
    (q.params === undefined || Array.isArray(q.params))
  )
}

export function createNeonHttpApp(withClient: WithClient): Hono {
  const app = new Hono()
  app.post('/sql', async (c) => {
    let body: unknown
    try {
      body = await c.req.json()
    } catch {
      return c.json({ message: 'request body is not JSON: send {query, params} or {queries: [...]}' }, 400)
    }
    const batch = (body as { queries?: unknown } | null)?.queries
    if (batch !== undefined && !(Array.isArray(batch) && batch.every(isQuery))) {
      return c.json({ message: 'queries must be an array of {query, params}' }, 400)
    }
    if (batch === undefined && !isQuery(body)) {
      return c.json({ message: 'send {query: string, params?: array} or {queries: [...]}' }, 400)
    }
    try {
      if (batch === undefined) return c.json(await withClient((client) => run(client, body as NeonQuery)))
      const level = c.req.header('neon-batch-isolation-level')
      if (level !== undefined && !ISOLATION[level]) {
        return c.json({ message: `unknown Neon-Batch-Isolation-Level ${level}` }, 400)
      }
      const mode = [
        level ? `ISOLATION LEVEL ${ISOLATION[level]}` : '',
        c.req.header('neon-batch-read-only') === 'true' ? 'READ ONLY' : '',
        c.req.header('neon-batch-deferrable') === 'true' ? 'DEFERRABLE' : '',
      ]
        .filter(Boolean)
        .join(' ')
      const results = await withClient(async (client) => {
        await client.query(`BEGIN ${mode}`)
        try {
          const out = []
          for (const q of batch as NeonQuery[]) out.push(await run(client, q))
          await client.query('COMMIT')
          return out
        } catch (err) {
          await client.query('ROLLBACK').catch(() => undefined)
          throw err
        }
      })
      return c.json({ results })
    } catch (err) {
      const e = err as Error & Record<string, unknown>
      if (typeof e.code === 'string' && typeof e.severity === 'string') {
        const out: Record<string, unknown> = { message: e.message }
        for (const k of ERROR_FIELDS) if (e[k] !== undefined) out[k] = e[k]
        return c.json(out, 400)
      }
      // Not a Postgres error: the database could not be reached.
      return c.json({ message: `database unavailable: ${e.message}` }, 503)
    }
  })
  return app
}
