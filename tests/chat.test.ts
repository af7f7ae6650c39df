import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import type { ServerFrame } from '../mocks/chat/contract.ts'
import { ChatTestClient } from '../mocks/chat/testing.ts'
import { checkArray } from '../mocks/core/contract.ts'
import {
  ChatMessageSchema,
  PresenceUpdateSchema,
} from '../proto-contracts/gen/ts/devarno/events/v1/chat_pb.ts'
import { startTestMocks, type TestMocks } from './helpers.ts'

// chat-service over real sockets: `ws` clients on an ephemeral port, sessions validated by
// the fake auth over HTTP. Every frame a client receives is checked against the matrix's WS
// shapes (strict) and, for messages, against proto ChatMessage through the mapping table.

let t: TestMocks
const clients: ChatTestClient[] = []

beforeAll(async () => {
  t = await startTestMocks({ services: ['auth', 'chat'] })
})
afterAll(() => t.close())
afterEach(async () => {
  for (const c of clients.splice(0)) {
    expect(c.violations).toEqual([])
    await c.close()
  }
  await t.mocks.reset()
})

const wsUrl = (query = '') => `${t.url('chat').replace(/^http/, 'ws')}/ws${query}`

async function open(user: string, opts: { origin?: string } = {}): Promise<ChatTestClient> {
  const client = await ChatTestClient.open(wsUrl(`?token=${t.tokenFor(user)}`), opts)
  clients.push(client)
  return client
}

async function rest(path: string, user?: string, headers: Record<string, string> = {}) {
  return fetch(`${t.url('chat')}${path}`, {
    headers: { ...(user ? { cookie: t.cookieFor(user) } : {}), ...headers },
  })
}

async function history(channel: string, user: string, query = '') {
  const res = await rest(`/api/v1/messages?channel=${channel}${query}`, user)
  expect(res.status).toBe(200)
  const body = (await res.json()) as { id: string; created_at: string; content: string; sender_id: string }[]
  expect(checkArray(ChatMessageSchema, body)).toEqual([])
  return body
}

async function presence(channel: string, user: string) {
  const res = await rest(`/api/v1/presence?channel=${channel}`, user)
  expect(res.status).toBe(200)
  const body = (await res.json()) as { user_id: string; online: boolean; channel_id: string }[]
  expect(checkArray(PresenceUpdateSchema, body)).toEqual([])
  return body
}

const isPresence = (user: string, online: boolean, channel: string) => (f: ServerFrame) =>
  f.type === 'presence' && f.user_id === user && f.online === online && f.channel === channel

async function joined(client: ChatTestClient, channel: string, user: string) {
  const m = client.mark()
  client.send({ type: 'join', channel })
  await client.waitFor(isPresence(user, true, channel), { after: m })
  await client.sync()
}

/** Waits until the server has processed n socket closes (journal ws-close entries). */
async function closesSeen(n: number) {
  for (let i = 0; i < 200; i++) {
    if (t.mocks.journal.list({ service: 'chat', kind: 'ws-close' }).length >= n) return
    await new Promise((r) => setTimeout(r, 10))
  }
  throw new Error(`server saw fewer than ${n} closes`)
}

