import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { ControlApiError, createControlClient, MocksNotRunningError } from '../mocks/client/index.ts'
import { createControlApp } from '../mocks/runtime/control.ts'
import { startTestMocks, type TestMocks } from './helpers.ts'

const ControlError = z.strictObject({
  error: z.string().min(1),
  code: z.string().min(1),
  issues: z.array(z.strictObject({ path: z.string(), message: z.string() })).optional(),
})

let t: TestMocks
let client: ReturnType<typeof createControlClient>
beforeAll(async () => {
  t = await startTestMocks({ services: ['auth'] })
  client = createControlClient({ baseUrl: t.controlUrl })
})
afterAll(() => t.close())

async function call(method: string, path: string, body?: unknown, base = t.controlUrl) {
  const res = await fetch(`${base}/__mocks${path}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  })
  const text = await res.text()
  return { status: res.status, body: text ? JSON.parse(text) : undefined }
}

describe('control API', () => {
  it('health names the scenario and each service with its URL (as a frontend uses it) and state', async () => {
    const h = await client.health()
    expect(h.scenario).toBe('default')
    expect(h.services.auth).toEqual({ url: `http://localhost:${new URL(t.url('auth')).port}`, state: 'up' })
  })

  it('lists scenarios with descriptions', async () => {
    const { scenarios } = await client.scenarios()
    expect(scenarios.find((s) => s.name === 'default')?.description).toMatch(/healthy/i)
  })

  it('users come with passwords and signed cookies that the fake auth accepts', async () => {
    const { users } = await client.users()
    const child = users.find((u) => u.role === 'child')!
    expect(child).toMatchObject({
      email: 'child@casa.test',
      password: 'child-password-1',
      cookieName: 'better-auth.session_token',
    })
    const res = await fetch(`${t.url('auth')}/api/auth/get-session`, {
      headers: { cookie: `${child.cookieName}=${child.cookieValue}` },
    })
    expect((await res.json()).user.role).toBe('child')
  })

  it('channels list seeded members, with "all" expanded', async () => {
    const { channels } = await client.channels()
    expect(channels.map((c) => c.id)).toEqual(['general', 'family', 'parents'])
    expect(channels[0]?.members).toContain('usr_child')
    expect(channels[2]?.members).toEqual(['usr_admin', 'usr_member'])
  })

  it('switches scenarios by name and inline; the scenario in force is readable', async () => {
    await client.useScenario({ name: 'ctl-inline', extends: 'default', description: 'x', seed: 5 })
    let s = await client.scenario()
    expect(s).toMatchObject({ name: 'ctl-inline', seed: 5 })
    await client.useScenario('default')
    s = await client.scenario()
    expect(s.name).toBe('default')
    // Idempotent.
    await client.useScenario('default')
    expect((await client.health()).scenario).toBe('default')
  })

  it('a bad scenario gets 400 naming every bad path, and the old one stays in force', async () => {
    const res = await call('PUT', '/scenario', {
      scenario: { name: 'bad', seed: 'x', auth: { users: [{ id: 1 }] } },
    })
    expect(res.status).toBe(400)
    ControlError.parse(res.body)
    const paths = res.body.issues.map((i: { path: string }) => i.path)
    expect(paths).toEqual(expect.arrayContaining(['seed', 'auth.users.0.id', 'auth.users.0.email']))
    expect((await client.health()).scenario).toBe('default')
    const unknown = await call('PUT', '/scenario', { name: 'does-not-exist' })
    expect(unknown.status).toBe(404)
    expect(unknown.body.code).toBe('unknown_scenario')
    for (const body of ['{', '[]', '{"name": 3}', '']) {
      const r = await call('PUT', '/scenario', body)
      expect(r.status, body).toBe(400)
      ControlError.parse(r.body)
    }
  })

  it('reset brings back the first state: sign-ups gone, runtime faults gone, journal empty', async () => {
    await fetch(`${t.url('auth')}/api/auth/sign-up/email`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin: 'http://localhost:3000' },
      body: JSON.stringify({ name: 'Temp', email: 'temp@casa.test', password: 'temp-password' }),
    })
    await client.addFault({ service: 'auth', effect: { type: 'latency', ms: 1 } })
    await client.reset()
    expect((await client.faults()).faults).toEqual([])
    expect((await client.journal()).entries).toEqual([])
    const signIn = await fetch(`${t.url('auth')}/api/auth/sign-in/email`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin: 'http://localhost:3000' },
      body: JSON.stringify({ email: 'temp@casa.test', password: 'temp-password' }),
    })
    expect(signIn.status).toBe(401)
  })

  it('faults: add (201 with id), list, remove, clear; bad faults get 400 with paths', async () => {
    const created = await call('POST', '/faults', {
      service: 'auth',
      match: { path: '/api/auth/ok' },
      effect: { type: 'status', status: 503 },
    })
    expect(created.status).toBe(201)
    expect(created.body.id).toMatch(/^fault-\d+$/)
    expect((await fetch(`${t.url('auth')}/api/auth/ok`)).status).toBe(503)
    expect((await client.faults()).faults.map((f) => f.id)).toContain(created.body.id)
    expect((await call('DELETE', `/faults/${created.body.id}`)).status).toBe(204)
    expect((await fetch(`${t.url('auth')}/api/auth/ok`)).status).toBe(200)
    expect((await call('DELETE', '/faults/nope')).status).toBe(404)
    const bad = await call('POST', '/faults', {
      service: 'nowhere',
      effect: { type: 'latency', ms: 'x' },
      times: 0,
    })
    expect(bad.status).toBe(400)
    ControlError.parse(bad.body)
    expect(bad.body.issues.map((i: { path: string }) => i.path)).toEqual(
      expect.arrayContaining(['service', 'effect.ms', 'times']),
    )
    await client.addFault({ service: 'auth', effect: { type: 'latency', ms: 1 } })
    await client.clearFaults()
    expect((await client.faults()).faults).toEqual([])
  })

  it('journal filters by service, method and path, and can be cleared', async () => {
    await client.clearJournal()
    await fetch(`${t.url('auth')}/api/auth/ok`)
    await fetch(`${t.url('auth')}/api/auth/get-session`)
    await fetch(`${t.url('auth')}/api/auth/sign-out`, { method: 'POST' })
    expect((await client.journal({ service: 'auth' })).entries).toHaveLength(3)
    expect((await client.journal({ method: 'post' })).entries.map((e) => e.path)).toEqual([
      '/api/auth/sign-out',
    ])
    expect((await client.journal({ path: '/api/auth/ok' })).entries).toHaveLength(1)
    expect((await client.journal({ service: 'chat' })).entries).toHaveLength(0)
    const report = (await client.journalReport()) as { missing: number }
    expect(report.missing).toBe(3)
  })

  it('streams the journal as server-sent events', async () => {
    const seen: unknown[] = []
    const stop = client.tail((e) => seen.push(e))
    await new Promise((r) => setTimeout(r, 100))
    await fetch(`${t.url('auth')}/api/auth/ok`, { headers: { 'x-request-id': 'sse-1' } })
    for (let i = 0; i < 20 && seen.length === 0; i++) await new Promise((r) => setTimeout(r, 25))
    stop()
    expect(seen[0]).toMatchObject({ service: 'auth', path: '/api/auth/ok', status: 200 })
  })

  it('each fake serves its own slice under /__mocks, scoped to it', async () => {
    const h = await call('GET', '/health', undefined, t.url('auth'))
    expect(h.body).toMatchObject({ service: 'auth', scenario: 'default' })
    const f = await call('POST', '/faults', { effect: { type: 'status', status: 500 } }, t.url('auth'))
    expect(f.body.service).toBe('auth')
    // Control routes are never faulted: the slice still answers.
    expect((await call('GET', '/faults', undefined, t.url('auth'))).status).toBe(200)
    await client.clearFaults()
  })

  it("a fake's slice refuses another HTTP fake's faults, in the control envelope", async () => {
    const other = await call('POST', '/faults', { service: 'chat', effect: { type: 'down' } }, t.url('auth'))
    expect(other.status).toBe(400)
    expect(ControlError.parse(other.body).issues?.[0]).toMatchObject({ path: 'service' })
    expect(other.body.issues[0].message).toMatch(/chat's own \/__mocks\/faults or on the control plane/)
    expect((await client.faults()).faults).toEqual([])
  })

  it('unknown control routes answer in the control envelope', async () => {
    const res = await call('GET', '/nope')
    expect(res.status).toBe(404)
    ControlError.parse(res.body)
  })

  it('refuses non-loopback callers unless the token is set and presented', async () => {
    const app = createControlApp(t.mocks)
    const remote = {
      incoming: { socket: { remoteAddress: '192.0.2.10', remotePort: 5000, remoteFamily: 'IPv4' } },
    }
    let res = await app.request('/health', {}, remote)
    expect(res.status).toBe(403)
    t.mocks.config.controlToken = 'sekret'
    try {
      res = await app.request('/health', {}, remote)
      expect(res.status).toBe(401)
      res = await app.request('/health', { headers: { authorization: 'Bearer sekret' } }, remote)
      expect(res.status).toBe(200)
    } finally {
      t.mocks.config.controlToken = undefined
    }
  })

  it('the client says plainly when the mocks are not running', async () => {
    const dead = createControlClient({ baseUrl: 'http://127.0.0.1:9' })
    await expect(dead.health()).rejects.toBeInstanceOf(MocksNotRunningError)
    await expect(dead.health()).rejects.toThrow(/pnpm dev:mocks/)
    await expect(client.useScenario('nope-nope')).rejects.toBeInstanceOf(ControlApiError)
  })
})

