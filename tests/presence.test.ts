import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { createDemoApp } from '../mocks/demo/index.ts'
import type { FakeService } from '../mocks/fake/descriptor.ts'
import { DEFAULT_UPSTASH_TOKEN } from '../mocks/upstash/settings.ts'
import { startTestMocks, type TestMocks, upstashRateLimit } from './helpers.ts'

// The reference client's presence through the demo server (standing in for family-hub's
// server): a Map per instance (today's family-hub) against Upstash (the planned change). Two
// "instances" are the demo server on the control port and a second demo app over the same
// mocks: only Upstash lets the second see who the first recorded.

let t: TestMocks
let instanceB: ReturnType<typeof createDemoApp>
let member = ''
let memberId = ''

beforeAll(async () => {
  t = await startTestMocks({ services: ['auth', 'upstash'] })
  instanceB = createDemoApp(t.mocks)
  member = t.cookieFor('member')
  memberId = t.mocks.scenario.auth.users.find((u) => u.role === 'member' && !u.banned)!.id
})
afterAll(() => t.close())
beforeEach(() => t.mocks.reset())

const heartbeatA = (store: string, cookie = member) =>
  fetch(`${t.controlUrl}/api/presence/heartbeat?channel=general&store=${store}`, {
    method: 'POST',
    headers: { cookie },
  })
const listA = async (store: string) => fetch(`${t.controlUrl}/api/presence?channel=general&store=${store}`)
const listB = async (store: string) => instanceB.request(`/api/presence?channel=general&store=${store}`)

describe('presence across two instances', () => {
  it('memory (today): the instance that saw the heartbeat knows, the other does not', async () => {
    expect((await heartbeatA('memory')).status).toBe(200)
    expect(await (await listA('memory')).json()).toEqual({
      channel: 'general',
      store: 'memory',
      online: [memberId],
    })
    expect(await (await listB('memory')).json()).toEqual({ channel: 'general', store: 'memory', online: [] })
  })

  it('upstash: a heartbeat on one instance is seen by the other, kept in the Upstash fake', async () => {
    expect(await (await heartbeatA('upstash')).json()).toEqual({ ok: true, store: 'upstash' })
    expect(await (await listB('upstash')).json()).toEqual({
      channel: 'general',
      store: 'upstash',
      online: [memberId],
    })
    const upstash = (t.mocks.services.get('upstash')!.fake as FakeService).app
    const raw = await upstash.request(`/hget/presence:general/${memberId}`, {
      headers: {
        authorization: `Bearer ${DEFAULT_UPSTASH_TOKEN}`,
      },
    })
    expect(Number(((await raw.json()) as { result: string }).result)).toBeGreaterThan(Date.now() - 10_000)
  })

  it('Upstash down or rate-limited: 503 presence_unavailable, and back when the fault goes', async () => {
    await heartbeatA('upstash')
    const down = t.mocks.faults.add({ service: 'upstash', effect: { type: 'down' } })
    await t.mocks.faults.settled()
    const hb = await heartbeatA('upstash')
    expect(hb.status).toBe(503)
    expect(await hb.json()).toMatchObject({
      code: 'presence_unavailable',
      error: expect.stringMatching(/ECONNREFUSED/),
    })
    expect((await listB('upstash')).status).toBe(503)
    t.mocks.faults.remove(down.id)
    await t.mocks.faults.settled()

    t.mocks.faults.add(upstashRateLimit(1))
    const limited = await listB('upstash')
    expect(limited.status).toBe(503)
    expect(await limited.json()).toMatchObject({
      error: expect.stringMatching(/429: ERR max requests limit exceeded/),
    })
    expect(await (await listB('upstash')).json()).toMatchObject({ online: [memberId] })
  })

  it('a heartbeat needs a session; bad parameters are 400', async () => {
    expect((await heartbeatA('upstash', 'better-auth.session_token=nope')).status).toBe(401)
    expect((await listA('redis')).status).toBe(400)
    expect((await fetch(`${t.controlUrl}/api/presence`)).status).toBe(400)
  })
})

describe('the demo server in a tenant (issue 16)', () => {
  it('serves the world its caller is in: config, presence in that tenant’s Upstash; unknown tenants refused', async () => {
    const made = await fetch(`${t.controlUrl}/__mocks/tenants`, {
      method: 'POST',
      body: JSON.stringify({ name: 'default' }),
    })
    const tenant = (await made.json()) as { id: string; cookie: { name: string; value: string } }
    const users = (await (await fetch(`${t.controlUrl}/__mocks/users?tenant=${tenant.id}`)).json()) as {
      users: { role: string; banned: boolean; cookieName: string; cookieValue: string }[]
    }
    const own = users.users.find((u) => u.role === 'member' && !u.banned)!
    const cookie = `${tenant.cookie.name}=${tenant.cookie.value}; ${own.cookieName}=${own.cookieValue}`
    try {
      const config = await (await fetch(`${t.controlUrl}/api/config`, { headers: { cookie } })).json()
      expect(config).toMatchObject({ scenario: 'default', tenant: tenant.id })
      expect(await (await fetch(`${t.controlUrl}/api/config`)).json()).not.toHaveProperty('tenant')

      // A heartbeat in the tenant is recorded in the tenant's Upstash, never the default one's.
      expect((await heartbeatA('upstash', cookie)).status).toBe(200)
      expect(await (await listB('upstash')).json()).toMatchObject({ online: [] })
      const inTenant = await fetch(`${t.controlUrl}/api/presence?channel=general&store=upstash`, {
        headers: { cookie: `${tenant.cookie.name}=${tenant.id}` },
      })
      expect(await inTenant.json()).toMatchObject({ online: [memberId] })
      const journal = (await (
        await fetch(`${t.controlUrl}/__mocks/journal?service=upstash`, {
          headers: { 'x-mocks-tenant': tenant.id },
        })
      ).json()) as { entries: { requestHeaders: Record<string, string> }[] }
      expect(journal.entries.length).toBeGreaterThanOrEqual(2)
      for (const e of journal.entries) expect(e.requestHeaders.baggage).toBe(`mocks.tenant=${tenant.id}`)
      // The memory store keeps tenants apart too.
      const memory = (path: string, c: string, method = 'GET') =>
        fetch(`${t.controlUrl}${path}?channel=tenant-only&store=memory`, { method, headers: { cookie: c } })
      expect((await memory('/api/presence/heartbeat', cookie, 'POST')).status).toBe(200)
      expect(await (await memory('/api/presence', cookie)).json()).toMatchObject({ online: [memberId] })
      expect(await (await memory('/api/presence', '')).json()).toMatchObject({ online: [] })
    } finally {
      await fetch(`${t.controlUrl}/__mocks/tenants/${tenant.id}`, { method: 'DELETE' })
    }
    const gone = await fetch(`${t.controlUrl}/api/config`, {
      headers: { cookie: `mocks_tenant=${tenant.id}` },
    })
    expect(gone.status).toBe(404)
    expect(await gone.json()).toMatchObject({ code: 'unknown_tenant' })
    expect(
      (await fetch(`${t.controlUrl}/api/config`, { headers: { 'x-mocks-tenant': '../x' } })).status,
    ).toBe(400)
  })
})
