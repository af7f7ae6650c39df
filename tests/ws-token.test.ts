import { base64url } from 'jose'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import WebSocket from 'ws'
import { signWsToken } from '../mocks/core/ws-token.ts'
import type { FakeService } from '../mocks/fake/descriptor.ts'
import { startTestMocks, type TestMocks } from './helpers.ts'

// Ephemeral WS tokens end to end over sockets: the fake auth issues them for a signed-in
// session (POST /api/auth/ws-token), the fake chat accepts them on `?token=` when the scenario
// says so (chat.wsAuth) and refuses expired, tampered and wrongly signed ones with 401.

let t: TestMocks
beforeAll(async () => {
  t = await startTestMocks({ services: ['auth', 'chat'] })
})
afterAll(() => t.close())

async function wsToken(cookie?: string) {
  const res = await fetch(`${t.url('auth')}/api/auth/ws-token`, {
    method: 'POST',
    headers: cookie ? { cookie, origin: 'http://localhost:3000' } : {},
  })
  return { status: res.status, body: (await res.json()) as Record<string, string>, res }
}

/**
 * 'open', or the refusal's status over a real socket plus chat's body for the same handshake
 * (over Node the upgrade is refused with the bare status; the body is what the app answers).
 */
async function connect(token: string): Promise<{ outcome: 'open' | number; body?: unknown }> {
  const outcome = await new Promise<'open' | number>((resolve) => {
    const ws = new WebSocket(`${t.url('chat').replace('http', 'ws')}/ws?token=${encodeURIComponent(token)}`)
    ws.once('open', () => {
      ws.close()
      resolve('open')
    })
    ws.once('unexpected-response', (_req, res) => {
      resolve(res.statusCode ?? 0)
      ws.terminate()
    })
    ws.once('error', () => undefined)
  })
  if (outcome === 'open') return { outcome }
  const app = (t.mocks.services.get('chat')!.fake as FakeService).app
  const res = await app.request(`/ws?token=${encodeURIComponent(token)}`, {
    headers: { upgrade: 'websocket', connection: 'upgrade' },
  })
  expect(res.status).toBe(outcome)
  return { outcome, body: await res.json() }
}

describe('POST /api/auth/ws-token', () => {
  it('issues {token, expiresAt} for a signed-in session: HS256, sub = user, sid = session, 60 s', async () => {
    await t.mocks.switchScenario({ name: 'default' })
    const { status, body, res } = await wsToken(t.cookieFor('member'))
    expect(status).toBe(200)
    expect(res.headers.get('cache-control')).toBe('no-store')
    const [header, payload] = body.token!.split('.')
    expect(JSON.parse(new TextDecoder().decode(base64url.decode(header!)))).toMatchObject({ alg: 'HS256' })
    const claims = JSON.parse(new TextDecoder().decode(base64url.decode(payload!)))
    const member = t.mocks.scenario.auth.users.find((u) => u.role === 'member' && !u.banned)!
    expect(claims.sub).toBe(member.id)
    expect(typeof claims.sid).toBe('string')
    expect(claims.exp - claims.iat).toBeOneOf([60, 61]) // exp rounds up: at least 60 s
    expect(Date.parse(body.expiresAt!)).toBe(claims.exp * 1000)
  })

  it("401 in better-auth's envelope without a session", async () => {
    expect(await wsToken()).toMatchObject({
      status: 401,
      body: { message: 'Unauthorized', code: 'UNAUTHORIZED' },
    })
  })
})

