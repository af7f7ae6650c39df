import { readFileSync } from 'node:fs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { startTestMocks, type TestMocks } from './helpers.ts'

// Tenants over real sockets: eight worlds driven at once on one set of mocks, each switching
// scenarios and faults, sending messages, uploading files; nothing of one may show up in
// another (fault, message, file, presence or journal entry).

let t: TestMocks
let control: string

beforeAll(async () => {
  t = await startTestMocks({ env: { MOCKS_MAX_TENANTS: '12' } })
  control = t.controlUrl
})
afterAll(() => t.close())

// biome-ignore lint/suspicious/noExplicitAny: bodies are checked field by field below
type Body = any
const json = async (res: Response) => ({ status: res.status, body: (await res.json()) as Body })

function controlCall(path: string, init: RequestInit & { tenant?: string } = {}) {
  const headers = new Headers(init.headers)
  if (init.tenant) headers.set('x-mocks-tenant', init.tenant)
  if (init.body) headers.set('content-type', 'application/json')
  return fetch(`${control}/__mocks${path}`, { ...init, headers })
}

async function createTenant(body: unknown = { name: 'default' }) {
  return json(await controlCall('/tenants', { method: 'POST', body: JSON.stringify(body) }))
}

async function cookieOf(tenant: string, userId: string): Promise<{ header: string; value: string }> {
  const { body } = await json(await controlCall('/users', { tenant }))
  const u = (body.users as { id: string; cookieName: string; cookieValue: string }[]).find(
    (x) => x.id === userId,
  )!
  return { header: `${u.cookieName}=${u.cookieValue}`, value: u.cookieValue }
}

/** The three ways a client names its tenant besides its session. */
function tenantHeaders(tenant: string, how: number): Record<string, string> {
  if (how === 0) return { 'x-mocks-tenant': tenant }
  if (how === 1) return { baggage: `other=1,mocks.tenant=${tenant};p=1` }
  return { cookie: `mocks_tenant=${tenant}` }
}

function openSocket(url: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url)
    ws.once('open', () => resolve(ws))
    ws.once('error', reject)
    ws.once('unexpected-response', (_req, res) => reject(new Error(`handshake ${res.statusCode}`)))
  })
}

/** A WebSocket handshake naming a tenant by header: 'open', or the status it was refused with. */
function handshake(url: string, tenant: string): Promise<'open' | number> {
  return new Promise((resolve, reject) => {
    const w = new WebSocket(url, { headers: { 'x-mocks-tenant': tenant } })
    w.once('open', () => {
      w.close()
      resolve('open')
    })
    w.once('unexpected-response', (req, res) => {
      req.destroy()
      resolve(res.statusCode ?? 0)
    })
    w.once('error', reject)
  })
}

// Users who may upload (a child may not).
const USERS = ['usr_admin', 'usr_member', 'usr_member2']

