import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { ChatTestClient } from '../mocks/chat/testing.ts'
import { startTestMocks, type TestMocks } from './helpers.ts'

// WebSocket fault effects against the real chat hub over real sockets: the same engine that
// shapes HTTP requests wraps every chat socket (DESIGN §4), at the handshake and per frame.

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

const wsUrl = (user: string) => `${t.url('chat').replace(/^http/, 'ws')}/ws?token=${t.tokenFor(user)}`

async function open(user: string): Promise<ChatTestClient> {
  const client = await ChatTestClient.open(wsUrl(user))
  clients.push(client)
  return client
}

function fault(spec: Record<string, unknown>) {
  return t.mocks.faults.add({ service: 'chat', ...spec })
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

describe('handshake faults', () => {
  it('ws-reject refuses the upgrade with its status; REST is untouched', async () => {
    fault({ match: { ws: 'upgrade' }, effect: { type: 'ws-reject', status: 503 } })
    const refusal = await ChatTestClient.upgradeRefusal(wsUrl('usr_member'))
    expect(refusal).toMatchObject({ status: 503, contentType: 'application/json' })
    expect(JSON.parse(refusal.body)).toEqual({ error: expect.any(String), code: 'service_unavailable' })
    const res = await fetch(`${t.url('chat')}/api/v1/presence?channel=general`, {
      headers: { cookie: t.cookieFor('usr_member') },
    })
    expect(res.status).toBe(200)
  })

  it('times: 1 rejects the first handshake only (fail once, then reconnect)', async () => {
    fault({ match: { ws: 'upgrade' }, effect: { type: 'ws-reject', status: 502 }, times: 1 })
    expect(await ChatTestClient.upgradeStatus(wsUrl('usr_member'))).toBe(502)
    expect(await ChatTestClient.upgradeStatus(wsUrl('usr_member'))).toBe(101)
  })

  it('latency on the upgrade delays the open, never less than asked', async () => {
    fault({ match: { ws: 'upgrade' }, effect: { type: 'latency', ms: 150 } })
    const started = performance.now()
    await open('usr_member')
    expect(performance.now() - started).toBeGreaterThanOrEqual(150)
  })
})

describe('connection faults', () => {
  it('ws-drop afterMs with a close code closes cleanly with that code', async () => {
    fault({ effect: { type: 'ws-drop', afterMs: 100, code: 4001 } })
    const started = performance.now()
    const a = await open('usr_member')
    const closed = await a.closed
    expect(closed.code).toBe(4001)
    expect(performance.now() - started).toBeGreaterThanOrEqual(100)
  })

  it('ws-drop afterMessages:0 code 1006 cuts at once, before any frame', async () => {
    fault({ effect: { type: 'ws-drop', afterMessages: 0, code: 1006 } })
    const a = await open('usr_member')
    expect((await a.closed).code).toBe(1006)
    expect(a.frames).toEqual([])
  })

  it('a drop scoped to one user leaves the others, who see that user go offline', async () => {
    const watcher = await open('usr_admin')
    watcher.send({ type: 'join', channel: 'general' })
    await watcher.sync()
    fault({
      match: { ws: 'join', user: 'usr_member2' },
      effect: { type: 'ws-drop', afterMessages: 1, code: 1006 },
    })
    const victim = await open('usr_member2')
    victim.send({ type: 'join', channel: 'general' })
    expect((await victim.closed).code).toBe(1006)
    await watcher.waitFor((f) => f.type === 'presence' && f.user_id === 'usr_member2' && !f.online)
    expect(watcher.isOpen).toBe(true)
    // Another user's join is not matched.
    const other = await open('usr_member')
    other.send({ type: 'join', channel: 'general' })
    await other.sync()
    expect(other.isOpen).toBe(true)
  })

  it('ws-silence: the socket stays open but nothing flows, not even pongs', async () => {
    const a = await open('usr_member')
    a.send({ type: 'join', channel: 'general' })
    await a.sync()
    fault({ match: { ws: 'typing' }, effect: { type: 'ws-silence' } })
    const m = a.mark()
    a.send({ type: 'typing', channel: 'general', typing: true })
    a.send({ type: 'ping' })
    let pongs = 0
    a.raw.on('pong', () => pongs++)
    a.raw.ping()
    await sleep(300)
    expect(a.since(m)).toEqual([])
    expect(pongs).toBe(0)
    expect(a.isOpen).toBe(true)
    // The typing frame never reached the hub: another member does not see it.
    const b = await open('usr_member2')
    b.send({ type: 'join', channel: 'general' })
    await b.sync()
    expect(b.frames.some((f) => f.type === 'typing')).toBe(false)
  })

  it('faults count frames across a connection: ws-drop after the 3rd server frame', async () => {
    fault({ effect: { type: 'ws-drop', afterMessages: 3, code: 1011 } })
    const a = await open('usr_member')
    for (let i = 0; i < 5; i++) a.send({ type: 'ping' })
    expect((await a.closed).code).toBe(1011)
    expect(a.frames).toEqual([{ type: 'pong' }, { type: 'pong' }, { type: 'pong' }])
  })
})
