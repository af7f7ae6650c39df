import { createHash } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { setupServer } from 'msw/node'
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest'
import { createMswMocks, type MswMocks, resolveMswUrls } from './index.ts'

// Everything in-process through msw's setupServer: nothing listens on a port, and any request
// msw does not handle is an error. The runtime is built BEFORE server.listen(), the order a
// consumer's setup file uses, so the fakes' own get-session calls must still reach msw.

const AUTH = 'http://localhost:8083'
const CHAT = 'http://localhost:8082'
const CHAT_WS = 'ws://localhost:8082'
const MEDIA = 'http://localhost:8081'
const V01T = 'http://localhost:8000'

let m: MswMocks
let server: ReturnType<typeof setupServer>
const sockets = new Set<WebSocket>()

beforeAll(async () => {
  m = await createMswMocks({ env: {} })
  server = setupServer(...m.handlers)
  server.listen({ onUnhandledRequest: 'error' })
})

afterEach(async () => {
  for (const s of sockets) s.close()
  sockets.clear()
  await m.mocks.reset()
})

afterAll(async () => {
  server.close()
  await m.close()
})

// ---- WebSocket helpers ----

interface Observed {
  socket: WebSocket
  events: string[]
  frames: Record<string, unknown>[]
  closed: Promise<CloseEvent>
  /** The first frame (already received or still to come) that satisfies `pred`. */
  frame(pred: (f: Record<string, unknown>) => boolean, ms?: number): Promise<Record<string, unknown>>
  send(frame: unknown): void
}

function open(query = ''): Observed {
  const socket = new WebSocket(`${CHAT_WS}/ws${query}`)
  sockets.add(socket)
  const events: string[] = []
  const frames: Record<string, unknown>[] = []
  const waiters: (() => void)[] = []
  socket.addEventListener('open', () => events.push('open'))
  socket.addEventListener('error', () => events.push('error'))
  socket.addEventListener('message', (e) => {
    frames.push(JSON.parse(String(e.data)) as Record<string, unknown>)
    for (const w of waiters.splice(0)) w()
  })
  const closed = new Promise<CloseEvent>((resolve) =>
    socket.addEventListener('close', (e) => {
      events.push(`close ${e.code} ${e.wasClean ? 'clean' : 'unclean'}`)
      resolve(e)
    }),
  )
  return {
    socket,
    events,
    frames,
    closed,
    send: (frame) => socket.send(typeof frame === 'string' ? frame : JSON.stringify(frame)),
    frame(pred, ms = 3000) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`no matching frame in ${ms} ms; got ${JSON.stringify(frames)}`)),
          ms,
        )
        const check = () => {
          const hit = frames.find(pred)
          if (hit) {
            clearTimeout(timer)
            resolve(hit)
          } else waiters.push(check)
        }
        check()
      })
    },
  }
}

const token = (role: string) => `?token=${encodeURIComponent(m.tokenFor(role))}`

function within<T>(p: Promise<T>, ms = 3000): Promise<T> {
  return Promise.race([
    p,
    new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`not settled in ${ms} ms`)), ms)),
  ])
}

// ---- HTTP ----