describe('eight tenants at once', () => {
  it('never see one another’s faults, messages, files, presence or journal', async () => {
    const created = await Promise.all(Array.from({ length: 8 }, () => createTenant()))
    for (const c of created) {
      expect(c.status).toBe(201)
      expect(c.body).toEqual({
        id: expect.stringMatching(/^[a-z0-9][a-z0-9-]{0,62}$/),
        scenario: 'default',
        header: { name: 'X-Mocks-Tenant', value: c.body.id },
        cookie: { name: 'mocks_tenant', value: c.body.id },
        env: { UPSTASH_REDIS_REST_TOKEN: `devarno-mocks-upstash-development-token@${c.body.id}` },
      })
    }
    const ids = created.map((c) => c.body.id as string)
    expect(new Set(ids).size).toBe(8)
    const sockets: WebSocket[] = []

    const drive = async (id: string, i: number) => {
      const user = USERS[i % USERS.length]!
      const session = await cookieOf(id, user)
      // Seeded sessions are the tenant's own: never the default tenant's cookie.
      expect(session.value).not.toBe(t.tokenFor(user))
      // Odd tenants switch scenario first (serialised per tenant, not across tenants).
      if (i % 2 === 1) {
        const sw = await controlCall('/scenario', {
          method: 'PUT',
          tenant: id,
          body: JSON.stringify({ name: 'v01t-500' }),
        })
        expect(sw.status).toBe(200)
      }
      // A runtime fault of the tenant's own, on a path only it uses.
      const fault = await controlCall('/faults', {
        method: 'POST',
        tenant: id,
        body: JSON.stringify({
          service: 'media',
          match: { path: `/api/v1/files/mine-${id}` },
          effect: { type: 'status', status: 418 },
        }),
      })
      expect(fault.status).toBe(201)

      // Chat: the socket finds its tenant from the session in ?token=.
      const ws = await openSocket(`${t.url('chat').replace(/^http/, 'ws')}/ws?token=${session.value}`)
      sockets.push(ws)
      const joined = new Promise<void>((resolve) =>
        ws.on('message', (m) => {
          const frame = JSON.parse(String(m))
          if (frame.type === 'presence' && frame.user_id === user && frame.online) resolve()
        }),
      )
      ws.send(JSON.stringify({ type: 'join', channel: 'general' }))
      await joined
      ws.send(JSON.stringify({ type: 'message', channel: 'general', content: `hello from ${id}` }))

      // Media: an upload through the session cookie plus one explicit signal, varied.
      const form = new FormData()
      form.append(
        'file',
        new Blob([readFileSync('fixtures/media/sunset.png')], { type: 'image/png' }),
        `${id}.png`,
      )
      const extra = tenantHeaders(id, i % 3)
      const cookie = [session.header, extra.cookie].filter(Boolean).join('; ')
      const upload = await fetch(`${t.url('media')}/api/v1/upload`, {
        method: 'POST',
        headers: { ...extra, cookie },
        body: form,
      })
      expect(upload.status).toBe(201)
      const file = (await upload.json()) as { id: string }
      // V01T (no session there): the explicit signal alone, marked in the query.
      const v = await fetch(`${t.url('v01t')}/trace/devarno-ecosystem/node/?who=${id}`, {
        headers: tenantHeaders(id, i % 3),
      })
      expect(v.status).toBe(i % 2 === 1 ? 500 : 200)
      await v.arrayBuffer()
      return { id, i, user, session, file }
    }

    const worlds = await Promise.all(ids.map(drive))

    // Every message is read after every tenant sent its own.
    await expect
      .poll(
        async () => {
          const counts = await Promise.all(
            worlds.map(async (w) => {
              const res = await fetch(`${t.url('chat')}/api/v1/messages?channel=general&limit=200`, {
                headers: { cookie: w.session.header },
              })
              const body = (await res.json()) as { content: string }[] | { data: { content: string }[] }
              const list = Array.isArray(body) ? body : body.data
              return list.filter((m) => m.content.startsWith('hello from ')).map((m) => m.content)
            }),
          )
          return counts
        },
        { timeout: 10_000 },
      )
      .toEqual(worlds.map((w) => [`hello from ${w.id}`]))

    for (const w of worlds) {
      const others = worlds.filter((o) => o !== w)
      // Files: its own is there; no other tenant's is.
      const own = await fetch(`${t.url('media')}/api/v1/files/${w.file.id}`, {
        headers: { cookie: w.session.header },
      })
      expect(own.status).toBe(200)
      await own.arrayBuffer()
      for (const o of others.slice(0, 3)) {
        const res = await fetch(`${t.url('media')}/api/v1/files/${o.file.id}`, {
          headers: { cookie: w.session.header },
        })
        expect(res.status).toBe(404)
        await res.arrayBuffer()
      }
      // Faults: its own fires for it, another tenant's path is untouched.
      const mine = await fetch(`${t.url('media')}/api/v1/files/mine-${w.id}`, {
        headers: { cookie: w.session.header },
      })
      expect(mine.status).toBe(418)
      const theirs = await fetch(`${t.url('media')}/api/v1/files/mine-${others[0]!.id}`, {
        headers: { cookie: w.session.header },
      })
      expect(theirs.status).toBe(404)
      await Promise.all([mine.arrayBuffer(), theirs.arrayBuffer()])
      const faults = (await json(await controlCall('/faults', { tenant: w.id }))).body.faults as {
        match?: { path?: string }
      }[]
      expect(
        faults.filter((f) => f.match?.path?.startsWith('/api/v1/files/mine-')).map((f) => f.match?.path),
      ).toEqual([`/api/v1/files/mine-${w.id}`])
      // Presence: only its own user is online in its world.
      const presence = (await (
        await fetch(`${t.url('chat')}/api/v1/presence?channel=general`, {
          headers: { cookie: w.session.header },
        })
      ).json()) as { user_id: string; online: boolean }[]
      expect(presence.filter((p) => p.online).map((p) => p.user_id)).toEqual([w.user])
      // Journal: its own requests and frames only (the `who` marker, the messages).
      const entries = (await json(await controlCall('/journal', { tenant: w.id }))).body.entries as {
        query: string
        path: string
      }[]
      const text = JSON.stringify(entries)
      expect(text).toContain(`who=${w.id}`)
      for (const o of others) {
        expect(text).not.toContain(`who=${o.id}`)
        expect(text).not.toContain(`hello from ${o.id}`)
      }
      // Its scenario is its own.
      const scenario = (await json(await controlCall('/scenario', { tenant: w.id }))).body
      expect(scenario.name).toBe(w.i % 2 === 1 ? 'v01t-500' : 'default')
    }

    // The default tenant saw none of it.
    const defaultJournal = JSON.stringify(t.mocks.journal.list())
    for (const w of worlds) expect(defaultJournal).not.toContain(w.id)
    expect(t.mocks.scenario.name).toBe('default')

    // Deleting frees everything: sockets closed, later calls a clear 404.
    const closed = sockets.map(
      (ws) => new Promise<number>((resolve) => ws.once('close', (code) => resolve(code))),
    )
    for (const id of ids) expect((await controlCall(`/tenants/${id}`, { method: 'DELETE' })).status).toBe(204)
    expect(await Promise.all(closed)).toEqual(ids.map(() => 1001))
    const gone = await json(await controlCall('/scenario', { tenant: ids[0] }))
    expect(gone.status).toBe(404)
    expect(gone.body).toMatchObject({ code: 'unknown_tenant' })
    const after = await fetch(`${t.url('v01t')}/trace/devarno-ecosystem/node/`, {
      headers: { 'x-mocks-tenant': ids[0]! },
    })
    expect(after.status).toBe(404)
    expect(await after.json()).toMatchObject({ error: expect.stringContaining(`Unknown tenant "${ids[0]}"`) })
    expect((await json(await controlCall('/tenants'))).body.tenants.map((x: { id: string }) => x.id)).toEqual(
      ['default'],
    )
  }, 60_000)
})

