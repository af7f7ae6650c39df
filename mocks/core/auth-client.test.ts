import http from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import fc from 'fast-check'
import { afterEach, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { createSessionValidator, readSessionBody, type SessionResult } from './auth-client.ts'
import { createLogger } from './logger.ts'
import { DEFAULT_ROLE_MAP, mapRole, parseRoleMap, type RoleMap } from './roles.ts'

// The get-session hop over real sockets (node:http with a keep-alive agent): answers,
// timeouts, connection errors, and a kept-alive connection the server drops between calls.

const SESSION = {
  user: {
    id: 'usr_member',
    email: 'member@casa.test',
    name: 'Member',
    role: 'member',
    emailVerified: true,
    createdAt: '2026-01-01T00:00:00.000Z',
    updatedAt: '2026-01-01T00:00:00.000Z',
  },
  session: { id: 'ses_1', userId: 'usr_member', expiresAt: '2027-01-01T00:00:00.000Z' },
}

type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void

const servers: http.Server[] = []
afterEach(async () => {
  await Promise.all(
    servers.splice(0).map(
      (s) =>
        new Promise<void>((resolve) => {
          s.closeAllConnections()
          s.close(() => resolve())
        }),
    ),
  )
})

async function serve(handler: Handler, configure?: (s: http.Server) => void) {
  const server = http.createServer(handler)
  configure?.(server)
  const sockets = new Set<Socket>()
  const seen: { cookie?: string; requestId?: string }[] = []
  server.on('connection', (s) => sockets.add(s))
  server.on('request', (req) =>
    seen.push({
      ...(req.headers.cookie ? { cookie: req.headers.cookie } : {}),
      ...(req.headers['x-request-id'] ? { requestId: String(req.headers['x-request-id']) } : {}),
    }),
  )
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  servers.push(server)
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  return { url, sockets, seen }
}

const validator = (url: string, timeoutMs = 1000) =>
  createSessionValidator({ authServiceUrl: () => url, timeoutMs, logger: createLogger('test') })

const json =
  (status: number, body: unknown): Handler =>
  (_req, res) => {
    res.writeHead(status, { 'content-type': 'application/json' })
    res.end(JSON.stringify(body))
  }

describe('get-session over node:http', () => {
  it('sends the Cookie and X-Request-ID, answers the session, and keeps one connection alive', async () => {
    const { url, sockets, seen } = await serve(json(200, SESSION))
    const validate = validator(url)
    for (let i = 0; i < 20; i++) {
      const r = await validate('better-auth.session_token=abc', `req-${i}`)
      expect(r).toMatchObject({ kind: 'ok', user: { id: 'usr_member' }, session: { id: 'ses_1' } })
    }
    expect(seen[19]).toEqual({ cookie: 'better-auth.session_token=abc', requestId: 'req-19' })
    expect(sockets.size).toBe(1)
  })

  it('never retries: a reset on a kept-alive connection is one request auth saw, and one failure', async () => {
    let n = 0
    const { url, seen } = await serve((req, res) => {
      n++
      if (n === 2) return req.socket.destroy()
      if (n === 3) {
        // Headers and half a body, then the connection breaks.
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': '1000' })
        res.write('{"user":')
        setTimeout(() => req.socket.destroy(), 20)
        return
      }
      json(200, SESSION)(req, res)
    })
    const validate = validator(url)
    expect((await validate('c=1')).kind).toBe('ok')
    expect(await validate('c=1')).toEqual({ kind: 'unavailable', reason: 'get-session failed: ECONNRESET' })
    expect(seen).toHaveLength(2)
    const midBody = await validate('c=1')
    expect(midBody.kind).toBe('unavailable')
    await new Promise((r) => setTimeout(r, 100))
    expect(seen).toHaveLength(3)
    expect((await validate('c=1')).kind).toBe('ok')
    expect(seen).toHaveLength(4)
  })

  it('survives the server closing an idle kept-alive connection between calls', async () => {
    const { url, sockets } = await serve(json(200, SESSION), (s) => {
      s.keepAliveTimeout = 5
    })
    const validate = validator(url)
    for (let i = 0; i < 5; i++) {
      expect((await validate('c=1')).kind).toBe('ok')
      await new Promise((r) => setTimeout(r, 20))
    }
    expect(sockets.size).toBeGreaterThan(1)
  })

  it('maps each answer as chat and media need it', async () => {
    const cases: [Handler, SessionResult | RegExp][] = [
      [json(401, { message: 'Unauthorized' }), { kind: 'unauthenticated' }],
      [json(200, null), { kind: 'unauthenticated' }],
      [json(431, {}), { kind: 'unauthenticated' }],
      [json(200, { ...SESSION, user: { ...SESSION.user, banned: true } }), { kind: 'unauthenticated' }],
      [json(500, { message: 'boom' }), /^get-session answered 500$/],
      [json(200, { user: 'nope' }), /^get-session answered an unexpected shape$/],
      [
        (_req, res) => {
          res.writeHead(200, { 'content-type': 'application/json' })
          res.end('{"user":')
        },
        /^get-session answered invalid JSON$/,
      ],
      [
        (_req, res) => {
          res.writeHead(200, { 'content-type': 'application/json' })
          res.end(Buffer.alloc(2 * 1024 * 1024, 32))
        },
        /^get-session failed: answer over 1 MiB$/,
      ],
    ]
    for (const [handler, want] of cases) {
      const { url } = await serve(handler)
      const r = await validator(url)('c=1')
      if (want instanceof RegExp) expect(r.kind === 'unavailable' && r.reason, String(want)).toMatch(want)
      else expect(r).toEqual(want)
    }
  })

  it('times out on a server that never answers, or never finishes its body', async () => {
    const silent = await serve(() => undefined)
    const started = performance.now()
    expect(await validator(silent.url, 100)('c=1')).toEqual({
      kind: 'unavailable',
      reason: 'get-session took longer than 100 ms',
    })
    expect(performance.now() - started).toBeGreaterThanOrEqual(99)
    const trickle = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' })
      res.write('{"user":')
    })
    expect(await validator(trickle.url, 100)('c=1')).toEqual({
      kind: 'unavailable',
      reason: 'get-session took longer than 100 ms',
    })
  })

  it('reports refused and reset connections by their code; no cookie means no call', async () => {
    const { url, seen } = await serve((req) => req.socket.destroy())
    expect(await validator(url)('c=1')).toEqual({
      kind: 'unavailable',
      reason: 'get-session failed: ECONNRESET',
    })
    expect(await validator(url)(undefined)).toEqual({ kind: 'unauthenticated' })
    expect(seen).toHaveLength(1)
    const closed = await serve(json(200, SESSION))
    await new Promise<void>((resolve) => servers.pop()!.close(() => resolve()))
    expect(await validator(closed.url)('c=1')).toEqual({
      kind: 'unavailable',
      reason: 'get-session failed: ECONNREFUSED',
    })
  })
})

