import * as fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { ChatTestClient } from '../../mocks/chat/testing.ts'
import { startTestMocks, type TestMocks } from '../helpers.ts'
import {
  type Answer,
  checkAnswer,
  envInt,
  FC_SEED,
  http,
  type Owner,
  watchProcess,
  writeResult,
} from './support.ts'

// Tenant ids wherever they can appear (the X-Mocks-Tenant header, the baggage member, the
// mocks_tenant cookie, the control API's ?tenant=): unknown, malformed, oversized and deleted
// ones, on every HTTP fake, the chat socket and the control plane. Each is refused in the
// service's own envelope (400, 404 or 409), never answered from another tenant's world, never a
// crash; no tenant appears or disappears, the default tenant's journal stays untouched.

const RUNS = envInt('RELIABILITY_TENANT_RUNS', 40)
vi.setConfig({ testTimeout: 30_000 + RUNS * 400 })
const params = { numRuns: RUNS, seed: FC_SEED }
let t: TestMocks
let watch: ReturnType<typeof watchProcess>
let live: string
let deleted: string
const checks: { name: string; cases: number; held: boolean; note?: string }[] = []

const control = (path: string, init: RequestInit = {}) => fetch(`${t.controlUrl}/__mocks${path}`, init)

beforeAll(async () => {
  watch = watchProcess()
  t = await startTestMocks()
  const make = async (id: string) =>
    control('/tenants', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'default', id }),
    })
  expect((await make('rel-live')).status).toBe(201)
  expect((await make('rel-deleted')).status).toBe(201)
  expect((await control('/tenants/rel-deleted', { method: 'DELETE' })).status).toBe(204)
  live = 'rel-live'
  deleted = 'rel-deleted'
})
afterAll(async () => {
  watch.stop()
  writeResult('tenants', { runsPerProperty: RUNS, seed: FC_SEED, checks, processErrors: watch.seen })
  await t?.close()
})

/** A tenant id as a client might send one: valid-looking unknown, malformed, oversized, deleted. */
const tenantArb: fc.Arbitrary<string> = fc.oneof(
  fc.stringMatching(/^[a-z0-9][a-z0-9-]{0,62}$/).filter((s) => s !== 'default' && s !== 'rel-live'),
  fc.string({ minLength: 0, maxLength: 80 }),
  fc.string({ unit: 'grapheme', maxLength: 30 }),
  fc.constantFrom(
    '',
    ' ',
    'DEFAULT',
    '-x',
    'a'.repeat(64),
    'a'.repeat(4000),
    '../etc',
    'a;b',
    'a,b',
    '%2e%2e',
  ),
  fc.constant('rel-deleted'),
)

/** What fetch/node can send in a header: printable latin-1, no CR/LF. */
const headerSafe = (s: string) => s.replace(/[^\x20-\x7e]/g, '?')

type Place = 'header' | 'baggage' | 'cookie'
const placeArb = fc.constantFrom<Place>('header', 'baggage', 'cookie')

function placed(place: Place, value: string): Record<string, string> {
  const v = headerSafe(value)
  if (place === 'header') return { 'x-mocks-tenant': v }
  if (place === 'baggage') return { baggage: `a=1,mocks.tenant=${encodeURIComponent(value)}` }
  return { cookie: `mocks_tenant=${encodeURIComponent(value)}` }
}

const ROUTES: { owner: Owner; service: string; path: string }[] = [
  { owner: 'v01t', service: 'v01t', path: '/trace/devarno-ecosystem/node/' },
  { owner: 'chat', service: 'chat', path: '/api/v1/messages?channel=general' },
  { owner: 'media', service: 'media', path: '/api/v1/files/file_sunset' },
  { owner: 'auth', service: 'auth', path: '/api/auth/get-session' },
  { owner: 'upstash', service: 'upstash', path: '/get/k' },
]

/** Whether the value, as the server reads it after decoding, names the live tenant. */
function names(place: Place, value: string, id: string): boolean {
  return (place === 'header' ? headerSafe(value).trim() : value) === id
}

function record(name: string, cases: number, problems: string[], note?: string) {
  checks.push({ name, cases, held: problems.length === 0, ...(note ? { note } : {}) })
  expect(problems).toEqual([])
}