describe('the tenant API', () => {
  it('refuses malformed, unknown and conflicting tenants clearly, in each envelope', async () => {
    const a = (await createTenant({ name: 'default', id: 'api-a' })).body.id as string
    const b = (await createTenant({ name: 'default', id: 'api-b' })).body.id as string
    expect([a, b]).toEqual(['api-a', 'api-b'])
    // The same id again: 409; a malformed one: 400; a body that is not a scenario request: 400.
    expect((await createTenant({ name: 'default', id: 'api-a' })).status).toBe(409)
    const bad = await createTenant({ name: 'default', id: 'Not_A_Tenant' })
    expect(bad.status).toBe(400)
    expect(bad.body).toMatchObject({ code: 'invalid_tenant' })
    expect((await createTenant({ name: 'no-such-scenario' })).status).toBe(404)
    expect((await createTenant({ nothing: true })).status).toBe(400)

    // Control calls on an unknown tenant: 404 in the control envelope, never the default world.
    for (const [path, init] of [
      ['/scenario', {}],
      ['/faults', {}],
      ['/journal', {}],
      ['/reset', { method: 'POST' }],
    ] as const) {
      const res = await json(await controlCall(path, { ...init, tenant: 'never-made' }))
      expect(res.status).toBe(404)
      expect(res.body).toMatchObject({ code: 'unknown_tenant' })
    }
    const q = await json(await fetch(`${control}/__mocks/journal?tenant=never-made`))
    expect(q.status).toBe(404)
    const clash = await json(
      await fetch(`${control}/__mocks/journal?tenant=${a}`, { headers: { 'x-mocks-tenant': b } }),
    )
    expect(clash.status).toBe(409)

    // Service traffic: malformed 400, unknown 404, disagreeing signals 409, each in the service's envelope.
    const v01t = (headers: Record<string, string>) =>
      fetch(`${t.url('v01t')}/trace/devarno-ecosystem/node/`, { headers })
    const malformed = await v01t({ 'x-mocks-tenant': '../etc' })
    expect(malformed.status).toBe(400)
    expect(await malformed.json()).toMatchObject({
      success: false,
      error: expect.stringContaining('not a tenant id'),
    })
    expect((await v01t({ cookie: 'mocks_tenant=never-made' })).status).toBe(404)
    const conflict = await v01t({ 'x-mocks-tenant': a, cookie: `mocks_tenant=${b}` })
    expect(conflict.status).toBe(409)
    expect(await conflict.json()).toMatchObject({ error: expect.stringContaining('disagree') })
    // A session of one tenant with a header naming another: 409 in chat's {error, code}.
    const session = await cookieOf(a, 'usr_member')
    const chat = await fetch(`${t.url('chat')}/api/v1/messages?channel=general`, {
      headers: { cookie: session.header, 'x-mocks-tenant': b },
    })
    expect(chat.status).toBe(409)
    expect(await chat.json()).toMatchObject({
      error: expect.stringContaining('session'),
      code: expect.any(String),
    })
    // The default tenant's cookie is the default tenant's: naming a tenant beside it is a conflict too.
    const mixed = await fetch(`${t.url('chat')}/api/v1/messages?channel=general`, {
      headers: { cookie: t.cookieFor('usr_member'), 'x-mocks-tenant': a },
    })
    expect(mixed.status).toBe(409)
    // The same session alone lands in its tenant.
    const alone = await fetch(`${t.url('chat')}/api/v1/messages?channel=general`, {
      headers: { cookie: session.header },
    })
    expect(alone.status).toBe(200)
    await Promise.all(
      [malformed, conflict, chat, mixed, alone].map((r) => r.arrayBuffer().catch(() => undefined)),
    )

    // Shared services: the database belongs to the default tenant.
    const dbFault = await json(
      await controlCall('/faults', {
        method: 'POST',
        tenant: a,
        body: JSON.stringify({ service: 'db', effect: { type: 'down' } }),
      }),
    )
    expect(dbFault.status).toBe(400)
    expect(JSON.stringify(dbFault.body)).toContain('shared by every tenant')
    const dbScenario = await json(
      await controlCall('/scenario', { method: 'PUT', tenant: a, body: JSON.stringify({ name: 'db-down' }) }),
    )
    expect(dbScenario.status).toBe(400)
    expect((await json(await controlCall('/scenario', { tenant: a }))).body.name).toBe('default')

    for (const id of [a, b])
      expect((await controlCall(`/tenants/${id}`, { method: 'DELETE' })).status).toBe(204)
    expect((await controlCall(`/tenants/${a}`, { method: 'DELETE' })).status).toBe(404)
    expect((await controlCall('/tenants/default', { method: 'DELETE' })).status).toBe(400)
  })

  it('refuses creation past MOCKS_MAX_TENANTS with 429 naming the limit', async () => {
    const made = await Promise.all(Array.from({ length: 12 }, () => createTenant()))
    expect(made.every((m) => m.status === 201)).toBe(true)
    const over = await createTenant()
    expect(over.status).toBe(429)
    expect(over.body).toMatchObject({
      code: 'tenant_limit',
      error: expect.stringContaining('MOCKS_MAX_TENANTS'),
    })
    await Promise.all(made.map((m) => controlCall(`/tenants/${m.body.id}`, { method: 'DELETE' })))
    expect((await createTenant({ name: 'default', id: 'after-limit' })).status).toBe(201)
    await controlCall('/tenants/after-limit', { method: 'DELETE' })
  })

  it('removes idle tenants, never one with an open socket or a request in flight', async () => {
    const idle = (await createTenant()).body.id as string
    const busy = (await createTenant()).body.id as string
    const session = await cookieOf(busy, 'usr_member')
    const ws = await openSocket(`${t.url('chat').replace(/^http/, 'ws')}/ws?token=${session.value}`)
    const later = Date.now() + t.mocks.tenancy.idleMs + 1
    expect(await t.mocks.sweepIdle(later)).toEqual([idle])
    expect(t.mocks.tenant(busy)).toBeDefined()
    const closed = new Promise<void>((resolve) => ws.once('close', () => resolve()))
    ws.close()
    await closed
    await expect.poll(() => t.mocks.tenant(busy)?.sockets.size).toBe(0)
    expect(await t.mocks.sweepIdle(Date.now() + t.mocks.tenancy.idleMs + 1)).toEqual([busy])
  })

  it("cuts a deleted tenant's held requests and closes its sockets", async () => {
    const id = (await createTenant()).body.id as string
    await controlCall('/faults', {
      method: 'POST',
      tenant: id,
      body: JSON.stringify({ service: 'v01t', effect: { type: 'hang' } }),
    })
    const held = fetch(`${t.url('v01t')}/trace/devarno-ecosystem/node/`, {
      headers: { 'x-mocks-tenant': id },
    }).then(
      (r) => r.status,
      () => 'cut',
    )
    await expect.poll(() => t.mocks.tenant(id)?.inflight).toBe(1)
    // A held request keeps its tenant alive however long it is held.
    expect(await t.mocks.sweepIdle(Date.now() + t.mocks.tenancy.idleMs + 1)).not.toContain(id)
    expect((await controlCall(`/tenants/${id}`, { method: 'DELETE' })).status).toBe(204)
    expect(await held).toBe('cut')
  })

  it("a down in a tenant cuts that tenant's open sockets, and its health says down; the default's socket stays", async () => {
    const id = (await createTenant()).body.id as string
    const session = await cookieOf(id, 'usr_member')
    const wsBase = `${t.url('chat').replace(/^http/, 'ws')}/ws?token=`
    const mine = await openSocket(`${wsBase}${session.value}`)
    const theirs = await openSocket(`${wsBase}${t.tokenFor('usr_member')}`)
    const cut = new Promise<number>((resolve) => mine.once('close', (code) => resolve(code)))
    let defaultClosed = false
    theirs.once('close', () => {
      defaultClosed = true
    })
    await controlCall('/faults', {
      method: 'POST',
      tenant: id,
      body: JSON.stringify({ service: 'chat', effect: { type: 'down' } }),
    })
    expect(await cut).toBe(1006)
    const health = (await json(await controlCall('/health', { tenant: id }))).body
    expect(health.services.chat.state).toBe('down')
    expect((await json(await controlCall('/health'))).body.services.chat.state).toBe('up')
    expect(defaultClosed).toBe(false)
    theirs.close()
    await controlCall(`/tenants/${id}`, { method: 'DELETE' })
  })

  it('a tenant deleted while chat or media waits on get-session: 404 in their envelope, not 503', async () => {
    for (const target of [
      { service: 'chat', path: '/api/v1/messages?channel=general' },
      { service: 'media', path: '/api/v1/files/anything' },
    ] as const) {
      const id = (await createTenant()).body.id as string
      const session = await cookieOf(id, 'usr_member')
      await controlCall('/faults', {
        method: 'POST',
        tenant: id,
        body: JSON.stringify({
          service: 'auth',
          match: { path: '/api/auth/get-session' },
          effect: { type: 'hang' },
        }),
      })
      const answer = fetch(`${t.url(target.service)}${target.path}`, {
        headers: { cookie: `${session.header}; mocks_tenant=${id}` },
      }).then(async (r) => ({ status: r.status, body: (await r.json()) as Body }))
      // The service's request and its held get-session.
      await expect.poll(() => t.mocks.tenant(id)?.inflight).toBe(2)
      expect((await controlCall(`/tenants/${id}`, { method: 'DELETE' })).status).toBe(204)
      const { status, body } = await answer
      expect(status, target.service).toBe(404)
      expect(body.error, target.service).toContain(`Unknown tenant "${id}"`)
    }
  })

  it('signals that disagree are journaled (409) in the tenant the first signal names, nowhere else', async () => {
    const a = (await createTenant()).body.id as string
    const b = (await createTenant()).body.id as string
    const bSession = await cookieOf(b, 'usr_member')
    const res = await fetch(`${t.url('chat')}/api/v1/messages?channel=general&probe=${a}`, {
      headers: { 'x-mocks-tenant': a, cookie: bSession.header },
    })
    expect(res.status).toBe(409)
    expect(await res.json()).toMatchObject({ error: expect.stringContaining('Tenant signals disagree') })
    const entries = (tenant: string | undefined) =>
      controlCall('/journal', tenant ? { tenant } : {}).then(
        async (r) =>
          ((await r.json()) as Body).entries as { status: number; query: string; service: string }[],
      )
    const inA = (await entries(a)).filter((e) => e.query.includes(`probe=${a}`))
    expect(inA).toEqual([
      expect.objectContaining({ service: 'chat', status: 409, query: `?channel=general&probe=${a}` }),
    ])
    expect(JSON.stringify(await entries(b))).not.toContain(`probe=${a}`)
    expect(JSON.stringify(await entries(undefined))).not.toContain(`probe=${a}`)
    for (const id of [a, b]) await controlCall(`/tenants/${id}`, { method: 'DELETE' })
  })

  it('a session signed out, or its tenant reset, stays in its tenant: the client’s 401s are journaled there, never in the default world', async () => {
    const entries = async (tenant: string | undefined) =>
      ((await (await controlCall('/journal', tenant ? { tenant } : {})).json()) as Body).entries as {
        status: number
        query: string
      }[]
    for (const end of ['sign-out', 'reset'] as const) {
      const id = (await createTenant()).body.id as string
      const { users } = (await (await controlCall('/users', { tenant: id })).json()) as {
        users: { id: string; email: string; password: string }[]
      }
      const user = users.find((u) => u.id === 'usr_member')!
      // Signed in at run time (a reset drops such sessions; seeded ones come back with it).
      const signIn = await fetch(`${t.url('auth')}/api/auth/sign-in/email`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          origin: 'http://localhost:3000',
          'x-mocks-tenant': id,
        },
        body: JSON.stringify({ email: user.email, password: user.password }),
      })
      expect(signIn.status).toBe(200)
      const session = {
        header: signIn.headers
          .getSetCookie()
          .map((c) => c.split(';')[0])
          .join('; '),
      }
      // Placed by its session alone (no tenant header, baggage or cookie).
      const poll = (probe: string) =>
        fetch(`${t.url('chat')}/api/v1/messages?channel=general&probe=${probe}`, {
          headers: { cookie: session.header },
        })
      expect((await poll(`${id}-before`)).status).toBe(200)
      if (end === 'sign-out') {
        const out = await fetch(`${t.url('auth')}/api/auth/sign-out`, {
          method: 'POST',
          headers: {
            cookie: session.header,
            origin: 'http://localhost:3000',
            'content-type': 'application/json',
          },
          body: '{}',
        })
        expect(out.status).toBe(200)
      } else expect((await controlCall('/reset', { method: 'POST', tenant: id })).status).toBe(200)
      const after = await poll(`${id}-after`)
      expect(after.status).toBe(401)
      expect((await entries(id)).filter((e) => e.query.includes(`probe=${id}-after`))).toEqual([
        expect.objectContaining({ status: 401 }),
      ])
      expect(JSON.stringify(await entries(undefined))).not.toContain(`probe=${id}`)
      // Deleted, the tenant's ended sessions are a 404 like its live ones were.
      expect((await controlCall(`/tenants/${id}`, { method: 'DELETE' })).status).toBe(204)
      const gone = await poll(`${id}-gone`)
      expect(gone.status).toBe(404)
      expect(await gone.json()).toMatchObject({ error: expect.stringContaining(id) })
    }
  })

  it('media’s upload bookkeeping (inspect) is each tenant’s own', async () => {
    const media = t.mocks.services.get('media')!.fake as unknown as {
      inspect(tenant?: string): { uploads: { inFlight: number; last?: { status: number } } }
    }
    const [a, b] = [(await createTenant()).body.id as string, (await createTenant()).body.id as string]
    const session = await cookieOf(a, 'usr_member')
    const form = new FormData()
    form.append('file', new Blob([readFileSync('fixtures/media/sunset.png')], { type: 'image/png' }), 'a.png')
    const upload = await fetch(`${t.url('media')}/api/v1/upload`, {
      method: 'POST',
      headers: { cookie: session.header },
      body: form,
    })
    expect(upload.status).toBe(201)
    expect(media.inspect(a).uploads).toMatchObject({ inFlight: 0, last: { status: 201 } })
    expect(media.inspect(b).uploads).toEqual({ inFlight: 0 })
    for (const id of [a, b]) await controlCall(`/tenants/${id}`, { method: 'DELETE' })
  })

  it("a deleted tenant's journal stream says so and ends", async () => {
    const id = (await createTenant()).body.id as string
    const res = await fetch(`${control}/__mocks/journal/stream?tenant=${id}`)
    const reader = res.body!.getReader()
    let text = ''
    const read = (async () => {
      for (;;) {
        const { done, value } = await reader.read()
        if (done) return text
        text += new TextDecoder().decode(value)
      }
    })()
    await expect.poll(() => t.mocks.tenant(id)?.journal.watchers).toBe(1)
    await controlCall(`/tenants/${id}`, { method: 'DELETE' })
    expect(await read).toMatch(/event: end\ndata: \{"tenant":"[^"]+","reason":"deleted"\}/)
  })

  it('a down in a tenant cuts only its connections; the default tenant keeps the real down only while alone', async () => {
    const id = (await createTenant()).body.id as string
    await controlCall('/faults', {
      method: 'POST',
      tenant: id,
      body: JSON.stringify({ service: 'v01t', effect: { type: 'down' } }),
    })
    const path = `${t.url('v01t')}/trace/devarno-ecosystem/node/`
    await expect(fetch(path, { headers: { 'x-mocks-tenant': id } })).rejects.toThrow()
    const healthy = await fetch(path)
    expect(healthy.status).toBe(200)
    await healthy.arrayBuffer()
    // The default tenant's down, with a tenant live: per request too, the tenant unharmed.
    const down = (
      await json(
        await controlCall('/faults', {
          method: 'POST',
          body: JSON.stringify({ service: 'v01t', effect: { type: 'down' } }),
        }),
      )
    ).body
    await expect(fetch(path)).rejects.toThrow()
    await controlCall('/faults', { method: 'DELETE', tenant: id })
    const tenantOk = await fetch(path, { headers: { 'x-mocks-tenant': id } })
    expect(tenantOk.status).toBe(200)
    await tenantOk.arrayBuffer()
    // Alone again, the default tenant's down closes the listener (connection refused).
    await controlCall(`/tenants/${id}`, { method: 'DELETE' })
    await t.mocks.faults.settled()
    const { connectResult } = await import('./helpers.ts')
    expect(await connectResult(t.url('v01t'))).toBe('ECONNREFUSED')
    await controlCall(`/faults/${down.id}`, { method: 'DELETE' })
    expect(await connectResult(t.url('v01t'))).toBe('connected')
  })
})