describe('handshake', () => {
  it('accepts ?token= as the cookie value, URI-encoded or not (a raw + stays a +)', async () => {
    const encoded = t.tokenFor('usr_member')
    const raw = decodeURIComponent(encoded)
    expect(raw).toContain('+')
    for (const token of [encoded, raw, encodeURIComponent(encoded)]) {
      expect(await ChatTestClient.upgradeStatus(wsUrl(`?token=${token}`)), token).toBe(101)
    }
    // A + decoded as a space would break the signature: that must not happen.
    expect(await ChatTestClient.upgradeStatus(wsUrl(`?token=${raw.replace('+', ' ')}`))).toBe(401)
  })

  it('falls back to the Cookie header when there is no ?token', async () => {
    expect(await ChatTestClient.upgradeStatus(wsUrl(), { headers: { cookie: t.cookieFor('member') } })).toBe(
      101,
    )
  })

  it('refuses with 401 a missing, unsigned, forged, banned or expired token', async () => {
    for (const query of [
      '',
      '?token=',
      '?token=MemberSessionToken00000000000001',
      `?token=${t.tokenFor('usr_member').replace('Member', 'Nember')}`,
      `?token=${t.tokenFor('usr_banned')}`,
      `?token=${t.tokenFor('usr_expired')}`,
    ]) {
      expect(await ChatTestClient.upgradeStatus(wsUrl(query)), query).toBe(401)
    }
  })

  it("a refused handshake carries chat's {error, code} JSON, as its REST errors do", async () => {
    const refused = async (url: string, options = {}) => {
      const r = await ChatTestClient.upgradeRefusal(url, options)
      expect(r.contentType).toMatch(/^application\/json/)
      return { status: r.status, body: JSON.parse(r.body) as unknown }
    }
    expect(await refused(wsUrl('?token=nope'))).toEqual({
      status: 401,
      body: { error: expect.stringContaining('No valid session'), code: 'unauthorized' },
    })
    expect(
      await refused(wsUrl(`?token=${t.tokenFor('member')}`), { origin: 'https://evil.example' }),
    ).toEqual({ status: 403, body: { error: expect.any(String), code: 'forbidden_origin' } })
  })

  it('refuses a foreign Origin with 403, allows listed ones and none', async () => {
    const url = wsUrl(`?token=${t.tokenFor('member')}`)
    expect(await ChatTestClient.upgradeStatus(url, { origin: 'https://evil.example' })).toBe(403)
    expect(await ChatTestClient.upgradeStatus(url, { origin: 'https://devarno.cloud.evil.example' })).toBe(
      403,
    )
    expect(await ChatTestClient.upgradeStatus(url, { origin: 'http://localhost:3000' })).toBe(101)
    expect(await ChatTestClient.upgradeStatus(url, { origin: 'https://casa.devarno.cloud' })).toBe(101)
    expect(await ChatTestClient.upgradeStatus(url)).toBe(101)
  })

  it('auth down: REST answers 503 auth_unavailable and the upgrade is refused with 503', async () => {
    t.mocks.faults.add({ service: 'auth', effect: { type: 'down' } })
    await t.mocks.faults.settled()
    for (const path of ['/api/v1/messages?channel=general', '/api/v1/presence?channel=general']) {
      const res = await rest(path, 'member')
      expect(res.status).toBe(503)
      expect(await res.json()).toMatchObject({ code: 'auth_unavailable' })
    }
    const refusal = await ChatTestClient.upgradeRefusal(wsUrl(`?token=${t.tokenFor('member')}`))
    expect(refusal.status).toBe(503)
    expect(JSON.parse(refusal.body)).toMatchObject({ code: 'auth_unavailable' })
  })

  it('a plain GET /ws is told to upgrade (426)', async () => {
    const res = await rest('/ws', 'member')
    expect(res.status).toBe(426)
    expect(await res.json()).toMatchObject({ code: 'upgrade_required' })
  })
})