describe("a fake's slice and a service with no slice of its own (the database)", () => {
  let m: TestMocks
  beforeAll(async () => {
    m = await startTestMocks({ services: ['v01t', 'db'] })
  })
  afterAll(() => m.close())

  it('adds, lists and removes db faults: without a control plane (--only, replicas) they are reachable nowhere else', async () => {
    const slice = m.url('v01t')
    const added = await call(
      'POST',
      '/faults',
      { id: 'db-via-v01t', service: 'db', effect: { type: 'reset' } },
      slice,
    )
    expect(added.status).toBe(201)
    const own = await call(
      'POST',
      '/faults',
      { id: 'v01t-own', effect: { type: 'status', status: 503 } },
      slice,
    )
    expect(own.body.service).toBe('v01t')
    const listed = await call('GET', '/faults', undefined, slice)
    expect(listed.body.faults.map((f: { id: string }) => f.id).sort()).toEqual(['db-via-v01t', 'v01t-own'])
    expect((await call('DELETE', '/faults/db-via-v01t', undefined, slice)).status).toBe(204)
    expect(
      (await call('GET', '/faults', undefined, m.controlUrl)).body.faults.map((f: { id: string }) => f.id),
    ).toEqual(['v01t-own'])
    await call('POST', '/faults', { id: 'db-again', service: 'db', effect: { type: 'reset' } }, slice)
    expect((await call('DELETE', '/faults', undefined, slice)).status).toBe(204)
    expect((await call('GET', '/faults', undefined, m.controlUrl)).body.faults).toEqual([])
  })
})

describe('a slice and the journal', () => {
  let m: TestMocks
  beforeAll(async () => {
    m = await startTestMocks({ services: ['auth', 'v01t'] })
  })
  afterAll(() => m.close())

  it("a slice lists its own fake's journal only, and its DELETE empties the tenant's one journal (README)", async () => {
    expect((await fetch(`${m.url('auth')}/api/auth/ok`)).status).toBe(200)
    expect((await fetch(`${m.url('v01t')}/trace/devarno-ecosystem/node/`)).status).toBe(200)
    const listed = await call('GET', '/journal', undefined, m.url('auth'))
    expect((listed.body.entries as { service: string }[]).map((e) => e.service)).toEqual(['auth'])
    expect((await call('DELETE', '/journal', undefined, m.url('auth'))).status).toBe(204)
    expect((await call('GET', '/journal', undefined, m.controlUrl)).body.entries).toEqual([])
  })
})
