import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import { SessionSchema, UserSchema } from '../../proto-contracts/gen/ts/devarno/shared/v1/user_pb.ts'
import { checkMessage } from '../core/contract.ts'
import { signSessionToken } from '../core/session-cookie.ts'
import { inProcess } from '../runtime/testing.ts'
import { createAuthFake } from './index.ts'

const ErrorBody = z.strictObject({ message: z.string().min(1), code: z.string().regex(/^[A-Z_]+$/) })
const ORIGIN = { origin: 'http://localhost:3000' }
const json = (body: unknown, headers: Record<string, string> = {}) => ({
  method: 'POST',
  headers: { 'content-type': 'application/json', ...headers },
  body: typeof body === 'string' ? body : JSON.stringify(body),
})

async function setup() {
  const h = await inProcess(createAuthFake)
  const req = (path: string, init?: RequestInit) => h.fake.app.request(`http://localhost:8083${path}`, init)
  return { h, req }
}

function expectSessionBody(body: { user: unknown; session: unknown }) {
  expect(Object.keys(body).sort()).toEqual(['session', 'user'])
  expect(checkMessage(UserSchema, body.user, { names: 'json' })).toEqual([])
  expect(checkMessage(SessionSchema, body.session, { names: 'json' })).toEqual([])
}

describe('get-session', () => {
  it('returns {user, session} with the matrix fields for a signed seeded cookie', async () => {
    const { h, req } = await setup()
    const res = await req('/api/auth/get-session', { headers: { cookie: h.cookieFor('usr_child') } })
    expect(res.status).toBe(200)
    expect(res.headers.get('cache-control')).toBe('no-store')
    const body = await res.json()
    expectSessionBody(body)
    expect(body.user).toMatchObject({
      id: 'usr_child',
      role: 'child',
      image: null,
      banned: false,
      emailVerified: true,
    })
    expect(body.session.userId).toBe('usr_child')
  })

  it('answers 401 {user:null, session:null} by default, and 200 null when the scenario says so', async () => {
    const { h, req } = await setup()
    let res = await req('/api/auth/get-session')
    expect(res.status).toBe(401)
    expect(await res.json()).toEqual({ user: null, session: null })
    await h.use({ ...h.scenario, auth: { ...h.scenario.auth, noSession: '200-null' } })
    res = await req('/api/auth/get-session')
    expect(res.status).toBe(200)
    expect(await res.text()).toBe('null')
  })

  // better-auth 1.7: a cookie whose signature fails is simply no session (no Set-Cookie); a
  // signed token naming no live session has its three cookies cleared.
  it('refuses unsigned, tampered and foreign-secret cookies without touching them', async () => {
    const { h, req } = await setup()
    const good = h.cookieFor('usr_member')
    const raw = 'better-auth.session_token=MemberSessionToken00000000000001'
    const tampered = good.replace('Member', 'Admin')
    for (const cookie of [raw, tampered, `${good.slice(0, -6)}AAAA%3D`, 'better-auth.session_token=%%%']) {
      const res = await req('/api/auth/get-session', { headers: { cookie } })
      expect(res.status, cookie).toBe(401)
      expect(res.headers.get('set-cookie')).toBeNull()
    }
  })

  it('clears session_token, session_data and dont_remember for a signed token naming no session', async () => {
    const { h, req } = await setup()
    const cookie = h.cookieFor('usr_member')
    await req('/api/auth/sign-out', json({}, { cookie, ...ORIGIN }))
    const res = await req('/api/auth/get-session', { headers: { cookie } })
    expect(res.status).toBe(401)
    expect(res.headers.getSetCookie()).toEqual([
      'better-auth.session_token=; Max-Age=0; Path=/; HttpOnly; SameSite=Lax',
      'better-auth.session_data=; Max-Age=0; Path=/; HttpOnly; SameSite=Lax',
      'better-auth.dont_remember=; Max-Age=0; Path=/; HttpOnly; SameSite=Lax',
    ])
  })

  it('sends the session as better-auth 1.7 does (token, createdAt, updatedAt), no-cache both ways', async () => {
    const { h, req } = await setup()
    const res = await req('/api/auth/get-session', { headers: { cookie: h.cookieFor('usr_member') } })
    expect(res.headers.get('pragma')).toBe('no-cache')
    const body = await res.json()
    expect(Object.keys(body.session).sort()).toEqual([
      'createdAt',
      'expiresAt',
      'id',
      'impersonatedBy',
      'ipAddress',
      'token',
      'updatedAt',
      'userAgent',
      'userId',
    ])
    expect(body.session.token).toMatch(/^[a-zA-Z0-9]{32}$/)
    expect(decodeURIComponent(h.cookieFor('usr_member'))).toContain(`=${body.session.token}.`)
    const post = await req('/api/auth/get-session', json({}))
    expect(post.status).toBe(405)
    expect((await post.json()).code).toBe('METHOD_NOT_ALLOWED_DEFER_SESSION_REQUIRED')
  })

  it("without the admin plugin (auth.adminPlugin: false) users carry better-auth's core fields only", async () => {
    const { h, req } = await setup()
    await h.use({ ...h.scenario, auth: { ...h.scenario.auth, adminPlugin: false } })
    const body = await (
      await req('/api/auth/get-session', { headers: { cookie: h.cookieFor('usr_member') } })
    ).json()
    expect(Object.keys(body.user).sort()).toEqual([
      'createdAt',
      'email',
      'emailVerified',
      'id',
      'image',
      'name',
      'updatedAt',
    ])
    expect(body.session.impersonatedBy).toBeUndefined()
  })

  it('gives no session to banned users and expired sessions', async () => {
    const { h, req } = await setup()
    for (const id of ['usr_banned', 'usr_expired']) {
      const res = await req('/api/auth/get-session', { headers: { cookie: h.cookieFor(id) } })
      expect(res.status, id).toBe(401)
    }
  })
})