describe('HTTP through msw, one runtime', () => {
  test('sign in, then get-session with the Set-Cookie; no cookie is no session', async () => {
    const res = await fetch(`${AUTH}/api/auth/sign-in/email`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'member@casa.test', password: 'member-password-1' }),
    })
    expect(res.status).toBe(200)
    const body = (await res.json()) as {
      redirect: boolean
      token: string
      user: { id: string; role: string }
    }
    expect(body).toMatchObject({ redirect: false, user: { id: 'usr_member', role: 'member' } })
    const setCookie = res.headers.getSetCookie()
    expect(setCookie).toHaveLength(1)
    const cookie = setCookie[0]!.split(';')[0]!
    expect(cookie).toMatch(/^better-auth\.session_token=/)

    const session = await fetch(`${AUTH}/api/auth/get-session`, { headers: { cookie } })
    expect(session.status).toBe(200)
    expect(session.headers.get('cache-control')).toBe('no-store')
    expect(await session.json()).toMatchObject({
      user: { id: 'usr_member' },
      session: { userId: 'usr_member' },
    })

    // The new session also works where chat asks auth for it (in-process, through msw).
    const history = await fetch(`${CHAT}/api/v1/messages?channel=general`, { headers: { cookie } })
    expect(history.status).toBe(200)

    // No cookie jar is added behind the client's back.
    const anonymous = await fetch(`${AUTH}/api/auth/get-session`)
    expect(anonymous.status).toBe(401)
    expect(await anonymous.json()).toEqual({ user: null, session: null })

    const wrong = await fetch(`${AUTH}/api/auth/sign-in/email`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'member@casa.test', password: 'nope-nope-nope' }),
    })
    expect(wrong.status).toBe(401)
    expect(await wrong.json()).toMatchObject({ code: 'INVALID_EMAIL_OR_PASSWORD' })
  })

  test('chat history: chat validates the session with the auth handler, in-process', async () => {
    const res = await fetch(`${CHAT}/api/v1/messages?channel=general&limit=100`, {
      headers: { cookie: m.cookieFor('member'), 'x-request-id': 'req-msw-1' },
    })
    expect(res.status).toBe(200)
    const rows = (await res.json()) as {
      id: string
      content: string
      sender_id: string
      created_at: string
    }[]
    expect(rows.find((r) => r.id === 'msg_welcome')).toMatchObject({
      sender_id: 'usr_admin',
      content: 'Welcome to casa! Say hi 👋',
    })
    // The get-session call chat made was served by the auth fake of this runtime (journaled
    // there), not by anything on the network.
    const calls = m.mocks.journal.list({ service: 'auth', path: '/api/auth/get-session' })
    expect(calls.at(-1)).toMatchObject({ status: 200, requestHeaders: { 'x-request-id': 'req-msw-1' } })

    const anonymous = await fetch(`${CHAT}/api/v1/messages?channel=general`)
    expect(anonymous.status).toBe(401)
    expect(await anonymous.json()).toMatchObject({ code: 'unauthorized' })
  })

  test('V01T list', async () => {
    const res = await fetch(`${V01T}/trace/devarno-ecosystem/node/?page_size=50`)
    expect(res.status).toBe(200)
    const body = (await res.json()) as {
      success: boolean
      data: { title: string }[]
      metadata: { total_count: number }
    }
    expect(body.success).toBe(true)
    expect(body.metadata.total_count).toBe(18)
    expect(body.data).toHaveLength(18)
    expect(body.data.map((d) => d.title)).toContain('devarno-cloud')
  })

  test('one process, one world: the default tenant; a tenant named but never made here is a 404, never the default', async () => {
    const list = `${V01T}/trace/devarno-ecosystem/node/`
    m.mocks.faults.add({ service: 'v01t', effect: { type: 'status', status: 500 } })
    await m.mocks.faults.settled()
    // No tenant named: the default tenant's world (its fault applies).
    expect((await fetch(list)).status).toBe(500)
    for (const headers of <Record<string, string>[]>[
      { 'x-mocks-tenant': 'elsewhere' },
      { baggage: 'mocks.tenant=elsewhere' },
      { cookie: 'mocks_tenant=elsewhere' },
    ]) {
      const res = await fetch(list, { headers })
      expect(res.status, JSON.stringify(headers)).toBe(404)
      expect(await res.json()).toMatchObject({ success: false, code: 'not_found' })
    }
    // Made in this process, a tenant is its own world here too (its own faults: none).
    const made = await m.mocks.createTenant({ name: 'default' }, 'msw-tenant')
    try {
      expect((await fetch(list, { headers: { 'x-mocks-tenant': made.id } })).status).toBe(200)
      expect((await fetch(list)).status).toBe(500)
    } finally {
      await m.mocks.deleteTenant(made.id)
    }
  })

  test('media upload round trip: multipart in, the same bytes and a real thumbnail out', async () => {
    const png = await readFile(new URL('../../fixtures/media/sunset.png', import.meta.url))
    const form = new FormData()
    form.append('file', new Blob([png], { type: 'image/png' }), 'sunset.png')
    const res = await fetch(`${MEDIA}/api/v1/upload`, {
      method: 'POST',
      headers: { cookie: m.cookieFor('member') },
      body: form,
    })
    expect(res.status).toBe(201)
    const up = (await res.json()) as {
      id: string
      url: string
      thumbnail_url: string
      sha256: string
      size_bytes: number
    }
    const sha = createHash('sha256').update(png).digest('hex')
    expect(up).toMatchObject({ sha256: sha, size_bytes: png.length })
    // Advertised on the media origin msw serves, so the download comes back through it.
    expect(up.url).toBe(`${MEDIA}/api/v1/files/${up.id}/download`)

    const download = await fetch(up.url, { headers: { cookie: m.cookieFor('member') } })
    expect(download.status).toBe(200)
    expect(download.headers.get('content-type')).toBe('image/png')
    expect(Buffer.from(await download.arrayBuffer()).equals(png)).toBe(true)

    const thumb = await fetch(up.thumbnail_url, { headers: { cookie: m.cookieFor('member') } })
    expect(thumb.status).toBe(200)
    expect(thumb.headers.get('content-type')).toBe('image/webp')
    const thumbBytes = Buffer.from(await thumb.arrayBuffer())
    expect(thumbBytes.subarray(8, 12).toString('latin1')).toBe('WEBP')

    // A child may not upload: media's own envelope, through the same path.
    const child = await fetch(`${MEDIA}/api/v1/upload`, {
      method: 'POST',
      headers: { cookie: m.cookieFor('child') },
      body: form,
    })
    expect(child.status).toBe(403)
    expect(await child.json()).toMatchObject({ error: expect.stringContaining('child') })
  })

  test('scenario switch through the control slice, served by msw like any route', async () => {
    const put = await fetch(`${CHAT}/__mocks/scenario`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'chat-rest-500' }),
    })
    expect(put.status).toBe(200)
    expect(m.mocks.scenario.name).toBe('chat-rest-500')
    const res = await fetch(`${CHAT}/api/v1/messages?channel=general`, {
      headers: { cookie: m.cookieFor('member') },
    })
    expect(res.status).toBe(500)
    expect(await res.json()).toEqual({ error: expect.any(String), code: expect.any(String) })

    await m.mocks.switchScenario({ name: 'default' })
    const back = await fetch(`${CHAT}/api/v1/messages?channel=general`, {
      headers: { cookie: m.cookieFor('member') },
    })
    expect(back.status).toBe(200)
  })
})

