import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { DB_TIMEOUT_MS } from '../mocks/demo/household.ts'
import { startTestMocks, type TestMocks } from './helpers.ts'

// The demo's household routes over real sockets: a real query with `pg` through the db
// service's fault proxy, as family-hub's server reads its Postgres. Each db scenario gives the
// page what the matrix asks: the data, or the graceful degradation message (never a 500), with
// the attempts that led there.

// biome-ignore lint/suspicious/noExplicitAny: JSON bodies of several shapes, checked by expect
type Body = any

let t: TestMocks

async function get(path: string): Promise<{ status: number; body: Body; ms: number }> {
  const started = performance.now()
  const res = await fetch(`${t.controlUrl}${path}`)
  return { status: res.status, body: await res.json(), ms: performance.now() - started }
}

async function useScenario(name: string) {
  const res = await fetch(`${t.controlUrl}/__mocks/scenario`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name }),
  })
  expect(res.status).toBe(200)
}

const outcomes = (body: Body) => (body.attempts as { outcome: string }[]).map((a) => a.outcome).join(',')

beforeAll(async () => {
  t = await startTestMocks({ services: ['auth', 'db'], scenario: 'db-household' })
  // PGlite starts on the first connection (seconds on a loaded machine): not the routes' 2 s.
  const c = new pg.Client({ connectionString: t.url('db'), connectionTimeoutMillis: 90_000 })
  await c.connect()
  await c.end()
}, 120_000)

afterAll(async () => {
  await t?.close()
})

describe('demo household routes (family-hub reading its Postgres)', () => {
  it('healthy: the seeded household, members and events; health ok', async () => {
    const r = await get('/api/household')
    expect(r.status).toBe(200)
    expect(r.body.household.name).toBe('The Casa household')
    expect(r.body.household.members.map((m: Body) => m.name)).toEqual([
      'Ada Admin',
      'Charlie Child',
      'Maya Member',
      'Milo Member',
    ])
    expect(r.body.household.events.map((e: Body) => e.title)).toEqual([
      'Bin day',
      'Swimming lesson (Charlie)',
      'Parents evening',
    ])
    expect(outcomes(r.body)).toBe('ok')
    const h = await get('/api/health')
    expect(h.status).toBe(200)
    expect(h.body).toEqual({ status: 'ok', checks: { database: { status: 'ok', ms: expect.any(Number) } } })
  })

  it('db-down: the degradation message at once, one attempt (refused), health unhealthy', async () => {
    await useScenario('db-down')
    const r = await get('/api/household')
    expect(r.status).toBe(503)
    expect(r.body).toMatchObject({
      error: "We can't reach your household data right now, try again in a moment.",
      code: 'db_unavailable',
      reason: 'connection refused (ECONNREFUSED)',
    })
    expect(outcomes(r.body)).toBe('refused')
    expect(r.ms).toBeLessThan(DB_TIMEOUT_MS)
    const h = await get('/api/health')
    expect(h.status).toBe(503)
    expect(h.body.status).toBe('unhealthy')
    expect(h.body.checks.database.reason).toBe('connection refused (ECONNREFUSED)')
  })

  it('db-slow: gives up at its 2 s timeout (not the 6 s the database takes), no retry', async () => {
    await useScenario('db-slow')
    const r = await get('/api/household')
    expect(r.status).toBe(503)
    expect(r.body.code).toBe('db_unavailable')
    expect(r.body.reason).toBe(`no answer in ${DB_TIMEOUT_MS} ms`)
    expect(outcomes(r.body)).toBe('timeout')
    expect(r.ms).toBeGreaterThanOrEqual(DB_TIMEOUT_MS - 5)
    expect(r.ms).toBeLessThan(5500)
    const h = await get('/api/health')
    expect(h.status).toBe(503)
    expect(h.body.checks.database.reason).toBe(`no answer in ${DB_TIMEOUT_MS} ms`)
  }, 20_000)

  it('db-flaky: a cut read is retried once; the seeded sequence repeats after a reset', async () => {
    await useScenario('db-flaky')
    const run = async () => {
      const seen: string[] = []
      for (let i = 0; i < 12; i++) {
        const r = await get('/api/household')
        const o = outcomes(r.body)
        if (r.status === 200) {
          expect(r.body.household.name).toBe('The Casa household')
          expect(o).toMatch(/^(reset,)?ok$/)
        } else {
          expect(r.status).toBe(503)
          expect(r.body.code).toBe('db_unavailable')
          expect(o).toBe('reset,reset')
        }
        seen.push(o)
      }
      return seen
    }
    const first = await run()
    // About one draw in three resets: over 12 reads the seed gives each kind of read.
    expect(first).toContain('ok')
    expect(first).toContain('reset,ok')
    expect(first).toContain('reset,reset')
    const reset = await fetch(`${t.controlUrl}/__mocks/reset`, { method: 'POST' })
    expect(reset.status).toBe(200)
    expect(await run()).toEqual(first)
  }, 60_000)

  it('a scenario without the household seed: 404 no_household_data, not a 500', async () => {
    await useScenario('default')
    const r = await get('/api/household')
    expect(r.status).toBe(404)
    expect(r.body.code).toBe('no_household_data')
    expect((await get('/api/health')).status).toBe(200)
  })
})