describe('chat.wsAuth', () => {
  it('raw (default): the session token opens the socket', async () => {
    await t.mocks.switchScenario({ name: 'default' })
    expect((await connect(t.tokenFor('member'))).outcome).toBe('open')
  })

  it('chat-ws-ephemeral: the ephemeral token opens it; the raw session token is refused with 401', async () => {
    await t.mocks.switchScenario({ name: 'chat-ws-ephemeral' })
    const { body } = await wsToken(t.cookieFor('member'))
    expect((await connect(body.token!)).outcome).toBe('open')
    expect(await connect(t.tokenFor('member'))).toEqual({
      outcome: 401,
      body: { error: expect.stringMatching(/ephemeral WS tokens only/), code: 'ws_token_required' },
    })
  })

  it('refuses tampered and wrongly signed tokens with 401 ws_token_invalid', async () => {
    await t.mocks.switchScenario({ name: 'chat-ws-ephemeral' })
    const { body } = await wsToken(t.cookieFor('member'))
    const [h, p, s] = body.token!.split('.')
    const claims = JSON.parse(new TextDecoder().decode(base64url.decode(p!)))
    const forged = `${h}.${base64url.encode(JSON.stringify({ ...claims, sub: 'someone-else' }))}.${s}`
    expect(await connect(forged)).toEqual({
      outcome: 401,
      body: { error: 'WS token invalid', code: 'ws_token_invalid' },
    })
    const wrongSecret = await signWsToken({ sub: claims.sub, sid: claims.sid }, { secret: 'y'.repeat(40) })
    expect((await connect(wrongSecret.token)).outcome).toBe(401)
  })

  it('chat-ws-token-expired: a 1 s token opens the socket for a whole second, and is refused with 401 ws_token_expired once it lapses', async () => {
    await t.mocks.switchScenario({ name: 'chat-ws-token-expired' })
    // The clock the auth signs by and the chat checks by, moved by hand (sockets keep real timers).
    vi.useFakeTimers({ toFake: ['Date'] })
    try {
      const issued = Date.now()
      const { body } = await wsToken(t.cookieFor('member'))
      expect(Date.parse(body.expiresAt!) - issued).toBeGreaterThanOrEqual(1000)
      vi.setSystemTime(issued + 999)
      expect((await connect(body.token!)).outcome).toBe('open')
      vi.setSystemTime(issued + 2000)
      expect(await connect(body.token!)).toEqual({
        outcome: 401,
        body: { error: expect.stringMatching(/expired/), code: 'ws_token_expired' },
      })
      const fresh = await wsToken(t.cookieFor('member'))
      expect((await connect(fresh.body.token!)).outcome).toBe('open')
    } finally {
      vi.useRealTimers()
    }
  })

  it('both: either kind opens the socket', async () => {
    await t.mocks.switchScenario({
      scenario: { name: 'both', extends: 'default', chat: { wsAuth: 'both' } },
    })
    const { body } = await wsToken(t.cookieFor('member'))
    expect((await connect(body.token!)).outcome).toBe('open')
    expect((await connect(t.tokenFor('member'))).outcome).toBe('open')
  })
})

describe("the reference client's token route (demo server)", () => {
  it('answers the session token with wsAuth raw, and an ephemeral token from auth otherwise', async () => {
    const cookie = t.cookieFor('member')
    const get = () => fetch(`${t.controlUrl}/api/chat/ws-token`, { headers: { cookie } })
    await t.mocks.switchScenario({ name: 'default' })
    expect(await (await get()).json()).toEqual({ token: t.tokenFor('member') })

    await t.mocks.switchScenario({ name: 'chat-ws-ephemeral' })
    const res = await get()
    expect(res.status).toBe(200)
    const body = (await res.json()) as { token: string; expiresAt: string }
    expect(body.token.split('.')).toHaveLength(3)
    expect((await connect(body.token)).outcome).toBe('open')

    // The token route failing is an ordinary fault on auth's route.
    t.mocks.faults.add({
      service: 'auth',
      match: { path: '/api/auth/ws-token' },
      effect: { type: 'status', status: 500 },
      times: 1,
    })
    const failed = await get()
    expect(failed.status).toBe(503)
    expect(await failed.json()).toMatchObject({ code: 'ws_token_unavailable' })
    expect((await get()).status).toBe(200)
  })
})