describe('faults through the same engine', () => {
  test('status: the service envelope, counted and journaled by the one engine', async () => {
    const fault = m.mocks.faults.add({
      service: 'v01t',
      match: { method: 'GET', path: '/trace/:app/:component/' },
      effect: { type: 'status', status: 503 },
      times: 1,
    })
    const first = await fetch(`${V01T}/trace/devarno-ecosystem/node/`)
    expect(first.status).toBe(503)
    expect(await first.json()).toMatchObject({
      success: false,
      error: expect.any(String),
      code: expect.any(String),
    })
    const second = await fetch(`${V01T}/trace/devarno-ecosystem/node/`)
    expect(second.status).toBe(200)
    expect(m.mocks.faults.list('v01t').find((f) => f.id === fault.id)).toMatchObject({
      fired: 1,
      state: 'expired',
    })
    expect(m.mocks.journal.list({ service: 'v01t' }).map((e) => e.fault?.type ?? null)).toEqual([
      'status',
      null,
    ])
  })

  test('down: fetch rejects with a network TypeError (no HTTP answer) until the fault is removed', async () => {
    const fault = m.mocks.faults.add({ service: 'v01t', effect: { type: 'down' } })
    await m.mocks.faults.settled()
    const err = await fetch(`${V01T}/trace/devarno-ecosystem/node/`).then(
      () => null,
      (e: unknown) => e,
    )
    expect(err).toBeInstanceOf(TypeError)
    expect((err as TypeError).message).toBe('Failed to fetch')
    // The other services are up.
    expect((await fetch(`${AUTH}/api/auth/ok`)).status).toBe(200)

    expect(m.mocks.faults.remove(fault.id)).toBe(true)
    await m.mocks.faults.settled()
    expect((await fetch(`${V01T}/trace/devarno-ecosystem/node/`)).status).toBe(200)
  })

  test('auth down cascades: chat answers 503 auth_unavailable', async () => {
    m.mocks.faults.add({ service: 'auth', effect: { type: 'down' } })
    await m.mocks.faults.settled()
    const res = await fetch(`${CHAT}/api/v1/messages?channel=general`, {
      headers: { cookie: m.cookieFor('member') },
    })
    expect(res.status).toBe(503)
    expect(await res.json()).toMatchObject({ code: 'auth_unavailable' })
  })

  test('reset: a network TypeError too (the closest a fetch can see of ECONNRESET)', async () => {
    m.mocks.faults.add({ service: 'media', match: { path: '/api/v1/files/:id' }, effect: { type: 'reset' } })
    const err = await fetch(`${MEDIA}/api/v1/files/anything`, {
      headers: { cookie: m.cookieFor('member') },
    }).then(
      () => null,
      (e: unknown) => e,
    )
    expect(err).toBeInstanceOf(TypeError)
    expect(m.mocks.journal.list({ service: 'media' }).at(-1)?.fault?.type).toBe('reset')
  })

  test('reset from a browser origin: still a network error through the CORS layer, on every fake', async () => {
    // A page (jsdom) sends Origin: the CORS layer in front of the fault engine must not turn
    // the network error into a 500.
    const origin = 'http://localhost:3000'
    const cases = [
      { service: 'media', url: `${MEDIA}/api/v1/files/anything` },
      { service: 'chat', url: `${CHAT}/api/v1/messages?channel=general` },
      { service: 'v01t', url: `${V01T}/trace/devarno-ecosystem/node/` },
    ] as const
    for (const { service, url } of cases) {
      const fault = m.mocks.faults.add({ service, effect: { type: 'reset' } })
      const err = await fetch(url, { headers: { cookie: m.cookieFor('member'), origin } }).then(
        (res) => res.status,
        (e: unknown) => e,
      )
      expect(err, service).toBeInstanceOf(TypeError)
      m.mocks.faults.remove(fault.id)
    }
  })

  test('latency and slow-body act in real time through msw (headers first, then the trickle)', async () => {
    const url = `${V01T}/trace/devarno-ecosystem/node/?page_size=1`
    const size = (await (await fetch(url)).arrayBuffer()).byteLength
    m.mocks.faults.add({ service: 'v01t', effect: { type: 'latency', ms: 150 } })
    let started = performance.now()
    expect((await fetch(url)).status).toBe(200)
    expect(performance.now() - started).toBeGreaterThanOrEqual(150)

    await m.mocks.reset()
    const bytesPerSecond = 2000
    m.mocks.faults.add({ service: 'v01t', effect: { type: 'slow-body', bytesPerSecond } })
    started = performance.now()
    const res = await fetch(url)
    const headersAt = performance.now() - started
    const body = Buffer.from(await res.arrayBuffer())
    const total = performance.now() - started
    expect(body.byteLength).toBe(size)
    expect(total).toBeGreaterThanOrEqual((size / bytesPerSecond) * 1000)
    expect(headersAt).toBeLessThan(total / 2)
  })

  test('hang: never answers, and the client signal aborts it (the handler is released)', async () => {
    m.mocks.faults.add({ service: 'v01t', effect: { type: 'hang' } })
    const controller = new AbortController()
    const pending = fetch(`${V01T}/trace/devarno-ecosystem/node/`, { signal: controller.signal })
    const early = await Promise.race([
      pending.then(
        () => 'answered',
        () => 'failed',
      ),
      new Promise((r) => setTimeout(() => r('pending'), 200)),
    ])
    expect(early).toBe('pending')
    controller.abort()
    await expect(pending).rejects.toMatchObject({ name: 'AbortError' })
    // The engine saw the abort: the hang ended and the request was journaled.
    await expect
      .poll(() => m.mocks.journal.list({ service: 'v01t' }).at(-1)?.fault?.type, { timeout: 2000 })
      .toBe('hang')
  })
})