describe('sign-in, sign-up, sign-out', () => {
  it('signs in with the seeded password and sets a signed cookie that get-session accepts', async () => {
    const { req } = await setup()
    const res = await req(
      '/api/auth/sign-in/email',
      json({ email: 'Member@Casa.test', password: 'member-password-1' }),
    )
    expect(res.status).toBe(200)
    const body = await res.json()
    expect(Object.keys(body).sort()).toEqual(['redirect', 'token', 'user'])
    expect(body.redirect).toBe(false)
    expect(body.token).toMatch(/^[a-zA-Z0-9]{32}$/)
    expect(checkMessage(UserSchema, body.user, { names: 'json' })).toEqual([])
    const setCookie = res.headers.get('set-cookie') ?? ''
    expect(setCookie).toMatch(
      /^better-auth\.session_token=[^;]+; Max-Age=604800; Path=\/; HttpOnly; SameSite=Lax$/,
    )
    const cookie = setCookie.split(';')[0]!
    const session = await req('/api/auth/get-session', { headers: { cookie } })
    expect((await session.json()).user.id).toBe('usr_member')
  })

  it('rememberMe:false gives a session cookie without Max-Age', async () => {
    const { req } = await setup()
    const res = await req(
      '/api/auth/sign-in/email',
      json({ email: 'member@casa.test', password: 'member-password-1', rememberMe: false }),
    )
    expect(res.headers.get('set-cookie')).not.toMatch(/Max-Age/)
  })

  it('refuses wrong passwords, unknown users and banned users with better-auth codes', async () => {
    const { req } = await setup()
    const cases: [unknown, number, string][] = [
      [{ email: 'member@casa.test', password: 'nope-nope' }, 401, 'INVALID_EMAIL_OR_PASSWORD'],
      [{ email: 'ghost@casa.test', password: 'whatever1' }, 401, 'INVALID_EMAIL_OR_PASSWORD'],
      [{ email: 'banned@casa.test', password: 'banned-password-1' }, 403, 'BANNED_USER'],
      [{ email: 'not an email', password: 'whatever1' }, 400, 'INVALID_EMAIL'],
    ]
    for (const [body, status, code] of cases) {
      const res = await req('/api/auth/sign-in/email', json(body))
      expect(res.status, code).toBe(status)
      const err = await res.json()
      expect(ErrorBody.parse(err).code).toBe(code)
    }
  })

  it('answers bad bodies with {message, code}, never a crash', async () => {
    const { req } = await setup()
    const bodies = [
      '',
      '{',
      '[]',
      'null',
      '"str"',
      '{"email":1,"password":2}',
      '{"email":"a@b.c"}',
      JSON.stringify({ email: 'a@b.c', password: 'x'.repeat(70_000) }),
    ]
    for (const body of bodies) {
      for (const path of ['/api/auth/sign-in/email', '/api/auth/sign-up/email']) {
        const res = await req(path, json(body))
        expect([400, 413], `${path} ${body.slice(0, 20)}`).toContain(res.status)
        ErrorBody.parse(await res.json())
      }
    }
  })

  it('signs up a member who can then get a session; a taken email is 422', async () => {
    const { req } = await setup()
    const res = await req(
      '/api/auth/sign-up/email',
      json({ name: 'Nora New', email: 'nora@casa.test', password: 'nora-password' }),
    )
    expect(res.status).toBe(200)
    const body = await res.json()
    expect(Object.keys(body).sort()).toEqual(['token', 'user'])
    expect(body.user).toMatchObject({ role: 'member', email: 'nora@casa.test', image: null, banned: false })
    expect(checkMessage(UserSchema, body.user, { names: 'json' })).toEqual([])
    const cookie = (res.headers.get('set-cookie') ?? '').split(';')[0]!
    expect((await (await req('/api/auth/get-session', { headers: { cookie } })).json()).user.email).toBe(
      'nora@casa.test',
    )
    const again = await req(
      '/api/auth/sign-up/email',
      json({ name: 'N', email: 'NORA@casa.test', password: 'nora-password' }),
    )
    expect(again.status).toBe(422)
    expect(await again.json()).toEqual({
      message: 'User already exists. Use another email.',
      code: 'USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL',
    })
  })

  it('checks password length on sign-up', async () => {
    const { req } = await setup()
    const short = await req(
      '/api/auth/sign-up/email',
      json({ name: 'S', email: 's@casa.test', password: 'short' }),
    )
    expect(await short.json()).toEqual({ message: 'Password too short', code: 'PASSWORD_TOO_SHORT' })
    const long = await req(
      '/api/auth/sign-up/email',
      json({ name: 'L', email: 'l@casa.test', password: 'x'.repeat(129) }),
    )
    expect(await long.json()).toEqual({ message: 'Password too long', code: 'PASSWORD_TOO_LONG' })
  })

  // The admin plugin's role is `input: false` (the parity suite compares it with the real
  // server); a stock better-auth has no such field and ignores one sent.
  it("refuses a sign-up that sets the admin plugin's role; without the plugin it is ignored", async () => {
    const { h, req } = await setup()
    const kid = { name: 'K', email: 'kid@casa.test', password: 'kid-password', role: 'child' }
    const refused = await req('/api/auth/sign-up/email', json(kid))
    expect(refused.status).toBe(400)
    expect(await refused.json()).toEqual({
      message: 'role is not allowed to be set',
      code: 'FIELD_NOT_ALLOWED',
    })
    await h.use({ ...h.scenario, auth: { ...h.scenario.auth, adminPlugin: false } })
    const stock = await req('/api/auth/sign-up/email', json(kid))
    expect(stock.status).toBe(200)
    expect((await stock.json()).user.role).toBeUndefined()
  })

  it('refuses cookie-bearing POSTs with no Origin or a foreign one, as better-auth does', async () => {
    const { h, req } = await setup()
    const cookie = h.cookieFor('usr_member')
    const none = await req('/api/auth/sign-out', json({}, { cookie }))
    expect(none.status).toBe(403)
    expect(await none.json()).toEqual({ message: 'Missing or null Origin', code: 'MISSING_OR_NULL_ORIGIN' })
    const foreign = await req('/api/auth/sign-out', json({}, { cookie, origin: 'https://evil.example' }))
    expect(foreign.status).toBe(403)
    expect((await foreign.json()).code).toBe('INVALID_ORIGIN')
    const sub = await req(
      '/api/auth/sign-in/email',
      json(
        { email: 'member@casa.test', password: 'member-password-1' },
        { cookie, origin: 'https://casa.devarno.cloud' },
      ),
    )
    expect(sub.status).toBe(200)
    const cb = await req(
      '/api/auth/sign-in/email',
      json({
        email: 'member@casa.test',
        password: 'member-password-1',
        callbackURL: 'https://evil.example/x',
      }),
    )
    expect((await cb.json()).code).toBe('INVALID_CALLBACK_URL')
  })

  it('signs out: the session is gone and the cookie cleared; other sessions survive', async () => {
    const { h, req } = await setup()
    const cookie = h.cookieFor('usr_member')
    const res = await req('/api/auth/sign-out', json({}, { cookie, ...ORIGIN }))
    expect(res.status).toBe(200)
    expect(await res.json()).toEqual({ success: true })
    expect(res.headers.getSetCookie().map((c) => c.split('=')[0])).toEqual([
      'better-auth.session_token',
      'better-auth.session_data',
      'better-auth.dont_remember',
    ])
    expect((await req('/api/auth/get-session', { headers: { cookie } })).status).toBe(401)
    expect(
      (await req('/api/auth/get-session', { headers: { cookie: h.cookieFor('usr_admin') } })).status,
    ).toBe(200)
  })

  it('a scenario switch restores seeded sessions (reset = reseed)', async () => {
    const { h, req } = await setup()
    const cookie = h.cookieFor('usr_member')
    await req('/api/auth/sign-out', json({}, { cookie, ...ORIGIN }))
    await h.use('default')
    expect((await req('/api/auth/get-session', { headers: { cookie } })).status).toBe(200)
  })

  // better-auth reads the one cookie name its scheme gives it (the parity suite checks http).
  it('over https only the __Secure- session cookie is read; over http only the plain one', async () => {
    const { h } = await setup()
    const plain = h.cookieFor('usr_member')
    const secure = `__Secure-${plain}`
    const get = async (scheme: string, cookie: string) => {
      const res = await h.fake.app.request(`${scheme}://localhost:8083/api/auth/get-session`, {
        headers: { cookie },
      })
      return res.status === 200 ? ((await res.json()) as { user: { id: string } }).user.id : res.status
    }
    expect(await get('https', secure)).toBe('usr_member')
    expect(await get('https', plain)).toBe(401)
    expect(await get('http', plain)).toBe('usr_member')
    expect(await get('http', secure)).toBe(401)
  })

  it("unknown /api/auth routes, /api/auth itself and HEAD get better-auth's bare 404; other paths the envelope", async () => {
    const { h, req } = await setup()
    for (const res of [
      await req('/api/auth/nope'),
      await req('/api/auth'),
      await req('/api/auth/get-session', { method: 'HEAD', headers: { cookie: h.cookieFor('usr_member') } }),
    ]) {
      expect(res.status).toBe(404)
      expect(res.headers.get('content-type')).toBeNull()
      expect(await res.text()).toBe('')
    }
    const other = await req('/nope')
    expect(other.status).toBe(404)
    expect(ErrorBody.parse(await other.json()).code).toBe('NOT_FOUND')
  })

  it("checks origins as better-auth 1.7's CSRF check does, Sec-Fetch-* included", async () => {
    const { req } = await setup()
    const creds = { email: 'member@casa.test', password: 'member-password-1' }
    const code = async (headers: Record<string, string>) => {
      const res = await req('/api/auth/sign-in/email', json(creds, headers))
      return res.status === 200 ? 200 : (await res.json()).code
    }
    // Node's fetch sends Sec-Fetch-Mode: cors and no Origin.
    expect(await code({ 'sec-fetch-mode': 'cors' })).toBe('MISSING_OR_NULL_ORIGIN')
    expect(await code({ 'sec-fetch-mode': 'cors', ...ORIGIN })).toBe(200)
    expect(await code({ 'sec-fetch-site': 'cross-site', origin: 'https://evil.example' })).toBe(
      'INVALID_ORIGIN',
    )
    expect(await code({ origin: 'https://evil.example' })).toBe('INVALID_ORIGIN')
    expect(
      await code({
        'sec-fetch-site': 'cross-site',
        'sec-fetch-mode': 'navigate',
        origin: 'https://evil.example',
      }),
    ).toBe('CROSS_SITE_NAVIGATION_LOGIN_BLOCKED')
    // curl: no Origin, no Sec-Fetch-*, no cookie.
    expect(await code({})).toBe(200)
  })

  it('rememberMe: false sets a signed dont_remember cookie; a callbackURL adds Location', async () => {
    const { h, req } = await setup()
    const res = await req(
      '/api/auth/sign-in/email',
      json({ ...{ email: 'member@casa.test', password: 'member-password-1' }, rememberMe: false }),
    )
    const [, dontRemember] = res.headers.getSetCookie()
    expect(dontRemember).toBe(
      `better-auth.dont_remember=${signSessionToken('true', h.deps.config.betterAuthSecret)}; Path=/; HttpOnly; SameSite=Lax`,
    )
    // A backslash after the slash is `//evil.example` to a browser: refused, never a Location.
    const evil = await req(
      '/api/auth/sign-in/email',
      json(
        { email: 'member@casa.test', password: 'member-password-1', callbackURL: '/\\evil.example' },
        ORIGIN,
      ),
    )
    expect(evil.status).toBe(403)
    expect(evil.headers.get('location')).toBeNull()
    const cb = await req(
      '/api/auth/sign-in/email',
      json({ email: 'member@casa.test', password: 'member-password-1', callbackURL: '/welcome' }),
    )
    expect(cb.status).toBe(200)
    expect(cb.headers.get('location')).toBe('/welcome')
    expect(await cb.json()).toMatchObject({ redirect: true, url: '/welcome' })
  })

  // As a fetch Request (msw, app.request) every body counts, as better-call's getBody sees one
  // outside Node: bytes with no Content-Type are refused (the parity suite covers Node's view).
  it('checks Content-Type as better-call does: 415, form-encoded parsed, JSON only on sign-out', async () => {
    const { req } = await setup()
    const creds = { email: 'member@casa.test', password: 'member-password-1' }
    const post = (path: string, body: BodyInit, headers: Record<string, string> = {}) =>
      req(path, { method: 'POST', headers, body })
    const plain = await post('/api/auth/sign-up/email', JSON.stringify({ ...creds, name: 'P' }))
    expect(plain.status).toBe(415)
    expect(await plain.json()).toEqual({
      code: 'UNSUPPORTED_MEDIA_TYPE',
      message:
        'Content-Type "text/plain;charset=UTF-8" is not allowed. Allowed types: application/x-www-form-urlencoded, application/json',
    })
    const bytes = await post('/api/auth/sign-in/email', new TextEncoder().encode(JSON.stringify(creds)))
    expect(bytes.status).toBe(415)
    expect((await bytes.json()).message).toBe(
      'Content-Type is required. Allowed types: application/x-www-form-urlencoded, application/json',
    )
    const form = await post('/api/auth/sign-in/email', new URLSearchParams(creds).toString(), {
      'content-type': 'application/x-www-form-urlencoded',
    })
    expect(form.status).toBe(200)
    expect((await form.json()).user.email).toBe('member@casa.test')
    const out = await post('/api/auth/sign-out', 'a=b', {
      'content-type': 'application/x-www-form-urlencoded',
    })
    expect(out.status).toBe(415)
    expect((await out.json()).message).toBe(
      'Content-Type "application/x-www-form-urlencoded" is not allowed. Allowed types: application/json',
    )
  })

  it('answers invalid JSON as better-auth: 400 BAD_REQUEST', async () => {
    const { req } = await setup()
    const res = await req('/api/auth/sign-in/email', json('{"email":'))
    expect(res.status).toBe(400)
    expect(await res.json()).toEqual({ message: 'Invalid JSON in request body', code: 'BAD_REQUEST' })
  })
})