describe('realtime', () => {
  it('two users in a channel: presence, typing to the other, messages to both and into history', async () => {
    const a = await open('usr_member')
    await joined(a, 'family', 'usr_member')
    const b = await open('usr_member2')
    const mb = b.mark()
    b.send({ type: 'join', channel: 'family' })
    await a.waitFor(isPresence('usr_member2', true, 'family'))
    await b.waitFor(isPresence('usr_member', true, 'family'), { after: mb })
    await b.waitFor(isPresence('usr_member2', true, 'family'), { after: mb })

    const ma = a.mark()
    const mbt = b.mark()
    b.send({ type: 'typing', channel: 'family', typing: true })
    expect(await a.waitFor((f) => f.type === 'typing', { after: ma })).toEqual({
      type: 'typing',
      user_id: 'usr_member2',
      channel: 'family',
      typing: true,
    })
    await b.sync()
    expect(b.since(mbt).filter((f) => f.type === 'typing')).toEqual([])

    const m1 = a.mark()
    const m2 = b.mark()
    a.send({ type: 'message', channel: 'family', content: 'Pancakes again? 🥞' })
    const fa = await a.waitFor((f) => f.type === 'message', { after: m1 })
    const fb = await b.waitFor((f) => f.type === 'message', { after: m2 })
    expect(fb).toEqual(fa)
    if (fa.type !== 'message') throw new Error('unreachable')
    expect(fa).toMatchObject({ sender: 'usr_member', channel: 'family', content: 'Pancakes again? 🥞' })
    const last = (await history('family', 'usr_child', '&limit=1'))[0]!
    expect(last).toEqual({
      id: fa.id,
      content: fa.content,
      sender_id: 'usr_member',
      channel_id: 'family',
      created_at: fa.timestamp,
    })

    const online = await presence('family', 'usr_admin')
    expect(online.filter((p) => p.online).map((p) => p.user_id)).toEqual(['usr_member', 'usr_member2'])

    const mClose = a.mark()
    await b.close()
    await a.waitFor(isPresence('usr_member2', false, 'family'), { after: mClose })
    expect((await presence('family', 'usr_admin')).filter((p) => p.online).map((p) => p.user_id)).toEqual([
      'usr_member',
    ])
  })

  it('one user in two tabs is online once, and offline only when the last tab goes', async () => {
    const watcher = await open('usr_admin')
    await joined(watcher, 'general', 'usr_admin')
    const tab1 = await open('usr_member')
    await joined(tab1, 'general', 'usr_member')
    const tab2 = await open('usr_member')
    await joined(tab2, 'general', 'usr_member')
    await watcher.sync()
    const aboutMember = () =>
      watcher.frames.filter((f) => f.type === 'presence' && f.user_id === 'usr_member')
    expect(aboutMember()).toEqual([
      { type: 'presence', user_id: 'usr_member', online: true, channel: 'general' },
    ])

    // A message reaches both tabs.
    const m = tab2.mark()
    tab1.send({ type: 'message', channel: 'general', content: 'from tab 1' })
    await tab2.waitFor((f) => f.type === 'message' && f.content === 'from tab 1', { after: m })

    const closes = t.mocks.journal.list({ service: 'chat', kind: 'ws-close' }).length
    await tab1.close()
    await closesSeen(closes + 1)
    await watcher.sync()
    expect(aboutMember()).toHaveLength(1)
    expect((await presence('general', 'usr_admin')).find((p) => p.user_id === 'usr_member')?.online).toBe(
      true,
    )

    tab2.raw.terminate()
    await watcher.waitFor(isPresence('usr_member', false, 'general'))
    expect((await presence('general', 'usr_admin')).find((p) => p.user_id === 'usr_member')?.online).toBe(
      false,
    )
  })

  it('error frames keep the socket usable; binary frames get one too', async () => {
    const a = await open('usr_child')
    for (const [frame, code] of [
      ['nope', 'invalid_json'],
      [{ type: 'dance' }, 'unknown_type'],
      [{ type: 'invalid' }, 'unknown_type'],
      [{ type: 'message', channel: 'general', content: 'x' }, 'not_joined'],
      [{ type: 'join', channel: 'parents' }, 'forbidden_channel'],
      [{ type: 'join', channel: 'attic' }, 'unknown_channel'],
    ] as const) {
      const m = a.mark()
      a.send(frame)
      expect(await a.waitFor((f) => f.type === 'error', { after: m })).toMatchObject({ code })
      await a.sync()
    }
    const m = a.mark()
    a.raw.send(Buffer.from([0xde, 0xad]), { binary: true })
    expect(await a.waitFor((f) => f.type === 'error', { after: m })).toMatchObject({
      code: 'binary_not_supported',
    })
    await a.sync()
    expect(a.isOpen).toBe(true)
  })

  it('content up to 4,000 characters is accepted, 4,001 is refused', async () => {
    const a = await open('usr_member')
    await joined(a, 'general', 'usr_member')
    let m = a.mark()
    a.send({ type: 'message', channel: 'general', content: 'y'.repeat(4000) })
    expect(await a.waitFor((f) => f.type === 'message', { after: m })).toMatchObject({
      content: 'y'.repeat(4000),
    })
    m = a.mark()
    a.send({ type: 'message', channel: 'general', content: 'y'.repeat(4001) })
    expect(await a.waitFor((f) => f.type === 'error', { after: m })).toMatchObject({
      code: 'message_too_long',
    })
  })

  it('a frame over 64 KiB closes the socket with 1009', async () => {
    const a = await open('usr_member')
    a.send({ type: 'message', channel: 'general', content: 'z'.repeat(64 * 1024) })
    expect((await a.closed).code).toBe(1009)
    // Just under the limit is a normal (too long) message, not a close.
    const b = await open('usr_member')
    const m = b.mark()
    b.send(`{"type":"message","channel":"general","content":"${'z'.repeat(64 * 1024 - 60)}"}`)
    expect(await b.waitFor((f) => f.type === 'error', { after: m })).toMatchObject({
      code: 'message_too_long',
    })
  })

  it('answers {"type":"ping"} with pong and WebSocket pings with pongs', async () => {
    const a = await open('usr_member')
    const m = a.mark()
    a.send({ type: 'ping' })
    expect(await a.waitFor((f) => f.type === 'pong', { after: m })).toEqual({ type: 'pong' })
    const pong = new Promise<string>((resolve) => a.raw.once('pong', (data) => resolve(String(data))))
    a.raw.ping('hello')
    expect(await pong).toBe('hello')
  })

  it('a reset closes open sockets with 1012 and forgets presence', async () => {
    const a = await open('usr_member')
    await joined(a, 'general', 'usr_member')
    await t.mocks.reset()
    expect((await a.closed).code).toBe(1012)
    expect((await presence('general', 'usr_admin')).every((p) => !p.online)).toBe(true)
  })
})