// ---- the chat WebSocket ----

describe('chat WebSocket through ws.link, the one hub', () => {
  test('join, send, the broadcast reaches another client, and REST history has the same message', async () => {
    expect(
      typeof globalThis.WebSocket,
      'no global WebSocket: Node 20 needs --experimental-websocket (the msw project in vitest.config.ts)',
    ).toBe('function')
    const a = open(token('usr_member'))
    const b = open(token('usr_member2'))
    // Sent as soon as msw opens the socket, before the handshake check finishes: kept in order.
    a.socket.addEventListener('open', () => a.send({ type: 'join', channel: 'general' }))
    b.socket.addEventListener('open', () => b.send({ type: 'join', channel: 'general' }))
    await a.frame((f) => f.type === 'presence' && f.user_id === 'usr_member')
    await b.frame((f) => f.type === 'presence' && f.user_id === 'usr_member2')
    // A hears B come online (or was told on joining, whichever came second).
    await a.frame((f) => f.type === 'presence' && f.user_id === 'usr_member2' && f.online === true)

    a.send({ type: 'message', channel: 'general', content: 'hello through msw' })
    const atB = await b.frame((f) => f.type === 'message')
    const atA = await a.frame((f) => f.type === 'message')
    expect(atB).toEqual(atA)
    expect(atB).toMatchObject({
      type: 'message',
      id: expect.any(String),
      sender: 'usr_member',
      content: 'hello through msw',
      channel: 'general',
      timestamp: expect.any(String),
    })

    // Same hub, same store: REST (another user, through msw) sees the message with its id.
    const res = await fetch(`${CHAT}/api/v1/messages?channel=general`, {
      headers: { cookie: m.cookieFor('usr_admin') },
    })
    const rows = (await res.json()) as { id: string; content: string; sender_id: string }[]
    expect(rows.at(-1)).toMatchObject({ id: atB.id, content: 'hello through msw', sender_id: 'usr_member' })

    // Presence over REST reflects the sockets msw holds.
    const presence = await fetch(`${CHAT}/api/v1/presence?channel=general`, {
      headers: { cookie: m.cookieFor('usr_admin') },
    })
    const online = ((await presence.json()) as { user_id: string; online: boolean }[])
      .filter((p) => p.online)
      .map((p) => p.user_id)
    expect(online.sort()).toEqual(['usr_member', 'usr_member2'])

    // Every frame in and out went through the engine's journal.
    const kinds = new Set(m.mocks.journal.list({ service: 'chat' }).map((e) => e.kind))
    expect([...kinds]).toEqual(expect.arrayContaining(['ws-open', 'ws-in', 'ws-out']))

    // Frame errors keep the socket usable, in chat's own error frame.
    a.send('not json')
    expect(await a.frame((f) => f.type === 'error')).toMatchObject({ code: 'invalid_json' })
    a.send({ type: 'ping' })
    await a.frame((f) => f.type === 'pong')
  })

  test('a refused handshake looks like a browser sees it: error, then close 1006 unclean', async () => {
    const s = open('?token=not-a-session')
    const e = await within(s.closed)
    expect(e.code).toBe(1006)
    expect(e.wasClean).toBe(false)
    expect(s.events).toEqual(['open', 'error', 'close 1006 unclean'])
    expect(m.mocks.journal.list({ service: 'chat', path: '/ws' }).at(-1)).toMatchObject({
      kind: 'http',
      status: 401,
    })
  })

  test('a page Origin (DOM environments) is checked as a browser handshake would be', async () => {
    const g = globalThis as { location?: { origin: string } }
    try {
      g.location = { origin: 'https://evil.example' }
      const refused = open(token('member'))
      expect((await within(refused.closed)).code).toBe(1006)
      expect(m.mocks.journal.list({ service: 'chat', path: '/ws' }).at(-1)).toMatchObject({ status: 403 })
      g.location = { origin: 'http://localhost:3000' }
      const allowed = open(token('member'))
      allowed.socket.addEventListener('open', () => allowed.send({ type: 'ping' }))
      await allowed.frame((f) => f.type === 'pong')
    } finally {
      delete g.location
    }
  })

  test('ws-reject fault refuses the handshake through the same engine', async () => {
    m.mocks.faults.add({
      service: 'chat',
      match: { ws: 'upgrade' },
      effect: { type: 'ws-reject', status: 503 },
    })
    const s = open(token('member'))
    expect((await within(s.closed)).code).toBe(1006)
    expect(s.events).toContain('error')
    expect(m.mocks.journal.list({ service: 'chat', path: '/ws' }).at(-1)).toMatchObject({
      status: 503,
      fault: { type: 'ws-reject' },
    })
  })

  test('ws-drop 1006 cuts the socket with no close frame (wasClean false)', async () => {
    m.mocks.faults.add({
      service: 'chat',
      match: { ws: 'join' },
      effect: { type: 'ws-drop', code: 1006, afterMessages: 0 },
    })
    const s = open(token('member'))
    s.socket.addEventListener('open', () => s.send({ type: 'join', channel: 'general' }))
    const e = await within(s.closed)
    expect([e.code, e.wasClean]).toEqual([1006, false])
    expect(s.events).not.toContain('error')
  })

  test('down on chat terminates open sockets (1006) and refuses new ones', async () => {
    const s = open(token('member'))
    s.socket.addEventListener('open', () => s.send({ type: 'join', channel: 'general' }))
    await s.frame((f) => f.type === 'presence')
    m.mocks.faults.add({ service: 'chat', effect: { type: 'down' } })
    await m.mocks.faults.settled()
    const e = await within(s.closed)
    expect([e.code, e.wasClean]).toEqual([1006, false])
    const again = open(token('member'))
    expect((await within(again.closed)).code).toBe(1006)
    expect(again.events).toContain('error')
  })

  test('a scenario switch closes open sockets with 1012; an oversized frame closes with 1009', async () => {
    const s = open(token('member'))
    s.socket.addEventListener('open', () => s.send({ type: 'join', channel: 'general' }))
    await s.frame((f) => f.type === 'presence')
    await m.mocks.switchScenario({ name: 'default' })
    const e = await within(s.closed)
    expect([e.code, e.wasClean]).toEqual([1012, true])

    const big = open(token('member'))
    big.socket.addEventListener('open', () => big.send({ type: 'ping', pad: 'x'.repeat(64 * 1024) }))
    expect((await within(big.closed)).code).toBe(1009)
  })
})

