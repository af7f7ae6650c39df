import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { JournalEntry } from '../mocks/core/journal.ts'
import { withPg } from './db-helpers.ts'
import { startTestMocks, type TestMocks } from './helpers.ts'

// Control API answers, as these tests read them.
// biome-ignore lint/suspicious/noExplicitAny: JSON bodies of several shapes, checked by expect
type Body = any

// The db service inside the mocks: started by the runtime, in health, faulted through the
// control API and scenarios by the one engine (times, seeded probability, windows), journaled.

let t: TestMocks

async function api(path: string, init?: RequestInit & { json?: unknown }) {
  const res = await fetch(`${t.controlUrl}${path}`, {
    ...init,
    headers: { 'content-type': 'application/json' },
    body: init?.json === undefined ? undefined : JSON.stringify(init.json),
  })
  return { status: res.status, body: res.status === 204 ? null : ((await res.json()) as Body) }
}

async function tryQuery(extra: Partial<pg.ClientConfig> = {}): Promise<string> {
  const c = new pg.Client({ connectionString: t.url('db'), connectionTimeoutMillis: 3000, ...extra })
  c.on('error', () => {})
  try {
    await c.connect()
    const r = await c.query('SELECT 1 AS v')
    return r.rows[0].v === 1 ? 'ok' : 'wrong'
  } catch (err) {
    return (err as NodeJS.ErrnoException).code ?? (err as Error).message
  } finally {
    await c.end().catch(() => undefined)
  }
}

beforeAll(async () => {
  t = await startTestMocks({ services: ['auth', 'db'] })
}, 60_000)

afterAll(async () => {
  await t?.close()
})

