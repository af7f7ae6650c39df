import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ChatTestClient } from '../mocks/chat/testing.ts'
import { DEFAULT_AUTH_SECRET } from '../mocks/core/config.ts'
import { buildMultipart, filePart, multipartType, paddedFile } from '../mocks/media/testing.ts'
import { startTestMocks, type TestMocks } from './helpers.ts'
import { type RealAuth, startRealAuth } from './parity/real-auth.ts'

// Chat and media against a REAL better-auth (the devDependency, in-process): a stock one (no
// role), one with the admin plugin (roles admin/member/child), and one with `__Secure-` cookie
// names. Signed-up users read history, chat over the WebSocket and upload, as the README promises.

const ORIGIN = 'http://localhost:3000'

const variants = [
  { name: 'stock better-auth (no role)', opts: {} },
  { name: 'admin plugin (role member; a child cannot upload)', opts: { admin: true } },
  { name: '__Secure- cookie names', opts: { secureCookies: true } },
] as const

describe.each(variants)('chat and media against a real better-auth: $name', ({ opts }) => {
  let real: RealAuth
  let t: TestMocks
  let cookie: string
  let token: string
  let userId: string

  const signUp = async (email: string) => {
    const res = await fetch(`${real.url}/api/auth/sign-up/email`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin: ORIGIN },
      body: JSON.stringify({ name: 'Real Person', email, password: 'real-password-1' }),
    })
    expect(res.status).toBe(200)
    const body = (await res.json()) as { user: { id: string } }
    const set = res.headers.getSetCookie().find((c) => c.includes('session_token='))
    if (!set) throw new Error('no session cookie from sign-up')
    const pair = set.split(';')[0]!
    return {
      id: body.user.id,
      cookie: pair,
      value: pair.slice(pair.indexOf('=') + 1),
      name: pair.split('=')[0],
    }
  }

  beforeAll(async () => {
    real = await startRealAuth({ secret: DEFAULT_AUTH_SECRET, trustedOrigins: [ORIGIN], ...opts })
    t = await startTestMocks({ services: ['chat', 'media'], env: { AUTH_SERVICE_URL: real.url } })
    const u = await signUp('real@casa.test')
    cookie = u.cookie
    token = u.value
    userId = u.id
    expect(u.name).toBe(
      'secureCookies' in opts ? '__Secure-better-auth.session_token' : 'better-auth.session_token',
    )
  }, 60_000)

  afterAll(async () => {
    await t?.close()
    await real?.close()
  })

  it('reads chat history with the real session cookie', async () => {
    const res = await fetch(`${t.url('chat')}/api/v1/messages?channel=general`, { headers: { cookie } })
    expect(res.status).toBe(200)
    expect(Array.isArray(await res.json())).toBe(true)
    const none = await fetch(`${t.url('chat')}/api/v1/messages?channel=general`)
    expect(none.status).toBe(401)
  })

  it('joins and messages over the WebSocket, by ?token= and by Cookie', async () => {
    const ws = t.url('chat').replace('http:', 'ws:')
    const byToken = await ChatTestClient.open(`${ws}/ws?token=${token}`)
    const byCookie = await ChatTestClient.open(`${ws}/ws`, { headers: { cookie } })
    for (const c of [byToken, byCookie]) {
      const m = c.mark()
      c.send({ type: 'join', channel: 'general' })
      await c.waitFor((f) => f.type === 'presence' && f.user_id === userId, { after: m })
    }
    const m = byCookie.mark()
    byToken.send({ type: 'message', channel: 'general', content: 'hello from a real session' })
    const frame = await byCookie.waitFor((f) => f.type === 'message', { after: m })
    expect(frame).toMatchObject({ content: 'hello from a real session', sender: userId })
    await byToken.close()
    await byCookie.close()
  })

  it('uploads and downloads with the real session', async () => {
    const pdf = paddedFile('application/pdf', 3000)
    const res = await fetch(`${t.url('media')}/api/v1/upload`, {
      method: 'POST',
      headers: { cookie, 'content-type': multipartType() },
      body: new Uint8Array(buildMultipart([filePart(pdf, 'application/pdf', 'real.pdf')])),
    })
    expect(res.status).toBe(201)
    const up = (await res.json()) as { id: string }
    const down = await fetch(`${t.url('media')}/api/v1/files/${up.id}/download`, { headers: { cookie } })
    expect(down.status).toBe(200)
    expect(Buffer.from(await down.arrayBuffer()).equals(pdf)).toBe(true)
  })

  // Only where the server runs the admin plugin (registered there, not skipped elsewhere).
  if ('admin' in opts)
    it('an admin-plugin child may not upload; a comma list with admin deletes as admin', async () => {
      const kid = await signUp('kid@casa.test')
      await real.updateUser(kid.id, { role: 'child' })
      const res = await fetch(`${t.url('media')}/api/v1/upload`, {
        method: 'POST',
        headers: { cookie: kid.cookie, 'content-type': multipartType() },
        body: new Uint8Array(
          buildMultipart([filePart(paddedFile('application/pdf', 100), 'application/pdf')]),
        ),
      })
      expect(res.status).toBe(403)
      // The admin plugin's comma-separated roles: admin wins, so another user's file may go.
      const mine = await fetch(`${t.url('media')}/api/v1/upload`, {
        method: 'POST',
        headers: { cookie, 'content-type': multipartType() },
        body: new Uint8Array(
          buildMultipart([filePart(paddedFile('application/pdf', 100), 'application/pdf')]),
        ),
      })
      const { id } = (await mine.json()) as { id: string }
      const del = () =>
        fetch(`${t.url('media')}/api/v1/files/${id}`, { method: 'DELETE', headers: { cookie: kid.cookie } })
      await real.updateUser(kid.id, { role: 'member' })
      expect((await del()).status).toBe(403)
      await real.updateUser(kid.id, { role: 'member,admin' })
      expect((await del()).status).toBe(204)
    })
})