describe('configuration', () => {
  test('origins come from the frontend env names, then DESIGN §1 defaults; paths are refused', () => {
    expect(resolveMswUrls({}, {})).toEqual({
      auth: AUTH,
      chat: CHAT,
      chatWs: CHAT_WS,
      media: MEDIA,
      v01t: [V01T],
      upstash: 'http://localhost:8084',
    })
    expect(
      resolveMswUrls(
        {},
        {
          AUTH_SERVICE_URL: 'https://casa.devarno.cloud/',
          CHAT_SERVICE_URL: 'https://chat.example.test',
          V01T_API_URL: 'http://v01t-api:8000',
          NEXT_PUBLIC_V01T_API_URL: 'https://v01t.devarno.cloud',
        },
      ),
    ).toMatchObject({
      auth: 'https://casa.devarno.cloud',
      chatWs: 'wss://chat.example.test',
      v01t: ['http://v01t-api:8000', 'https://v01t.devarno.cloud'],
    })
    expect(() => resolveMswUrls({ media: 'http://localhost:8081/api' }, {})).toThrow(/has a path/)
    expect(() => resolveMswUrls({ chatWs: 'http://localhost:8082' }, {})).toThrow(/ws: or wss:/)
    // NEXT_PUBLIC_CHAT_WS_URL is the origin (the client adds /ws); the endpoint form is accepted too.
    for (const form of [
      'ws://localhost:9082',
      'ws://localhost:9082/',
      'ws://localhost:9082/ws',
      'ws://localhost:9082/ws/',
    ]) {
      expect(resolveMswUrls({}, { NEXT_PUBLIC_CHAT_WS_URL: form }).chatWs, form).toBe('ws://localhost:9082')
    }
    expect(() => resolveMswUrls({ chatWs: 'ws://localhost:8082/socket' }, {})).toThrow(/has a path/)
  })

  test('a second runtime on other origins is independent; its scenario `down` applies at start', async () => {
    const other = await createMswMocks({
      env: {},
      scenario: 'v01t-down',
      services: ['auth', 'v01t'],
      urls: { auth: 'http://auth.other.test', v01t: ['http://v01t.other.test', 'http://v01t-2.other.test'] },
    })
    server.use(...other.handlers)
    try {
      for (const origin of ['http://v01t.other.test', 'http://v01t-2.other.test']) {
        await expect(fetch(`${origin}/trace/devarno-ecosystem/node/`)).rejects.toThrow(TypeError)
      }
      expect((await fetch(`${V01T}/trace/devarno-ecosystem/node/`)).status).toBe(200)
      expect(other.mocks.services.has('chat')).toBe(false)
      expect(other.mocks.faults.remove('v01t-down')).toBe(true)
      await other.mocks.faults.settled()
      expect((await fetch('http://v01t-2.other.test/trace/devarno-ecosystem/node/')).status).toBe(200)
    } finally {
      server.resetHandlers()
      await other.close()
    }
  })

  test('an unknown scenario or service, or one origin for two services, is refused clearly', async () => {
    await expect(createMswMocks({ env: {}, urls: { auth: CHAT } })).rejects.toThrow(
      'http://localhost:8082 is given for both auth and chat',
    )
    await expect(createMswMocks({ env: {}, scenario: 'no-such-scenario' })).rejects.toThrow(
      /no-such-scenario/,
    )
    await expect(createMswMocks({ env: {}, services: ['nope' as 'auth'] })).rejects.toThrow(
      /No fake registered for "nope"/,
    )
  })
})
