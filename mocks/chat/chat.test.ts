import { beforeAll, describe, expect, it } from 'vitest'
import {
  ChatMessageSchema,
  PresenceUpdateSchema,
} from '../../proto-contracts/gen/ts/devarno/events/v1/chat_pb.ts'
import { createAuthFake } from '../auth/index.ts'
import type { Env } from '../core/config.ts'
import { checkArray } from '../core/contract.ts'
import type { Journal } from '../core/journal.ts'
import { SESSION_COOKIE } from '../core/session-cookie.ts'
import type { Scenario } from '../fake/scenario.ts'
import type { FaultEngine } from '../faults/engine.ts'
import { loadConfig } from '../runtime/config.ts'
import { ScenarioLoader } from '../runtime/scenario-loader.ts'
import { inProcess } from '../runtime/testing.ts'
import type { ServerFrame } from './contract.ts'
import { type ChatFake, type ChatSocket, createChatFake } from './index.ts'
import { ChatStore } from './store.ts'
import { FakePeer } from './testing.ts'

// In-process: the app via app.request(), get-session routed to an in-process auth fake, and
// the hub driven through acceptSocket with fake peers (the transport-neutral path an msw
// ws.link adapter uses). Real sockets: tests/chat.test.ts.

const loader = new ScenarioLoader(loadConfig({}).scenariosDir)
const base = loader.load('default')

function variant(name: string, chat: Partial<Scenario['chat']>, extra: Partial<Scenario> = {}): Scenario {
  return loader.resolveInline({ ...base, ...extra, name, faults: [], chat: { ...base.chat, ...chat } })
}

const BIG = variant('big', { generate: { messagesPerChannel: 3333, spanHours: 72 } })

interface Harness {
  chat: ChatFake
  faults: FaultEngine
  journal: Journal
  scenario: Scenario
  cookie(userId: string): string
  token(userId: string): string
  get(path: string, userId?: string, headers?: Record<string, string>): Promise<Response>
  apply(s: Scenario): Promise<void>
  signUp(email: string): Promise<{ id: string; cookie: string }>
}

async function harness(
  opts: { scenario?: Scenario; fetch?: typeof fetch; env?: Env; spy?: (init?: RequestInit) => void } = {},
): Promise<Harness> {
  const h = await inProcess(createChatFake, {
    scenario: opts.scenario ?? base,
    ...(opts.env ? { env: opts.env } : {}),
    companions: [createAuthFake],
    fetch: (viaAuth) =>
      opts.fetch ??
      (async (input, init) => {
        opts.spy?.(init)
        return await viaAuth(input, init)
      }),
  })
  const auth = h.companions[0]!
  return {
    chat: h.fake,
    faults: h.faults,
    journal: h.journal,
    get scenario() {
      return h.scenario
    },
    cookie: h.cookieFor,
    token: h.tokenFor,
    get: (path, userId, headers = {}) => h.request(path, { headers, ...(userId ? { as: userId } : {}) }),
    apply: h.use,
    async signUp(email) {
      const res = await auth.app.request('/api/auth/sign-up/email', {
        method: 'POST',
        headers: { 'content-type': 'application/json', origin: 'http://localhost:3000' },
        body: JSON.stringify({ name: 'New Person', email, password: 'new-password-1' }),
      })
      const body = (await res.json()) as { user: { id: string } }
      const set = res.headers.get('set-cookie') ?? ''
      return { id: body.user.id, cookie: set.split(';')[0]! }
    },
  }
}

type RestMessage = { id: string; content: string; sender_id: string; channel_id: string; created_at: string }

async function json<T = unknown>(res: Response): Promise<T> {
  return (await res.json()) as T
}

/** Lets queued frame handling (and the collection write of a message) finish. */
const settle = () => new Promise((r) => setTimeout(r, 5))

async function connect(h: Harness, userId: string, headers: Record<string, string> = {}) {
  const peer = new FakePeer()
  const url = `http://chat.test/ws?token=${encodeURIComponent(h.token(userId))}`
  const result = await h.chat.acceptSocket(peer, new Request(url, { headers }))
  if (!result.ok) throw new Error(`refused: ${result.status} ${result.code}`)
  const socket: ChatSocket = result.socket
  const send = async (frame: unknown) => {
    socket.receive(typeof frame === 'string' ? frame : JSON.stringify(frame))
    await settle()
  }
  return { peer, socket, send }
}