describe('Upstash per tenant, with its own client', () => {
  it("each tenant's token reaches its own keys; the default world never sees them", async () => {
    const { Redis } = await import('@upstash/redis')
    const a = (await createTenant()).body
    const b = (await createTenant()).body
    const client = (token: string) =>
      new Redis({ url: t.url('upstash'), token, retry: false, enableTelemetry: false })
    const ra = client(a.env.UPSTASH_REDIS_REST_TOKEN)
    const rb = client(b.env.UPSTASH_REDIS_REST_TOKEN)
    const rd = client('devarno-mocks-upstash-development-token')
    await ra.set('who', 'a')
    await rb.set('who', 'b')
    expect(await ra.get('who')).toBe('a')
    expect(await rb.get('who')).toBe('b')
    expect(await rd.get('who')).toBeNull()
    // The plain token with the tenant header reaches the tenant too (its client sends no custom
    // headers: plain fetch, as a frontend's server would add the header).
    const raw = (token: string, tenant: string) =>
      fetch(`${t.url('upstash')}/get/who`, {
        headers: { authorization: `Bearer ${token}`, 'x-mocks-tenant': tenant },
      })
    const viaHeader = await raw('devarno-mocks-upstash-development-token', a.id)
    expect(await viaHeader.json()).toEqual({ result: 'a' })
    // A token of one tenant with the header of another: refused in Upstash's {error}, never answered.
    const clash = await raw(a.env.UPSTASH_REDIS_REST_TOKEN, b.id)
    expect(clash.status).toBe(409)
    expect(await clash.json()).toEqual({ error: expect.stringMatching(/^ERR .*disagree/) })
    // Deleting a tenant deletes its keys.
    await controlCall(`/tenants/${a.id}`, { method: 'DELETE' })
    await expect(ra.get('who')).rejects.toThrow(/Unknown tenant/)
    await controlCall(`/tenants/${b.id}`, { method: 'DELETE' })
  })

  it("creating, resetting, flushing or deleting one tenant never touches another's keys", async () => {
    const { Redis } = await import('@upstash/redis')
    const client = (token: string) =>
      new Redis({ url: t.url('upstash'), token, retry: false, enableTelemetry: false })
    const a = (await createTenant()).body
    const b = (await createTenant()).body
    const rd = client('devarno-mocks-upstash-development-token')
    const ra = client(a.env.UPSTASH_REDIS_REST_TOKEN)
    const rb = client(b.env.UPSTASH_REDIS_REST_TOKEN)
    await rd.set('own', 'default')
    await ra.set('own', 'a')
    await rb.hset('own-hash', { f: 'b' })
    const survivors = async (when: string) => {
      expect([await rd.get('own'), await ra.get('own'), await rb.hget('own-hash', 'f')], when).toEqual([
        'default',
        'a',
        'b',
      ])
    }
    // A third tenant comes and goes, as a parallel test's fixture makes it.
    const c = (await createTenant()).body
    await survivors('after another tenant was created')
    const rc = client(c.env.UPSTASH_REDIS_REST_TOKEN)
    await rc.set('left-behind', 'c')
    expect((await controlCall('/reset', { method: 'POST', tenant: c.id })).status).toBe(200)
    await survivors("after another tenant's reset")
    await rc.set('left-behind', 'c')
    expect(await rc.flushdb()).toBe('OK')
    expect(await rc.flushall()).toBe('OK')
    await survivors('after another tenant sent FLUSHDB and FLUSHALL')
    await rc.set('left-behind', 'c')
    expect((await controlCall(`/tenants/${c.id}`, { method: 'DELETE' })).status).toBe(204)
    await survivors('after another tenant was deleted')
    // A tenant made after it starts empty: nothing of the deleted one is handed on.
    const d = (await createTenant()).body
    const rdd = client(d.env.UPSTASH_REDIS_REST_TOKEN)
    expect([await rdd.dbsize(), await rdd.keys('*')]).toEqual([0, []])
    // A tenant's own FLUSHDB empties it alone.
    expect(await ra.flushdb()).toBe('OK')
    expect(await ra.dbsize()).toBe(0)
    expect([await rd.get('own'), await rb.hget('own-hash', 'f')]).toEqual(['default', 'b'])
    expect((await controlCall('/reset', { method: 'POST' })).status).toBe(200)
    expect(await rb.hget('own-hash', 'f')).toBe('b')
    for (const id of [a.id, b.id, d.id]) await controlCall(`/tenants/${id}`, { method: 'DELETE' })
  })
})