describe('any get-session answer a better-auth gives for a signed-in user', () => {
  const user = (extra: Record<string, unknown>) => ({
    ...SESSION,
    user: { id: 'usr_x', email: 'x@casa.test', name: 'X', emailVerified: false, ...extra },
  })
  const roleOf = async (body: unknown, roleMap?: RoleMap) => {
    const { url } = await serve(json(200, body))
    const r = await createSessionValidator({
      authServiceUrl: () => url,
      timeoutMs: 1000,
      logger: createLogger('test'),
      ...(roleMap ? { roleMap: () => roleMap } : {}),
    })('c=1')
    return r.kind === 'ok' ? r.user.role : r
  }

  it('maps roles: none, stock and admin-plugin names, lists; extra fields are fine', async () => {
    expect(await roleOf(user({}))).toBe('member') // stock better-auth: no role
    expect(await roleOf(user({ role: 'user' }))).toBe('member') // admin plugin default
    expect(await roleOf(user({ role: 'admin' }))).toBe('admin')
    expect(await roleOf(user({ role: 'user,admin' }))).toBe('admin')
    expect(await roleOf(user({ role: 'user, child' }))).toBe('child')
    expect(await roleOf(user({ role: 'child' }))).toBe('child')
    expect(await roleOf(user({ role: null, banned: null, banReason: null, image: null }))).toBe('member')
    expect(await roleOf(user({ role: 'owner', householdId: 7, twoFactorEnabled: true }))).toBe('member')
    // The session with every field a SQL adapter returns, and a plugin's additions.
    const full = {
      user: { id: 'usr_y', name: 'Y', email: 'y@casa.test', emailVerified: true, image: null },
      session: {
        id: 's',
        token: 't',
        userId: 'usr_y',
        expiresAt: '2030-01-01T00:00:00.000Z',
        createdAt: '2026-01-01T00:00:00.000Z',
        updatedAt: '2026-01-01T00:00:00.000Z',
        ipAddress: null,
        userAgent: null,
        impersonatedBy: null,
      },
    }
    expect(await roleOf(full)).toBe('member')
  })

  it('a role map renames roles; only a missing user id is an outage', async () => {
    const map = { ...DEFAULT_ROLE_MAP, owner: 'admin', kid: 'child', admin: 'member' } as const
    expect(await roleOf(user({ role: 'owner' }), map)).toBe('admin')
    expect(await roleOf(user({ role: 'kid' }), map)).toBe('child')
    expect(await roleOf(user({ role: 'admin' }), map)).toBe('member')
    for (const broken of [
      { user: {} },
      { user: { id: '' } },
      { user: { id: 7 } },
      { session: {} },
      [1],
      'x',
    ]) {
      expect(await roleOf(broken), JSON.stringify(broken)).toEqual({
        kind: 'unavailable',
        reason: 'get-session answered an unexpected shape',
      })
    }
  })

  it('MOCKS_AUTH_ROLE_MAP parses name=role pairs and refuses anything else', () => {
    expect(parseRoleMap('owner=admin, kid = child')).toEqual({ owner: 'admin', kid: 'child' })
    expect(parseRoleMap('')).toEqual({})
    expect(() => parseRoleMap('owner=boss')).toThrow(/owner=boss/)
    expect(() => parseRoleMap('owner')).toThrow(/<better-auth role>=<admin\|member\|child>/)
    expect(mapRole(undefined)).toBe('member')
  })
})