describe('sessions (validated by get-session on every call)', () => {
  let h: Harness
  beforeAll(async () => {
    h = await harness()
  })

  it('answers 401 {error, code} without a session, in its own envelope', async () => {
    const cases: Record<string, string>[] = [
      {},
      { cookie: `${SESSION_COOKIE}=MemberSessionToken00000000000001` },
      { cookie: `${SESSION_COOKIE}=${h.token('usr_member').replace(/^M/, 'X')}` },
      { cookie: h.cookie('usr_banned') },
      { cookie: h.cookie('usr_expired') },
    ]
    for (const headers of cases) {
      const res = await h.chat.app.request('/api/v1/messages?channel=general', { headers })
      expect(res.status).toBe(401)
      const body = await json<Record<string, unknown>>(res)
      expect(Object.keys(body).sort()).toEqual(['code', 'error'])
      expect(body.code).toBe('unauthorized')
    }
  })

  it('a known path asked with another method is 405 with Allow (as Axum), an unknown one 404', async () => {
    for (const [method, path] of [
      ['POST', '/api/v1/messages'],
      ['DELETE', '/api/v1/messages'],
      ['PUT', '/api/v1/presence'],
      ['POST', '/ws'],
    ] as const) {
      const res = await h.chat.app.request(path, { method, headers: { cookie: h.cookie('usr_member') } })
      expect(res.status, `${method} ${path}`).toBe(405)
      expect(res.headers.get('allow')).toBe('GET,HEAD')
      const body = await json<Record<string, unknown>>(res)
      expect(Object.keys(body).sort()).toEqual(['code', 'error'])
      expect(body.code).toBe('method_not_allowed')
    }
    // HEAD is a GET without its body; an unknown path stays a 404.
    expect(
      (
        await h.chat.app.request('/api/v1/messages?channel=general', {
          method: 'HEAD',
          headers: { cookie: h.cookie('usr_member') },
        })
      ).status,
    ).toBe(200)
    expect((await h.chat.app.request('/api/v1/nope', { method: 'POST' })).status).toBe(404)
  })

  it('treats better-auth’s own "200 null" as no session too', async () => {
    const h2 = await harness({
      scenario: variant('null-session', {}, { auth: { ...base.auth, noSession: '200-null' } }),
    })
    const res = await h2.get('/api/v1/presence?channel=general')
    expect(res.status).toBe(401)
    expect((await h2.get('/api/v1/presence?channel=general', 'usr_member')).status).toBe(200)
  })

  it('checks the session before the query (401 beats 400)', async () => {
    expect((await h.get('/api/v1/messages')).status).toBe(401)
  })

  it('forwards the Cookie header verbatim and X-Request-ID, and never caches', async () => {
    const seen: Headers[] = []
    const h2 = await harness({ spy: (init) => seen.push(new Headers(init?.headers)) })
    const cookie = `theme=dark; ${h2.cookie('usr_member')}; other=1`
    for (let i = 0; i < 3; i++) {
      const res = await h2.chat.app.request('/api/v1/messages?channel=general&limit=1', {
        headers: { cookie, 'x-request-id': `req-${i}` },
      })
      expect(res.status).toBe(200)
    }
    expect(seen).toHaveLength(3)
    expect(seen.map((s) => s.get('cookie'))).toEqual([cookie, cookie, cookie])
    expect(seen.map((s) => s.get('x-request-id'))).toEqual(['req-0', 'req-1', 'req-2'])
  })

  it('answers 503 auth_unavailable when auth is unreachable, failing or too slow', async () => {
    const refused: typeof fetch = async () => {
      throw Object.assign(new TypeError('fetch failed'), { cause: { code: 'ECONNREFUSED' } })
    }
    const broken: typeof fetch = async () => new Response('oops', { status: 500 })
    const slow: typeof fetch = (_input, init) =>
      new Promise((_resolve, reject) =>
        init?.signal?.addEventListener('abort', () => reject(init.signal?.reason)),
      )
    for (const [fetchImpl, reason] of [
      [refused, /ECONNREFUSED/],
      [broken, /500/],
      [slow, /longer than 50 ms/],
    ] as const) {
      const h2 = await harness({ fetch: fetchImpl, env: { MOCKS_AUTH_TIMEOUT_MS: '50' } })
      for (const path of ['/api/v1/messages?channel=general', '/api/v1/presence?channel=general']) {
        const res = await h2.get(path, 'usr_member')
        expect(res.status).toBe(503)
        const body = await json<{ error: string; code: string }>(res)
        expect(body.code).toBe('auth_unavailable')
        expect(body.error).toMatch(reason)
      }
      // The WebSocket handshake is refused the same way.
      const upgrade = await h2.get(`/ws?token=${h2.token('usr_member')}`, undefined, { upgrade: 'websocket' })
      expect(upgrade.status).toBe(503)
      const accepted = await h2.chat.acceptSocket(
        new FakePeer(),
        new Request(`http://chat.test/ws?token=${h2.token('usr_member')}`),
      )
      expect(accepted).toMatchObject({ ok: false, status: 503, code: 'auth_unavailable' })
    }
  })

  it('refuses handshakes: 401 bad or missing token, 403 foreign Origin, 426 without upgrade', async () => {
    const up = { upgrade: 'websocket' }
    expect((await h.get('/ws', undefined, up)).status).toBe(401)
    expect((await h.get('/ws?token=', undefined, up)).status).toBe(401)
    expect((await h.get('/ws?token=MemberSessionToken00000000000001', undefined, up)).status).toBe(401)
    expect((await h.get('/ws?token=a%0Db', undefined, up)).status).toBe(401)
    expect((await h.get(`/ws?token=${h.token('usr_banned')}`, undefined, up)).status).toBe(401)
    const foreign = await h.get(`/ws?token=${h.token('usr_member')}`, undefined, {
      ...up,
      origin: 'https://evil.example',
    })
    expect(foreign.status).toBe(403)
    expect(await foreign.json()).toMatchObject({ code: 'forbidden_origin' })
    const plain = await h.get('/ws', 'usr_member')
    expect(plain.status).toBe(426)
    expect(plain.headers.get('upgrade')).toBe('websocket')
    expect(await plain.json()).toMatchObject({ code: 'upgrade_required' })
  })
})