describe('ephemeral WS tokens name their tenant', () => {
  it('a token issued in a tenant carries tnt and opens a socket in that tenant only', async () => {
    const { decodeJwt } = await import('jose')
    const id = (await createTenant({ name: 'chat-ws-ephemeral' })).body.id as string
    const session = await cookieOf(id, 'usr_member2')
    const issued = await fetch(`${t.url('auth')}/api/auth/ws-token`, {
      method: 'POST',
      headers: { cookie: session.header, origin: 'http://localhost:3000' },
    })
    expect(issued.status).toBe(200)
    const { token } = (await issued.json()) as { token: string }
    expect(decodeJwt(token)).toMatchObject({ sub: 'usr_member2', tnt: id })
    const ws = await openSocket(`${t.url('chat').replace(/^http/, 'ws')}/ws?token=${token}`)
    await expect.poll(() => t.mocks.tenant(id)?.sockets.size).toBe(1)
    // In the tenant's hub, never the default one's.
    expect(t.mocks.tenant()?.sockets.size ?? 0).toBe(0)
    ws.close()
    // The same token beside another tenant's header: refused in the handshake.
    const other = (await createTenant()).body.id as string
    expect(await handshake(`${t.url('chat').replace(/^http/, 'ws')}/ws?token=${token}`, other)).toBe(409)
    // A token of the default tenant (no tnt) beside a tenant's header: refused too, never a
    // socket in that tenant.
    const defaultSession = await cookieOf('default', 'usr_member2')
    const fromDefault = await fetch(`${t.url('auth')}/api/auth/ws-token`, {
      method: 'POST',
      headers: { cookie: defaultSession.header, origin: 'http://localhost:3000' },
    })
    expect(fromDefault.status).toBe(200)
    const plain = ((await fromDefault.json()) as { token: string }).token
    expect(decodeJwt(plain).tnt).toBeUndefined()
    expect(await handshake(`${t.url('chat').replace(/^http/, 'ws')}/ws?token=${plain}`, id)).toBe(409)
    expect(t.mocks.tenant(id)?.sockets.size ?? 0).toBe(0)
    for (const x of [id, other]) await controlCall(`/tenants/${x}`, { method: 'DELETE' })
  })
})

