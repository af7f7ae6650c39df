import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { startTestMocks, type TestMocks } from './helpers.ts'

// The outage demo over real sockets: served by the control server beside /__mocks, its
// same-origin auth routes reaching the fake better-auth, and the CORS a browser page needs
// from chat, media and V01T, injected faults included.

let tm: TestMocks
const ORIGIN = 'http://127.0.0.1:8090' // the demo's origin, allowed by default
const FOREIGN = 'https://evil.example'

beforeAll(async () => {
  tm = await startTestMocks()
})
afterAll(() => tm.close())
afterEach(async () => {
  tm.mocks.faults.clear()
  tm.mocks.journal.clear()
})

describe('demo on the control server', () => {
  it('serves the pages at / while /__mocks keeps answering', async () => {
    const page = await fetch(`${tm.controlUrl}/`)
    expect(page.status).toBe(200)
    expect(await page.text()).toContain('outage demo')
    expect((await fetch(`${tm.controlUrl}/client.html`)).status).toBe(200)
    const health = await fetch(`${tm.controlUrl}/__mocks/health`)
    expect((await health.json()).scenario).toBe('default')
    const unknown = await fetch(`${tm.controlUrl}/__mocks/nope`)
    expect(unknown.status).toBe(404)
    expect((await unknown.json()).code).toBe('not_found')
    const config = await (await fetch(`${tm.controlUrl}/api/config`)).json()
    expect(config.services.chat).toBe(tm.url('chat'))
  })

  it('signs in through the same-origin auth routes: cookie set for the page, request id forwarded', async () => {
    const bad = await fetch(`${tm.controlUrl}/api/auth/sign-in/email`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin: ORIGIN },
      body: JSON.stringify({ email: 'member@casa.test', password: 'wrong-password' }),
    })
    expect(bad.status).toBe(401)
    expect(await bad.json()).toEqual({
      message: 'Invalid email or password',
      code: 'INVALID_EMAIL_OR_PASSWORD',
    })

    const res = await fetch(`${tm.controlUrl}/api/auth/sign-in/email`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin: ORIGIN, 'x-request-id': 'req-demo-1' },
      body: JSON.stringify({ email: 'member@casa.test', password: 'member-password-1' }),
    })
    expect(res.status).toBe(200)
    expect((await res.json()).user.id).toBe('usr_member')
    const [setCookie] = res.headers.getSetCookie()
    expect(setCookie).toMatch(
      /^better-auth\.session_token=[^;]+; Max-Age=\d+; Path=\/; HttpOnly; SameSite=Lax$/,
    )
    const cookie = setCookie!.split(';')[0]!

    const session = await fetch(`${tm.controlUrl}/api/auth/get-session`, { headers: { cookie } })
    expect((await session.json()).user.email).toBe('member@casa.test')
    const token = await (await fetch(`${tm.controlUrl}/api/chat/ws-token`, { headers: { cookie } })).json()
    expect(`better-auth.session_token=${token.token}`).toBe(cookie)

    const seen = tm.mocks.journal.list({ service: 'auth', path: '/api/auth/sign-in/email' })
    expect(seen.map((e) => [e.status, e.requestHeaders['x-request-id'] ?? null])).toEqual([
      [401, null],
      [200, 'req-demo-1'],
    ])
  })

  it('answers 503 in better-auth’s envelope while auth is down', async () => {
    tm.mocks.faults.add({ id: 'auth-down', service: 'auth', effect: { type: 'down' } })
    await tm.mocks.faults.settled()
    const res = await fetch(`${tm.controlUrl}/api/auth/get-session`)
    expect(res.status).toBe(503)
    expect(await res.json()).toEqual({
      message: 'Authentication service unavailable (ECONNREFUSED)',
      code: 'AUTH_SERVICE_UNAVAILABLE',
    })
  })
})

describe('browser CORS (demo origin)', () => {
  const preflight = (url: string, origin: string, method = 'GET') =>
    fetch(url, {
      method: 'OPTIONS',
      headers: {
        origin,
        'access-control-request-method': method,
        'access-control-request-headers': 'x-request-id,traceparent',
      },
    })

  it('lets chat, media and V01T be called with X-Request-ID and traceparent', async () => {
    for (const [url, method] of [
      [`${tm.url('chat')}/api/v1/messages?channel=general`, 'GET'],
      [`${tm.url('media')}/api/v1/upload`, 'POST'],
      [`${tm.url('v01t')}/trace/flight-path/artefact/`, 'GET'],
    ] as const) {
      const res = await preflight(url, ORIGIN, method)
      expect(res.status, url).toBe(204)
      const allowed = (res.headers.get('access-control-allow-headers') ?? '').toLowerCase()
      expect(allowed, url).toContain('x-request-id')
      expect(allowed, url).toContain('traceparent')
      expect(res.headers.get('access-control-allow-origin'), url).toMatch(/^(\*|http:\/\/127\.0\.0\.1:8090)$/)
    }
  })

  it('keeps CORS on answers injected by faults, so a page can read a 500 (chat, media)', async () => {
    tm.mocks.faults.add({
      service: 'chat',
      match: { path: '/api/v1/messages' },
      effect: { type: 'status', status: 500 },
    })
    tm.mocks.faults.add({
      service: 'media',
      match: { path: '/api/v1/upload' },
      effect: { type: 'status', status: 503 },
    })
    const chat = await fetch(`${tm.url('chat')}/api/v1/messages?channel=general`, {
      headers: { origin: ORIGIN, cookie: tm.cookieFor('member') },
    })
    expect(chat.status).toBe(500)
    expect(chat.headers.get('access-control-allow-origin')).toBe(ORIGIN)
    expect(chat.headers.get('access-control-allow-credentials')).toBe('true')
    expect(await chat.json()).toEqual({ error: 'Internal server error', code: 'internal_error' })

    const media = await fetch(`${tm.url('media')}/api/v1/upload`, {
      method: 'POST',
      headers: { origin: ORIGIN, cookie: tm.cookieFor('member') },
    })
    expect(media.status).toBe(503)
    expect(media.headers.get('access-control-allow-origin')).toBe(ORIGIN)
    expect(media.headers.get('access-control-allow-credentials')).toBe('true')

    // A preflight is the CORS layer's own answer: the fault (and the journal) never see it.
    const pre = await preflight(`${tm.url('chat')}/api/v1/messages?channel=general`, ORIGIN)
    expect(pre.status).toBe(204)
    expect(tm.mocks.journal.list({ service: 'chat', method: 'OPTIONS' })).toEqual([])
  })

  it('gives a foreign origin nothing, faults or not', async () => {
    tm.mocks.faults.add({
      service: 'chat',
      match: { path: '/api/v1/messages' },
      effect: { type: 'status', status: 500 },
    })
    const chat = await fetch(`${tm.url('chat')}/api/v1/messages?channel=general`, {
      headers: { origin: FOREIGN },
    })
    expect(chat.headers.get('access-control-allow-origin')).toBeNull()
    const media = await preflight(`${tm.url('media')}/api/v1/upload`, FOREIGN, 'POST')
    expect(media.headers.get('access-control-allow-origin')).toBeNull()
  })

  it('still answers unknown chat and media paths in the service envelope', async () => {
    for (const service of ['chat', 'media'] as const) {
      const res = await fetch(`${tm.url(service)}/nope`)
      expect(res.status).toBe(404)
      expect(await res.json()).toEqual({ error: 'No route for GET /nope', code: 'not_found' })
    }
  })
})