describe('GET /api/v1/messages', () => {
  let h: Harness
  beforeAll(async () => {
    h = await harness({ scenario: BIG })
  })

  const page = async (query: string, userId = 'usr_member') => {
    const res = await h.get(`/api/v1/messages?${query}`, userId)
    expect(res.status).toBe(200)
    const body = await json<RestMessage[]>(res)
    expect(checkArray(ChatMessageSchema, body)).toEqual([])
    return body
  }

  it('returns a bare ChatMessage[] with proto names, strictly valid, oldest → newest', async () => {
    const rows = await page('channel=family')
    expect(Array.isArray(rows)).toBe(true)
    expect(rows).toHaveLength(50)
    for (const r of rows) {
      expect(Object.keys(r).sort()).toEqual(['channel_id', 'content', 'created_at', 'id', 'sender_id'])
      expect(r.created_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)
      expect(r.channel_id).toBe('family')
    }
    const times = rows.map((r) => Date.parse(r.created_at))
    expect(times).toEqual([...times].sort((a, b) => a - b))
    // The default page is the newest: nothing in the channel is newer than its last row.
    expect(rows.at(-1)!.id).toBe((await page('channel=family&limit=1'))[0]!.id)
  })

  it('clamps limit to 100 and rejects a malformed one', async () => {
    expect(await page('channel=general&limit=1000')).toHaveLength(100)
    expect(await page('channel=general&limit=100')).toHaveLength(100)
    expect(await page('channel=general&limit=7')).toHaveLength(7)
    expect(await page('channel=general&limit=')).toHaveLength(50)
    for (const bad of ['0', '-1', 'abc', '1.5', '1e2']) {
      const res = await h.get(`/api/v1/messages?channel=general&limit=${bad}`, 'usr_member')
      expect(res.status).toBe(400)
      expect(await json(res)).toMatchObject({ code: 'invalid_limit' })
    }
  })

  it('pages backwards by timestamp or by message id, with no gaps or repeats', async () => {
    const total = h.chat.store().count('general')
    for (const cursor of ['time', 'id'] as const) {
      const seen: RestMessage[] = []
      let before = ''
      for (;;) {
        const rows = await page(
          `channel=general&limit=100${before ? `&before=${encodeURIComponent(before)}` : ''}`,
        )
        if (rows.length === 0) break
        seen.unshift(...rows)
        const first = rows[0]!
        before = cursor === 'time' ? first.created_at : first.id
        if (rows.length < 100 && cursor === 'id') break
      }
      const ids = seen.map((r) => r.id)
      if (cursor === 'id') {
        expect(new Set(ids).size).toBe(total)
        expect(ids).toHaveLength(total)
      } else {
        // A timestamp cursor skips messages sharing the boundary instant (ids page exactly).
        expect(new Set(ids).size).toBe(ids.length)
        expect(ids.length).toBeGreaterThan(total - 40)
      }
      const times = seen.map((r) => Date.parse(r.created_at))
      expect(times).toEqual([...times].sort((a, b) => a - b))
    }
  })

  it('the index agrees with the @msw/data collection it sits beside', async () => {
    const store = h.chat.store()
    await store.materialized
    expect(store.messages.count()).toBe(store.channelIds().reduce((n, c) => n + store.count(c), 0))
    for (const channel of store.channelIds()) {
      const fromCollection = store.messages
        .findMany((q) => q.where({ channelId: channel }))
        .map((m) => m.id)
        .sort()
      const fromIndex = store.history(channel, { limit: Number.MAX_SAFE_INTEGER }).map((m) => m.id)
      expect([...fromIndex].sort()).toEqual(fromCollection)
    }
  })

  it('accepts ISO timestamps with an offset; rejects other cursors with 400 invalid_before', async () => {
    const rows = await page('channel=general&limit=3&before=2026-02-18T12:00:00%2B02:00')
    for (const r of rows) expect(Date.parse(r.created_at)).toBeLessThan(Date.parse('2026-02-18T10:00:00Z'))
    const otherChannel = (await page('channel=family&limit=1'))[0]!.id
    for (const bad of ['yesterday', '1771491600000', '2026-02-30T00:00:00Z', 'no-such-id', otherChannel]) {
      const res = await h.get(`/api/v1/messages?channel=general&before=${bad}`, 'usr_member')
      expect(res.status).toBe(400)
      expect(await json(res)).toMatchObject({ code: 'invalid_before' })
    }
    expect(await page('channel=general&before=')).toHaveLength(50)
  })

  it('400 missing channel, 404 unknown channel, 403 a channel the user is not in', async () => {
    const cases: [string, string, number, string][] = [
      ['', 'usr_member', 400, 'missing_channel'],
      ['channel=', 'usr_member', 400, 'missing_channel'],
      ['channel=nope', 'usr_member', 404, 'unknown_channel'],
      ['channel=parents', 'usr_child', 403, 'forbidden_channel'],
      ['channel=parents', 'usr_member2', 403, 'forbidden_channel'],
    ]
    for (const [query, user, status, code] of cases) {
      for (const path of ['/api/v1/messages', '/api/v1/presence']) {
        const res = await h.get(`${path}?${query}`, user)
        expect(res.status, `${path}?${query} as ${user}`).toBe(status)
        const body = await json<Record<string, unknown>>(res)
        expect(Object.keys(body).sort()).toEqual(['code', 'error'])
        expect(body.code).toBe(code)
      }
    }
    expect((await h.get('/api/v1/messages?channel=parents', 'usr_admin')).status).toBe(200)
  })

  it('serves history from the index: 2,000 pages over 10,000 messages in well under a second', async () => {
    const store = h.chat.store()
    const ids = store.history('general', { limit: Number.MAX_SAFE_INTEGER }).map((m) => m.id)
    const started = performance.now()
    for (let i = 0; i < 2000; i++) {
      const id = ids[(i * 7919) % ids.length]!
      store.history('general', { before: { kind: 'message', id }, limit: 50 })
      store.history('general', {
        before: { kind: 'time', ms: Date.parse('2026-02-17T00:00:00Z') + i * 60_000 },
        limit: 50,
      })
    }
    expect(performance.now() - started).toBeLessThan(500)
  })
})