describe('lifecycle races', () => {
  const heavy = { extends: 'default', name: 'heavy', chat: { generate: { messagesPerChannel: 3000 } } }
  const leftovers = (id: string) =>
    [...t.mocks.services.values()]
      .filter((s) => {
        const fake = s.fake as { state?: (tenant?: string) => unknown }
        if (!fake.state) return false
        try {
          fake.state(id)
          return true
        } catch {
          return false
        }
      })
      .map((s) => s.descriptor.name)

  it('a tenant deleted during its scenario switch keeps nothing', async () => {
    const id = (await createTenant({ name: 'default', id: 'race-switch' })).body.id as string
    const switching = controlCall('/scenario', {
      method: 'PUT',
      tenant: id,
      body: JSON.stringify({ scenario: heavy }),
    })
    const deleted = controlCall(`/tenants/${id}`, { method: 'DELETE' })
    expect((await deleted).status).toBe(204)
    await switching
    expect(leftovers(id)).toEqual([])
    expect(t.mocks.tenant(id)).toBeUndefined()
  })

  it('a tenant deleted while it is being created: the creation answers 404 and nothing is left', async () => {
    // Through the runtime, so the delete lands while the fakes are seeding (deterministically).
    const creating = t.mocks.createTenant({ scenario: heavy }, 'race-create').then(
      () => 201,
      (err: { status?: number }) => err.status,
    )
    expect(t.mocks.tenant('race-create')).toBeDefined()
    await t.mocks.deleteTenant('race-create')
    expect(await creating).toBe(404)
    expect(leftovers('race-create')).toEqual([])
    // The id is free again once it is gone.
    expect((await createTenant({ name: 'default', id: 'race-create' })).status).toBe(201)
    await controlCall('/tenants/race-create', { method: 'DELETE' })
  })

  it('sweeps never overlap, and a deleted tenant’s session cookie is a 404, not the default world', async () => {
    const id = (await createTenant()).body.id as string
    const session = await cookieOf(id, 'usr_member')
    const later = Date.now() + t.mocks.tenancy.idleMs + 1
    const [first, second] = await Promise.all([t.mocks.sweepIdle(later), t.mocks.sweepIdle(later)])
    expect([...first, ...second]).toEqual([id])
    const res = await fetch(`${t.url('chat')}/api/v1/messages?channel=general`, {
      headers: { cookie: session.header },
    })
    expect(res.status).toBe(404)
    expect(await res.json()).toMatchObject({ error: expect.stringContaining(id) })
  })
})

describe('browsers may name their tenant', () => {
  it('every fake a browser calls answers a preflight for X-Mocks-Tenant and baggage', async () => {
    for (const [service, path, method] of [
      ['chat', '/api/v1/messages', 'GET'],
      ['media', '/api/v1/upload', 'POST'],
      ['v01t', '/trace/devarno-ecosystem/node/', 'GET'],
      ['upstash', '/', 'POST'],
    ] as const) {
      const res = await fetch(`${t.url(service)}${path}`, {
        method: 'OPTIONS',
        headers: {
          origin: 'http://localhost:3000',
          'access-control-request-method': method,
          'access-control-request-headers': 'x-mocks-tenant,baggage',
        },
      })
      expect(res.status, service).toBeLessThan(300)
      const allowed = (res.headers.get('access-control-allow-headers') ?? '').toLowerCase()
      expect(allowed, service).toContain('x-mocks-tenant')
      expect(allowed, service).toContain('baggage')
    }
  })
})