describe('readSessionBody: the zod schema it replaced, by hand', () => {
  // The schema chat and media read get-session with before: the oracle.
  const Schema = z.union([
    z.null(),
    z.looseObject({ user: z.looseObject({ id: z.string().min(1) }), session: z.looseObject({}).nullish() }),
  ])
  const agree = (body: unknown) => {
    const expected = Schema.safeParse(body)
    const got = readSessionBody(body)
    if (!expected.success) expect(got).toBeUndefined()
    else if (expected.data === null) expect(got).toBeNull()
    else expect(got).toEqual({ user: expected.data.user, session: expected.data.session ?? {} })
  }

  it('accepts and refuses the same bodies, and reads the same user and session', () => {
    const anything = fc.jsonValue()
    const shaped = fc.record(
      {
        user: fc.oneof(
          fc.record({ id: fc.oneof(fc.string(), fc.integer(), fc.constant(null)) }, { requiredKeys: [] }),
          fc.dictionary(fc.string(), fc.jsonValue()),
          anything,
        ),
        session: fc.oneof(fc.constant(null), fc.dictionary(fc.string(), fc.jsonValue()), anything),
        extra: anything,
      },
      { requiredKeys: [] },
    )
    fc.assert(fc.property(fc.oneof(anything, shaped), agree), { numRuns: 2000 })
    for (const body of [null, [], {}, { user: [] }, { user: { id: '' } }, { user: { id: 'u' }, session: [] }])
      agree(body)
  })
})