describe('GET /api/v1/presence', () => {
  it('lists every member with online:false until a socket joins, as PresenceUpdate[]', async () => {
    const h = await harness()
    const res = await h.get('/api/v1/presence?channel=family', 'usr_member')
    const body = await json<{ user_id: string; online: boolean; channel_id: string }[]>(res)
    expect(checkArray(PresenceUpdateSchema, body)).toEqual([])
    expect(body).toEqual(
      ['usr_admin', 'usr_member', 'usr_member2', 'usr_child'].map((user_id) => ({
        user_id,
        online: false,
        channel_id: 'family',
      })),
    )
    const a = await connect(h, 'usr_member2')
    await a.send({ type: 'join', channel: 'family' })
    const after = await json<{ user_id: string; online: boolean }[]>(
      await h.get('/api/v1/presence?channel=family', 'usr_member'),
    )
    expect(after.filter((p) => p.online).map((p) => p.user_id)).toEqual(['usr_member2'])
    a.socket.closed(1000)
    const gone = await json<{ online: boolean }[]>(
      await h.get('/api/v1/presence?channel=family', 'usr_member'),
    )
    expect(gone.every((p) => !p.online)).toBe(true)
  })

  it('open channels include users who signed up (and only those channels)', async () => {
    const h = await harness()
    const fresh = await h.signUp('newbie@casa.test')
    const mine = await h.chat.app.request('/api/v1/messages?channel=general&limit=1', {
      headers: { cookie: fresh.cookie },
    })
    expect(mine.status).toBe(200)
    const forbidden = await h.chat.app.request('/api/v1/messages?channel=family', {
      headers: { cookie: fresh.cookie },
    })
    expect(forbidden.status).toBe(403)
    const list = await json<{ user_id: string }[]>(
      await h.get('/api/v1/presence?channel=general', 'usr_admin'),
    )
    expect(list.map((p) => p.user_id)).toContain(fresh.id)
    expect(list.map((p) => p.user_id).slice(0, 6)).toEqual(base.auth.users.map((u) => u.id))
  })
})