describe('tenant ids in every place', () => {
  it('service traffic naming a tenant that is not live: 400/404/409 in the envelope, the default world untouched', async () => {
    const before = t.mocks.journal.list().length
    const problems: string[] = []
    let cases = 0
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...ROUTES), placeArb, tenantArb, async (route, place, value) => {
        if (names(place, value, live)) return
        cases++
        const a: Answer = await http(t.url(route.service), {
          path: route.path,
          headers: {
            ...placed(place, value),
            authorization: 'Bearer devarno-mocks-upstash-development-token',
          },
        })
        // An empty cookie or baggage value names no tenant at all: the default world answers.
        const empty = place !== 'header' && value === ''
        if (empty) return
        const found = checkAnswer(route.owner, a, { allowed: [400, 404, 409, 431] })
        problems.push(
          ...found.map((p) => `${route.service} ${place}=${JSON.stringify(value.slice(0, 40))}: ${p}`),
        )
      }),
      params,
    )
    // Nothing reached the default tenant's engine (its journal) or created a tenant.
    expect(t.mocks.journal.list().length).toBe(before)
    expect(t.mocks.listTenants().map((x) => x.id)).toEqual(['default', live])
    record('tenant ids on service traffic (header, baggage, cookie)', cases, problems)
  })

  it('the live tenant named anywhere reaches its own world only', async () => {
    const tenant = t.mocks.tenant(live)!
    const before = tenant.journal.list().length
    const defaultBefore = t.mocks.journal.list().length
    let cases = 0
    for (const place of ['header', 'baggage', 'cookie'] as const) {
      const a = await http(t.url('v01t'), {
        path: '/trace/devarno-ecosystem/node/?mark=1',
        headers: placed(place, live),
      })
      expect(a.status).toBe(200)
      cases++
    }
    expect(tenant.journal.list().length).toBe(before + cases)
    expect(t.mocks.journal.list().length).toBe(defaultBefore)
    record('a live tenant named by header, baggage or cookie', cases, [])
  })

  it('the control API with any ?tenant= or header: 400/404/409 in the control envelope', async () => {
    const problems: string[] = []
    let cases = 0
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('/scenario', '/faults', '/journal', '/health', '/users'),
        fc.constantFrom('query', 'header'),
        tenantArb,
        async (path, where, value) => {
          const named = where === 'header' ? headerSafe(value).trim() : value
          if (named === live || named === 'default') return
          cases++
          const a =
            where === 'query'
              ? await http(t.controlUrl, { path: `/__mocks${path}?tenant=${encodeURIComponent(value)}` })
              : await http(t.controlUrl, {
                  path: `/__mocks${path}`,
                  headers: { 'x-mocks-tenant': headerSafe(value) },
                })
          // An empty ?tenant= or header is no tenant: the default one.
          if (named === '') return
          problems.push(
            ...checkAnswer('control', a, { allowed: [400, 404, 431] }).map((p) => `${path} ${where}: ${p}`),
          )
        },
      ),
      params,
    )
    expect(t.mocks.listTenants().map((x) => x.id)).toEqual(['default', live])
    record('tenant ids on the control API (?tenant=, header)', cases, problems)
  })

  it('chat sockets naming a tenant that is not live are refused in the handshake', async () => {
    const problems: string[] = []
    let cases = 0
    await fc.assert(
      fc.asyncProperty(placeArb, tenantArb, async (place, value) => {
        if (names(place, value, live) || (place !== 'header' && value === '')) return
        cases++
        const status = await ChatTestClient.upgradeStatus(
          `${t.url('chat').replace(/^http/, 'ws')}/ws?token=${t.tokenFor('usr_member')}`,
          { headers: placed(place, value) },
        ).catch(() => 0)
        if (![400, 404, 409].includes(status))
          problems.push(`${place}=${JSON.stringify(value.slice(0, 40))}: ${status}`)
      }),
      { ...params, numRuns: Math.min(RUNS, 25) },
    )
    record('tenant ids on chat WebSocket handshakes', cases, problems)
  })

  it('a deleted tenant is a 404 everywhere; the process lived through it all', async () => {
    const a = await http(t.url('chat'), {
      path: '/api/v1/messages?channel=general',
      headers: placed('cookie', deleted),
    })
    expect(a.status).toBe(404)
    const c = await http(t.controlUrl, { path: `/__mocks/journal?tenant=${deleted}` })
    expect(c.status).toBe(404)
    expect(watch.seen).toEqual([])
    record('deleted tenant ids', 2, [])
  })
})