describe('db in the mocks', () => {
  it('health shows its postgres:// URL and state; PGlite starts on the first connection', async () => {
    const h = await api('/__mocks/health')
    expect(h.body.services.db).toEqual({
      url: expect.stringMatching(/^postgres:\/\/postgres:postgres@127\.0\.0\.1:\d+\/postgres$/),
      state: 'up',
    })
    // PGlite starts now: seconds on a loaded machine.
    expect(await tryQuery({ connectionTimeoutMillis: 60_000 })).toBe('ok')
  }, 90_000)

  it('HTTP- and WS-only faults, and a match, are refused for db with a reason', async () => {
    const status = await api('/__mocks/faults', {
      method: 'POST',
      json: { service: 'db', effect: { type: 'status', status: 500 } },
    })
    expect(status.status).toBe(400)
    expect(JSON.stringify(status.body)).toContain('raw TCP')
    const ws = await api('/__mocks/faults', {
      method: 'POST',
      json: { service: 'db', effect: { type: 'ws-silence' } },
    })
    expect(ws.status).toBe(400)
    const match = await api('/__mocks/faults', {
      method: 'POST',
      json: { service: 'db', match: { path: '/x' }, effect: { type: 'reset' } },
    })
    expect(match.status).toBe(400)
    expect(JSON.stringify(match.body)).toContain('takes no match')
  })

  it('down from the control API: ECONNREFUSED and health says down; removed, it is back', async () => {
    const added = await api('/__mocks/faults', {
      method: 'POST',
      json: { service: 'db', effect: { type: 'down' } },
    })
    expect(added.status).toBe(201)
    await waitFor(async () => (await api('/__mocks/health')).body.services.db.state === 'down')
    expect(await tryQuery()).toBe('ECONNREFUSED')
    await api(`/__mocks/faults/${added.body.id}`, { method: 'DELETE' })
    await waitFor(async () => (await api('/__mocks/health')).body.services.db.state === 'up')
    expect(await tryQuery()).toBe('ok')
  })

  it('reset with times: 2 cuts two connections, then expires; journaled with the fault', async () => {
    await api('/__mocks/journal', { method: 'DELETE' })
    const added = await api('/__mocks/faults', {
      method: 'POST',
      json: { id: 'db-reset-2', service: 'db', times: 2, effect: { type: 'reset' } },
    })
    expect(added.status).toBe(201)
    expect([await tryQuery(), await tryQuery(), await tryQuery()]).toEqual(['ECONNRESET', 'ECONNRESET', 'ok'])
    const faults = await api('/__mocks/faults')
    expect(faults.body.faults ?? faults.body).toEqual(
      expect.arrayContaining([expect.objectContaining({ id: 'db-reset-2', fired: 2, state: 'expired' })]),
    )
    await waitFor(async () => (await api('/__mocks/journal?service=db')).body.entries.length >= 6)
    const entries = (await api('/__mocks/journal?service=db')).body.entries as JournalEntry[]
    const opens = entries.filter((e) => e.kind === 'tcp-open')
    expect(opens.slice(0, 2).map((e) => e.fault?.id)).toEqual(['db-reset-2', 'db-reset-2'])
    const closed = entries.find((e) => e.kind === 'tcp-close' && e.fault === null)
    expect(closed?.bytesIn).toBeGreaterThan(0)
    expect(closed?.bytesOut).toBeGreaterThan(0)
    await api('/__mocks/faults/db-reset-2', { method: 'DELETE' })
  })

  it('latency in an afterMs/forMs window: slow inside it, never early; fast after', async () => {
    await api('/__mocks/faults', {
      method: 'POST',
      json: {
        id: 'db-slow-window',
        service: 'db',
        afterMs: 0,
        forMs: 1500,
        effect: { type: 'latency', ms: 300 },
      },
    })
    const c = new pg.Client({ connectionString: t.url('db') })
    await c.connect()
    let start = performance.now()
    await c.query('SELECT 1')
    expect(performance.now() - start).toBeGreaterThanOrEqual(300)
    await new Promise((r) => setTimeout(r, 1600))
    start = performance.now()
    await c.query('SELECT 1')
    expect(performance.now() - start).toBeLessThan(300)
    await c.end()
    await api('/__mocks/faults/db-slow-window', { method: 'DELETE' })
  })

  it('probability is seeded: the same faults give the same outcomes after a reset', async () => {
    const run = async () => {
      await api('/__mocks/faults', {
        method: 'POST',
        json: { id: 'db-coin', service: 'db', probability: 0.5, effect: { type: 'reset' } },
      })
      const out: string[] = []
      for (let i = 0; i < 8; i++) out.push(await tryQuery())
      await api('/__mocks/faults/db-coin', { method: 'DELETE' })
      return out
    }
    const a = await run()
    const b = await run()
    expect(a).toEqual(b)
    expect(a).toContain('ECONNRESET')
  })

  it('scenarios db-down, db-slow and db-flaky reach it; reset restores the seed', async () => {
    let r = await api('/__mocks/scenario', { method: 'PUT', json: { name: 'db-down' } })
    expect(r.status).toBe(200)
    expect(await tryQuery()).toBe('ECONNREFUSED')
    r = await api('/__mocks/scenario', { method: 'PUT', json: { name: 'db-slow' } })
    expect(r.status).toBe(200)
    expect(await tryQuery({ query_timeout: 500 })).toMatch(/timeout/i)
    r = await api('/__mocks/scenario', { method: 'PUT', json: { name: 'db-flaky' } })
    const outcomes = new Set<string>()
    for (let i = 0; i < 10; i++) outcomes.add(await tryQuery())
    expect([...outcomes].sort()).toEqual(['ECONNRESET', 'ok'])
    // An inline scenario with seed SQL: applied, changed, reset to the seed.
    r = await api('/__mocks/scenario', {
      method: 'PUT',
      json: {
        scenario: {
          name: 'db-seeded',
          extends: 'default',
          db: { seed: "CREATE TABLE homes (name text); INSERT INTO homes VALUES ('Okafor');" },
        },
      },
    })
    expect(r.status).toBe(200)
    await withPg(t.url('db'), (c) => c.query("INSERT INTO homes VALUES ('extra')"))
    expect((await api('/__mocks/reset', { method: 'POST' })).status).toBe(200)
    const { rows } = await withPg(t.url('db'), (c) => c.query('SELECT name FROM homes'))
    expect(rows).toEqual([{ name: 'Okafor' }])
    await api('/__mocks/scenario', { method: 'PUT', json: { name: 'default' } })
  }, 60_000)
})

async function waitFor(check: () => Promise<boolean>, ms = 5000): Promise<void> {
  const until = Date.now() + ms
  while (!(await check())) {
    if (Date.now() > until) throw new Error('condition not reached in time')
    await new Promise((r) => setTimeout(r, 20))
  }
}