describe('seeding', () => {
  it('is reproducible from the seed, and changes with it', async () => {
    const a = await ChatStore.build(base)
    // A copy: the same scenario object reuses its generated seed (see the next test).
    const b = await ChatStore.build({ ...base })
    const c = await ChatStore.build({ ...base, seed: 7 })
    for (const ch of ['general', 'family', 'parents']) {
      const all = { limit: 1000 }
      expect(JSON.stringify(a.history(ch, all))).toBe(JSON.stringify(b.history(ch, all)))
      expect(JSON.stringify(a.history(ch, all))).not.toBe(JSON.stringify(c.history(ch, all)))
    }
  })

  it('a reset (the same scenario object again) reuses the seed and drops runtime messages', async () => {
    const first = await ChatStore.build(base)
    const seeded = JSON.stringify(first.history('general', { limit: 1000 }))
    const sent = await first.addMessage('general', 'usr_member', 'said before the reset')
    expect(first.history('general', { limit: 1 })[0]).toEqual(sent)
    expect(first.messages.count()).toBe(
      JSON.parse(seeded).length + 1 + first.count('family') + first.count('parents'),
    )
    const second = await ChatStore.build(base)
    expect(JSON.stringify(second.history('general', { limit: 1000 }))).toBe(seeded)
    expect(second.hasMessage('general', sent.id)).toBe(false)
    expect(second.messages.findFirst((q) => q.where({ id: sent.id }))).toBeUndefined()
    // The first store's state is its own.
    expect(first.history('general', { limit: 1 })[0]).toEqual(sent)
  })

  it('serves a history span from its memo until a new message changes the span', async () => {
    const store = await ChatStore.build(base)
    let made = 0
    const serialise = (rows: { id: string }[]) => {
      made++
      return new TextEncoder().encode(JSON.stringify(rows.map((r) => r.id)))
    }
    const page = () => store.historyBody('general', { limit: 3 }, serialise)
    const a = page()
    expect(page()).toBe(a)
    expect(made).toBe(1)
    expect(JSON.parse(new TextDecoder().decode(a))).toEqual(
      store.history('general', { limit: 3 }).map((r) => r.id),
    )
    const sent = await store.addMessage('general', 'usr_member', 'newest')
    const b = page()
    expect(made).toBe(2)
    expect(JSON.parse(new TextDecoder().decode(b)).at(-1)).toBe(sent.id)
    // The span before the new message is the old page, still memoised.
    expect(
      store.historyBody('general', { limit: 3, before: { kind: 'message', id: sent.id } }, serialise),
    ).toBe(a)
    expect(made).toBe(2)
    // A reset builds a new store: nothing memoised carries over.
    const fresh = await ChatStore.build(base)
    expect(fresh.historyBody('general', { limit: 3 }, serialise)).not.toBe(a)
    // The memo is bounded in bytes too: pages past 16 MiB start it over.
    const big = () => new Uint8Array(9 * 1024 * 1024)
    const first = fresh.historyBody('general', { limit: 4 }, big)
    expect(fresh.historyBody('general', { limit: 4 }, big) === first).toBe(true)
    fresh.historyBody('general', { limit: 5 }, big)
    expect(fresh.historyBody('general', { limit: 4 }, big) === first).toBe(false)
  })

  it('keeps explicit messages and spreads generated ones over spanHours before the clock, from members', async () => {
    const store = await ChatStore.build(base)
    const clock = Date.parse(base.clock)
    const span = base.chat.generate.spanHours * 3_600_000
    for (const channel of base.chat.channels) {
      const rows = store.history(channel.id, { limit: 10_000 })
      const explicit = base.chat.messages.filter((m) => m.channel === channel.id)
      expect(rows).toHaveLength(base.chat.generate.messagesPerChannel + explicit.length)
      for (const m of explicit) {
        expect(rows.find((r) => r.id === m.id)).toMatchObject({ senderId: m.sender, content: m.content })
      }
      const allowed =
        channel.members === 'all'
          ? base.auth.users.filter((u) => !u.banned).map((u) => u.id)
          : channel.members
      for (const r of rows) {
        expect(allowed).toContain(r.senderId)
        expect(Date.parse(r.createdAt)).toBeGreaterThanOrEqual(clock - span)
        expect(Date.parse(r.createdAt)).toBeLessThanOrEqual(clock)
        expect(r.content.length).toBeGreaterThan(0)
      }
    }
  })

  it('a 10,000-message scenario serves quickly and fills the collection in the background', async () => {
    const started = performance.now()
    const store = await ChatStore.build(BIG)
    const serving = performance.now() - started
    expect(store.count('general') + store.count('family') + store.count('parents')).toBe(10_003)
    // Generous bound (CI noise); measured ~70-140 ms on this machine.
    expect(serving).toBeLessThan(1500)
    await store.materialized
    expect(store.messages.count()).toBe(10_003)
  })
})