describe('fault engine link', () => {
  it('ws-drop afterMessages:1 code 1006 cuts the socket after one server frame, with no close frame', async () => {
    t.mocks.faults.add({ service: 'chat', effect: { type: 'ws-drop', afterMessages: 1, code: 1006 } })
    const a = await open('usr_member')
    a.send({ type: 'ping' })
    const closed = await a.closed
    expect(closed.code).toBe(1006)
    expect(a.frames).toEqual([{ type: 'pong' }])
  })

  it('the journal sees client and server frames of the socket', async () => {
    const a = await open('usr_member')
    await a.sync()
    const frames = t.mocks.journal.list({ service: 'chat' })
    expect(frames.some((e) => e.kind === 'ws-open' && e.userId === 'usr_member')).toBe(true)
    expect(frames.some((e) => e.kind === 'ws-in' && e.frame === '{"type":"ping"}')).toBe(true)
    expect(frames.some((e) => e.kind === 'ws-out' && e.frame === '{"type":"pong"}')).toBe(true)
  })
})

describe('REST over HTTP', () => {
  it('allows an allowed browser origin with credentials (CORS), not a foreign one', async () => {
    const ok = await rest('/api/v1/messages?channel=general&limit=1', 'member', {
      origin: 'http://localhost:3000',
    })
    expect(ok.headers.get('access-control-allow-origin')).toBe('http://localhost:3000')
    expect(ok.headers.get('access-control-allow-credentials')).toBe('true')
    expect(ok.headers.get('vary')).toBe('Origin')
    const foreign = await rest('/api/v1/messages?channel=general&limit=1', 'member', {
      origin: 'https://evil.example',
    })
    expect(foreign.headers.get('access-control-allow-origin')).toBeNull()
  })

  it('history pages backwards with ?before= (timestamp or id)', async () => {
    const newest = await history('general', 'member', '&limit=10')
    expect(newest).toHaveLength(10)
    const byTime = await history(
      'general',
      'member',
      `&limit=5&before=${encodeURIComponent(newest[0]!.created_at)}`,
    )
    const byId = await history('general', 'member', `&limit=5&before=${newest[0]!.id}`)
    expect(byId).toEqual(byTime)
    expect(Date.parse(byId.at(-1)!.created_at)).toBeLessThan(Date.parse(newest[0]!.created_at))
  })

  it('a raw ws client sees exactly the matrix frames (no extra keys)', async () => {
    const ws = new WebSocket(wsUrl(`?token=${t.tokenFor('member')}`))
    const texts: string[] = []
    const binary: boolean[] = []
    ws.on('message', (d, isBinary) => {
      texts.push(String(d))
      binary.push(isBinary)
    })
    await new Promise((r) => ws.once('open', r))
    ws.send(JSON.stringify({ type: 'join', channel: 'general' }))
    ws.send(JSON.stringify({ type: 'message', channel: 'general', content: 'raw' }))
    ws.send(JSON.stringify({ type: 'ping' }))
    await new Promise<void>((resolve) => {
      const check = () => (texts.some((x) => x.includes('"pong"')) ? resolve() : setTimeout(check, 5))
      check()
    })
    ws.close()
    const parsed = texts.map((x) => JSON.parse(x) as Record<string, unknown>)
    expect(parsed.map((f) => Object.keys(f).sort())).toEqual([
      ['channel', 'online', 'type', 'user_id'],
      ['channel', 'content', 'id', 'sender', 'timestamp', 'type'],
      ['type'],
    ])
    // Text frames, a broadcast (sent to every socket from one encoded buffer) included.
    expect(binary).toEqual([false, false, false])
  })
})
