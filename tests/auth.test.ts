import { createAuthClient } from 'better-auth/client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { checkMessage } from '../mocks/core/contract.ts'
import { SessionSchema, UserSchema } from '../proto-contracts/gen/ts/devarno/shared/v1/user_pb.ts'
import { startTestMocks, type TestMocks } from './helpers.ts'

// Fidelity check with better-auth's own client against the fake on a real socket: the
// client must be able to sign in, read the session and sign out as against the real thing.

let t: TestMocks
beforeAll(async () => {
  t = await startTestMocks({ services: ['auth'] })
})
afterAll(() => t.close())

/** A fetch with a cookie jar and a browser Origin, as a page on localhost:3000 would have. */
function browserFetch() {
  const jar = new Map<string, string>()
  const impl = async (input: string | URL | Request, init?: RequestInit) => {
    const headers = new Headers(init?.headers)
    headers.set('origin', 'http://localhost:3000')
    if (jar.size) headers.set('cookie', [...jar].map(([k, v]) => `${k}=${v}`).join('; '))
    const res = await fetch(input, { ...init, headers })
    for (const line of res.headers.getSetCookie()) {
      const [pair, ...attrs] = line.split(';')
      const eq = pair!.indexOf('=')
      const name = pair!.slice(0, eq)
      const value = pair!.slice(eq + 1)
      if (attrs.some((a) => a.trim() === 'Max-Age=0') || value === '') jar.delete(name)
      else jar.set(name, value)
    }
    return res
  }
  return { jar, impl: impl as typeof fetch }
}

describe('better-auth createAuthClient against the fake', () => {
  it('signs in, reads the session and signs out', async () => {
    const { jar, impl } = browserFetch()
    const client = createAuthClient({ baseURL: t.url('auth'), fetchOptions: { customFetchImpl: impl } })

    const signedIn = await client.signIn.email({ email: 'admin@casa.test', password: 'admin-password-1' })
    expect(signedIn.error).toBeNull()
    expect(signedIn.data?.user.email).toBe('admin@casa.test')
    expect(jar.get('better-auth.session_token')).toMatch(/^[a-zA-Z0-9]{32}\.[^;]+%3D$/)

    const session = await client.getSession()
    expect(session.error).toBeNull()
    expect(session.data?.user.id).toBe('usr_admin')
    expect((session.data?.user as { role?: string } | undefined)?.role).toBe('admin')
    // The client revives ISO dates into Date objects: proof the wire strings parse as dates.
    expect(session.data?.user.createdAt).toBeInstanceOf(Date)
    expect(session.data?.session.expiresAt).toBeInstanceOf(Date)
    const wire = await (
      await fetch(`${t.url('auth')}/api/auth/get-session`, {
        headers: { cookie: [...jar].map(([k, v]) => `${k}=${v}`).join('; ') },
      })
    ).json()
    expect(checkMessage(UserSchema, wire.user, { names: 'json' })).toEqual([])
    expect(checkMessage(SessionSchema, wire.session, { names: 'json' })).toEqual([])

    const out = await client.signOut()
    expect(out.error).toBeNull()
    expect(out.data).toEqual({ success: true })
    expect(jar.has('better-auth.session_token')).toBe(false)
    const after = await client.getSession()
    // The matrix's 401 {user:null, session:null}: better-auth's client reports it as an error.
    expect(after.data).toBeNull()
    expect(after.error?.status).toBe(401)
  })

  it('sees better-auth error codes for a wrong password', async () => {
    const { impl } = browserFetch()
    const client = createAuthClient({ baseURL: t.url('auth'), fetchOptions: { customFetchImpl: impl } })
    const res = await client.signIn.email({ email: 'admin@casa.test', password: 'wrong-password' })
    expect(res.data).toBeNull()
    expect(res.error).toMatchObject({
      status: 401,
      code: 'INVALID_EMAIL_OR_PASSWORD',
      message: 'Invalid email or password',
    })
  })

  it('in Node without an Origin it is refused as by better-auth 1.7; with one it signs in', async () => {
    // Node's fetch sends Sec-Fetch-Mode: cors, so better-auth requires a trusted Origin.
    const bare = createAuthClient({ baseURL: t.url('auth') })
    const refused = await bare.signIn.email({ email: 'admin@casa.test', password: 'admin-password-1' })
    expect(refused.error).toMatchObject({ status: 403, code: 'MISSING_OR_NULL_ORIGIN' })
    const withOrigin = createAuthClient({
      baseURL: t.url('auth'),
      fetchOptions: { headers: { origin: 'http://localhost:3000' } },
    })
    const ok = await withOrigin.signIn.email({ email: 'admin@casa.test', password: 'admin-password-1' })
    expect(ok.error).toBeNull()
  })

  it('signs up a new member', async () => {
    const { impl } = browserFetch()
    const client = createAuthClient({ baseURL: t.url('auth'), fetchOptions: { customFetchImpl: impl } })
    const res = await client.signUp.email({
      name: 'Pia Parent',
      email: 'pia@casa.test',
      password: 'pia-password-1',
    })
    expect(res.error).toBeNull()
    const session = await client.getSession()
    expect(session.data?.user.email).toBe('pia@casa.test')
  })

  it('with noSession 200-null the client sees a null session without an error', async () => {
    await t.mocks.switchScenario({
      scenario: { name: 'null-session', extends: 'default', auth: { noSession: '200-null' } },
    })
    try {
      const { impl } = browserFetch()
      const client = createAuthClient({ baseURL: t.url('auth'), fetchOptions: { customFetchImpl: impl } })
      const session = await client.getSession()
      expect(session.error).toBeNull()
      expect(session.data).toBeNull()
    } finally {
      await t.mocks.switchScenario({ name: 'default' })
    }
  })
})

describe('auth over a real socket', () => {
  it('answers malformed HTTP with 400 and stays up', async () => {
    const net = await import('node:net')
    const url = new URL(t.url('auth'))
    const reply = await new Promise<string>((resolve) => {
      const sock = net.connect(Number(url.port), url.hostname, () => sock.write('GARBAGE\r\n\r\n'))
      let data = ''
      sock.on('data', (d) => {
        data += d
      })
      sock.on('close', () => resolve(data))
    })
    expect(reply).toMatch(/^HTTP\/1\.1 400/)
    expect((await fetch(`${t.url('auth')}/api/auth/ok`)).status).toBe(200)
  })
})