describe('hub through acceptSocket (transport-neutral)', () => {
  it('refuses like the handshake: 401, 403 foreign Origin; no Origin is fine', async () => {
    const h = await harness()
    const bad = await h.chat.acceptSocket(new FakePeer(), new Request('http://chat.test/ws?token=nope'))
    expect(bad).toMatchObject({ ok: false, status: 401, code: 'unauthorized' })
    const foreign = await h.chat.acceptSocket(
      new FakePeer(),
      new Request(`http://chat.test/ws?token=${h.token('usr_member')}`, {
        headers: { origin: 'https://evil.example' },
      }),
    )
    expect(foreign).toMatchObject({ ok: false, status: 403 })
    const allowed = await h.chat.acceptSocket(
      new FakePeer(),
      new Request(`http://chat.test/ws?token=${h.token('usr_member')}`, {
        headers: { origin: 'https://casa.devarno.cloud' },
      }),
    )
    expect(allowed.ok).toBe(true)
  })

  it('join → presence to the channel, messages to all joined sockets, typing to the others', async () => {
    const h = await harness()
    const a = await connect(h, 'usr_member')
    const b = await connect(h, 'usr_member2')
    await a.send({ type: 'join', channel: 'family' })
    expect(a.peer.frames()).toEqual([
      { type: 'presence', user_id: 'usr_member', online: true, channel: 'family' },
    ])
    await b.send({ type: 'join', channel: 'family' })
    expect(a.peer.frames().at(-1)).toEqual({
      type: 'presence',
      user_id: 'usr_member2',
      online: true,
      channel: 'family',
    })
    // The joiner learns who is online already, itself included.
    expect(b.peer.frames()).toEqual([
      { type: 'presence', user_id: 'usr_member', online: true, channel: 'family' },
      { type: 'presence', user_id: 'usr_member2', online: true, channel: 'family' },
    ])
    a.peer.clear()
    b.peer.clear()
    await b.send({ type: 'typing', channel: 'family', typing: true })
    expect(a.peer.frames()).toEqual([
      { type: 'typing', user_id: 'usr_member2', channel: 'family', typing: true },
    ])
    expect(b.peer.frames()).toEqual([])
    await a.send({ type: 'message', channel: 'family', content: 'hello there' })
    const [fa] = a.peer.frames().filter((f) => f.type === 'message')
    const [fb] = b.peer.frames().filter((f) => f.type === 'message')
    expect(fa).toEqual(fb)
    expect(fa).toMatchObject({ sender: 'usr_member', channel: 'family', content: 'hello there' })
    const history = await json<RestMessage[]>(
      await h.get('/api/v1/messages?channel=family&limit=1', 'usr_admin'),
    )
    expect(history[0]).toEqual({
      id: (fa as { id: string }).id,
      content: 'hello there',
      sender_id: 'usr_member',
      channel_id: 'family',
      created_at: (fa as { timestamp: string }).timestamp,
    })
    // Leaving while typing clears it for the others; the user goes offline there.
    a.peer.clear()
    await b.send({ type: 'leave', channel: 'family' })
    expect(a.peer.frames()).toEqual([
      { type: 'typing', user_id: 'usr_member2', channel: 'family', typing: false },
      { type: 'presence', user_id: 'usr_member2', online: false, channel: 'family' },
    ])
  })

  it('answers every bad frame with a stable error code and keeps the socket usable', async () => {
    const h = await harness()
    const a = await connect(h, 'usr_child')
    await a.send({ type: 'join', channel: 'general' })
    a.peer.clear()
    const cases: [unknown, string][] = [
      ['{not json', 'invalid_json'],
      ['[1,2]', 'invalid_frame'],
      ['"ping"', 'invalid_frame'],
      [{ content: 'no type' }, 'invalid_frame'],
      [{ type: 7 }, 'invalid_frame'],
      [{ type: 'shout' }, 'unknown_type'],
      [{ type: 'message', channel: 'general' }, 'invalid_frame'],
      [{ type: 'message', channel: 'general', content: 5 }, 'invalid_frame'],
      [{ type: 'typing', channel: 'general', typing: 'yes' }, 'invalid_frame'],
      [{ type: 'join' }, 'invalid_frame'],
      [{ type: 'join', channel: '' }, 'invalid_frame'],
      [{ type: 'message', channel: 'general', content: '' }, 'empty_message'],
      [{ type: 'message', channel: 'general', content: '  \n ' }, 'empty_message'],
      [{ type: 'message', channel: 'general', content: 'x'.repeat(4001) }, 'message_too_long'],
      [{ type: 'message', channel: 'family', content: 'hi' }, 'not_joined'],
      [{ type: 'typing', channel: 'family', typing: true }, 'not_joined'],
      [{ type: 'leave', channel: 'family' }, 'not_joined'],
      [{ type: 'join', channel: 'parents' }, 'forbidden_channel'],
      [{ type: 'message', channel: 'parents', content: 'hi' }, 'forbidden_channel'],
      [{ type: 'join', channel: 'nope' }, 'unknown_channel'],
      [{ type: 'leave', channel: 'nope' }, 'unknown_channel'],
      [{ type: 'message', channel: 'nope', content: 'hi' }, 'unknown_channel'],
    ]
    for (const [frame, code] of cases) {
      a.peer.clear()
      await a.send(frame)
      await a.send({ type: 'ping' })
      const frames = a.peer.frames()
      expect(frames, JSON.stringify(frame)).toEqual([
        expect.objectContaining({ type: 'error', code }),
        { type: 'pong' },
      ])
    }
    a.peer.clear()
    a.socket.receive(new Uint8Array([1, 2, 3]).buffer)
    await settle()
    expect(a.peer.frames()).toEqual([
      expect.objectContaining({ type: 'error', code: 'binary_not_supported' }),
    ])
    // 4,000 characters is allowed, counted in code points (emoji are one each).
    a.peer.clear()
    await a.send({ type: 'message', channel: 'general', content: '😀'.repeat(4000) })
    expect(a.peer.frames()).toEqual([expect.objectContaining({ type: 'message' })])
  })

  it('a user online in two tabs goes offline only when the last one leaves', async () => {
    const h = await harness()
    const watcher = await connect(h, 'usr_admin')
    await watcher.send({ type: 'join', channel: 'general' })
    const tab1 = await connect(h, 'usr_member')
    const tab2 = await connect(h, 'usr_member')
    await tab1.send({ type: 'join', channel: 'general' })
    await tab2.send({ type: 'join', channel: 'general' })
    const online = (f: ServerFrame) => f.type === 'presence' && f.user_id === 'usr_member'
    expect(watcher.peer.frames().filter(online)).toEqual([
      { type: 'presence', user_id: 'usr_member', online: true, channel: 'general' },
    ])
    tab1.socket.closed(1001)
    await settle()
    expect(watcher.peer.frames().filter(online)).toHaveLength(1)
    const rest = await json<{ user_id: string; online: boolean }[]>(
      await h.get('/api/v1/presence?channel=general', 'usr_admin'),
    )
    expect(rest.find((p) => p.user_id === 'usr_member')?.online).toBe(true)
    tab2.socket.closed(1006)
    await settle()
    expect(watcher.peer.frames().filter(online).at(-1)).toEqual({
      type: 'presence',
      user_id: 'usr_member',
      online: false,
      channel: 'general',
    })
  })

  it('goes through the fault engine: journal, ws-drop, ws-silence', async () => {
    const h = await harness()
    const a = await connect(h, 'usr_member')
    await a.send({ type: 'ping' })
    expect(h.journal.list({ kind: 'ws-in' }).map((e) => e.frame)).toContain('{"type":"ping"}')
    expect(h.journal.list({ kind: 'ws-out' }).map((e) => e.frame)).toContain('{"type":"pong"}')

    h.faults.add({ service: 'chat', effect: { type: 'ws-drop', afterMessages: 1, code: 1006 } })
    const b = await connect(h, 'usr_member')
    await b.send({ type: 'ping' })
    expect(b.peer.terminated).toBe(true)
    h.faults.clear()

    h.faults.add({ service: 'chat', effect: { type: 'ws-silence' } })
    const c = await connect(h, 'usr_member')
    await c.send({ type: 'ping' })
    expect(c.peer.sent).toEqual([])
    expect(c.peer.autoPong).toBe(false)
  })

  it('a scenario switch closes open sockets with 1012', async () => {
    const h = await harness()
    const a = await connect(h, 'usr_member')
    await a.send({ type: 'join', channel: 'general' })
    await h.apply(base)
    expect(a.peer.closedWith).toBe(1012)
    expect(h.chat.state().hub.size).toBe(0)
    const rest = await json<{ online: boolean }[]>(
      await h.get('/api/v1/presence?channel=general', 'usr_member'),
    )
    expect(rest.every((p) => !p.online)).toBe(true)
  })
})
