import { execFile, spawnSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import * as fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { ChatTestClient } from '../../mocks/chat/testing.ts'
import type { MediaFake } from '../../mocks/media/index.ts'
import { buildMultipart, filePart, multipartType, sampleImage } from '../../mocks/media/testing.ts'
import { FAKES } from '../../mocks/registry.ts'
import { loadConfig } from '../../mocks/runtime/config.ts'
import { startTestMocks, type TestMocks } from '../helpers.ts'
import { originAllowedByMatrix, originArb } from './arbitraries.ts'
import {
  AuthErrorSchema,
  envInt,
  FC_SEED,
  http,
  listeners,
  NoSessionSchema,
  rawHttp,
  ServiceErrorSchema,
  watchProcess,
  writeResult,
} from './support.ts'

// Safe defaults: loopback listeners, the origin allow-lists, the control plane's loopback
// rule over a real non-loopback socket, file ids that cannot leave STORAGE_PATH, and roles
// (child uploads, non-owner deletes, banned users and expired sessions) enforced everywhere.

const RUNS = envInt('RELIABILITY_SECURITY_RUNS', 40)
// Bigger runs (the report's --full) need more time per test than the config's 20 s.
vi.setConfig({ testTimeout: 30_000 + RUNS * 300 })
const params = { numRuns: RUNS, seed: FC_SEED }
const root = mkdtempSync(join(tmpdir(), 'reliability-security-'))
const storage = join(root, 'storage')
const CANARY = 'CANARY-outside-storage-7d1f3c'
let t: TestMocks
let watch: ReturnType<typeof watchProcess>
const checks: { name: string; cases: number; held: boolean; note?: string }[] = []

beforeAll(async () => {
  watch = watchProcess()
  mkdirSync(storage)
  writeFileSync(join(root, 'canary.txt'), CANARY)
  t = await startTestMocks({ env: { STORAGE_PATH: storage } })
})
afterAll(async () => {
  await t?.close()
  watch.stop()
  rmSync(root, { recursive: true, force: true })
  writeResult('security', { runsPerProperty: RUNS, seed: FC_SEED, checks, processErrors: watch.seen })
})

const media = () => t.mocks.services.get('media')?.fake as MediaFake

describe('listeners', () => {
  it('every listener binds 127.0.0.1 unless MOCKS_HOST says otherwise', () => {
    expect(loadConfig({}).host).toBe('127.0.0.1')
    expect(loadConfig({ MOCKS_HOST: '0.0.0.0' }).host).toBe('0.0.0.0')
    expect(loadConfig({}).authServiceUrl).toMatch(/^http:\/\/127\.0\.0\.1:/)
    const servers = [...t.mocks.services.values()].map((s) => s.server!).concat(t.mocks.control!)
    expect(servers).toHaveLength(FAKES.length + 1)
    const bound = listeners()
    for (const s of servers) {
      expect(s.host).toBe('127.0.0.1')
      expect(s.url).toBe(`http://127.0.0.1:${s.port}`)
      expect(bound.filter((l) => l.port === s.port).map((l) => l.address)).toEqual(['127.0.0.1'])
    }
    checks.push({
      name: `every listener (${FAKES.length} fakes + control plane) bound to 127.0.0.1 by default`,
      cases: servers.length,
      held: true,
    })
  })
})

describe('origins', () => {
  const grants = (headers: Record<string, unknown>, origin: string) =>
    headers['access-control-allow-origin'] === origin || headers['access-control-allow-origin'] === '*'

  it('media and chat REST grant CORS (with credentials) to the allow-list only', async () => {
    let cases = 0
    await fc.assert(
      fc.asyncProperty(originArb, fc.constantFrom('GET', 'OPTIONS'), async (origin, method) => {
        const allowed = originAllowedByMatrix(origin)
        for (const [service, path] of [
          ['media', '/api/v1/files/file_sunset'],
          ['chat', '/api/v1/messages?channel=general'],
        ] as const) {
          cases++
          const a = await http(t.url(service), {
            method,
            path,
            headers: {
              origin,
              cookie: t.cookieFor('member'),
              ...(method === 'OPTIONS' ? { 'access-control-request-method': 'GET' } : {}),
            },
          })
          expect(a.status, `${service} ${method} ${origin}`).toBeLessThan(500)
          expect(grants(a.headers, origin), `${service} ${method} from ${origin}`).toBe(allowed)
          if (allowed) {
            expect(a.headers['access-control-allow-origin']).toBe(origin)
            expect(a.headers['access-control-allow-credentials']).toBe('true')
          }
        }
      }),
      params,
    )
    checks.push({
      name: 'media and chat REST: CORS with credentials for the allow-list, none for other origins',
      cases,
      held: true,
    })
  })

  it('auth grants no foreign origin, and refuses a cookie-bearing POST from one (INVALID_ORIGIN)', async () => {
    let cases = 0
    await fc.assert(
      fc.asyncProperty(originArb, async (origin) => {
        cases++
        const allowed = originAllowedByMatrix(origin)
        const get = await http(t.url('auth'), {
          path: '/api/auth/get-session',
          headers: { origin, cookie: t.cookieFor('member') },
        })
        if (!allowed) expect(grants(get.headers, origin), origin).toBe(false)
        const post = await http(t.url('auth'), {
          method: 'POST',
          path: '/api/auth/sign-out',
          headers: { origin, cookie: t.cookieFor('usr_member2'), 'content-type': 'application/json' },
          body: '{}',
        })
        if (allowed) expect(post.status).toBe(200)
        else {
          expect(post.status, origin).toBe(403)
          // better-auth names the literal "null" origin (sandboxed frames, file://) separately.
          expect(AuthErrorSchema.parse(JSON.parse(post.text)).code).toBe(
            origin === 'null' ? 'MISSING_OR_NULL_ORIGIN' : 'INVALID_ORIGIN',
          )
          // The refused sign-out ended nothing.
          expect(
            (
              await http(t.url('auth'), {
                path: '/api/auth/get-session',
                headers: { cookie: t.cookieFor('usr_member2') },
              })
            ).status,
          ).toBe(200)
        }
        if (allowed) await t.mocks.reset()
      }),
      { ...params, numRuns: Math.ceil(RUNS / 2) },
    )
    checks.push({
      name: 'auth: no CORS for foreign origins; cookie-bearing POST from one refused (403 INVALID_ORIGIN)',
      cases,
      held: true,
    })
  })

  it('V01T is public by design: `*` for every origin, never with credentials', async () => {
    await fc.assert(
      fc.asyncProperty(originArb, async (origin) => {
        const a = await http(t.url('v01t'), { path: '/trace/devarno-ecosystem/node/', headers: { origin } })
        expect(a.status).toBe(200)
        expect(a.headers['access-control-allow-origin']).toBe('*')
        expect(a.headers['access-control-allow-credentials']).toBeUndefined()
      }),
      { ...params, numRuns: Math.ceil(RUNS / 2) },
    )
    checks.push({
      name: 'V01T: Access-Control-Allow-Origin * for any origin, no credentials',
      cases: Math.ceil(RUNS / 2),
      held: true,
    })
  })

  it('the chat WebSocket opens for the allow-list (or no Origin) and answers 403 to any other', async () => {
    const url = `${t.url('chat').replace(/^http/, 'ws')}/ws?token=${t.tokenFor('member')}`
    await fc.assert(
      fc.asyncProperty(fc.option(originArb, { nil: undefined }), async (origin) => {
        const status = await ChatTestClient.upgradeStatus(url, origin === undefined ? {} : { origin })
        expect(status, String(origin)).toBe(origin === undefined || originAllowedByMatrix(origin) ? 101 : 403)
      }),
      params,
    )
    checks.push({
      name: 'chat WebSocket: 101 for allowed origins or none, 403 for any other',
      cases: RUNS,
      held: true,
    })
  })
})

describe('the control plane beyond loopback', () => {
  const netnsWorks = () => spawnSync('unshare', ['-n', 'true']).status === 0

  type Probe = Record<string, { status: number; body: string } | string | boolean>
  const runRemote = (token: string) =>
    new Promise<{ open: Probe; guarded: Probe }>((resolve, reject) => {
      const script = fileURLToPath(new URL('./remote-control.ts', import.meta.url))
      execFile(
        'unshare',
        [
          '-n',
          'sh',
          '-c',
          'ip link set lo up && ip addr add 10.77.0.1/32 dev lo && exec "$0" "$@"',
          process.execPath,
          '--import',
          'tsx',
          script,
        ],
        {
          cwd: fileURLToPath(new URL('../../', import.meta.url)),
          env: {
            ...process.env,
            REMOTE_ADDRESS: '10.77.0.1',
            REMOTE_CONTROL_TOKEN: token,
            MOCKS_LOG_LEVEL: 'silent',
          },
          timeout: 60_000,
        },
        (err, stdout, stderr) => {
          if (err) return reject(new Error(`${err.message}\n${stderr}`))
          resolve(JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}'))
        },
      )
    })

  it('over a real socket from a non-loopback address: 403 without a token; with one, only the bearer gets in', async (ctx) => {
    if (!netnsWorks()) {
      ctx.skip(
        'cannot create a network namespace here (unshare -n needs CAP_SYS_ADMIN or user namespaces); the in-process test in tests/control.test.ts still covers the rule',
      )
    }
    const { open, guarded } = await runRemote('s3cret-control-token')
    expect(open).toMatchObject({
      loopback: { status: 200 },
      remote: { status: 403 },
      remoteRightToken: { status: 403 },
      remoteScenarioSwitch: { status: 403 },
      scenarioAfter: 'default',
      remoteSlice: { status: 403 },
      remoteServiceApi: { status: 200 },
    })
    expect(JSON.parse((open.remote as { body: string }).body)).toMatchObject({ code: 'forbidden' })
    expect(guarded).toMatchObject({
      loopback: { status: 200 },
      remote: { status: 401 },
      remoteWrongToken: { status: 401 },
      remoteRightToken: { status: 200 },
      remoteScenarioSwitch: { status: 401 },
      scenarioAfter: 'default',
      remoteSlice: { status: 401 },
    })
    checks.push({
      name: 'control plane over a real socket from 10.77.0.1 (private network namespace): 403 without MOCKS_CONTROL_TOKEN, 401 without or with a wrong bearer, 200 with it; loopback always allowed',
      cases: 14,
      held: true,
    })
  }, 90_000)
})

describe('file ids cannot reach outside STORAGE_PATH', () => {
  let uploaded: string
  beforeAll(async () => {
    const a = await http(t.url('media'), {
      method: 'POST',
      path: '/api/v1/upload',
      headers: { cookie: t.cookieFor('member'), 'content-type': multipartType() },
      body: buildMultipart([filePart(await sampleImage('png', 8, 8), 'image/png', 'inside.png')]),
    })
    expect(a.status).toBe(201)
    uploaded = (JSON.parse(a.text) as { id: string }).id
  })

  const fixed = () => [
    '..%2Fcanary.txt',
    '..%2F..%2Fetc%2Fpasswd',
    '%2e%2e%2fcanary.txt',
    '%2E%2E%2Fcanary.txt',
    '%2e%2e',
    '..',
    '.',
    '%2Fetc%2Fpasswd',
    encodeURIComponent(join(root, 'canary.txt')),
    'canary.txt%00',
    '%00',
    '..%00%2Fcanary.txt',
    '..%5Ccanary.txt',
    '%252e%252e%252fcanary.txt',
    '..%c0%afcanary.txt',
    `${uploaded}%2F..%2F..%2Fcanary.txt`,
    `${uploaded}%00`,
    '.upload-00000000-0000-0000-0000-000000000000.part',
    'file:%2F%2F%2Fetc%2Fpasswd',
  ]
  const generated = fc
    .tuple(
      fc.array(fc.constantFrom('..', '%2e%2e', '.%2e', '%2e.', '%252e%252e', '%c0%ae%c0%ae', '...'), {
        minLength: 1,
        maxLength: 4,
      }),
      fc.constantFrom('%2F', '%5C', '%252F', '%2f', '%c0%af'),
      fc.constantFrom('canary.txt', 'etc%2Fpasswd', 'storage%2F..%2Fcanary.txt', '%00', ''),
    )
    .map(([ups, sep, target]) => `${ups.join(sep)}${sep}${target}`)

  async function tryId(id: string): Promise<void> {
    for (const [method, suffix] of [
      ['GET', ''],
      ['GET', '/download'],
      ['GET', '/download?thumb=1'],
      ['DELETE', ''],
    ] as const) {
      const target = `/api/v1/files/${id}${suffix}`
      const a = await rawHttp(
        t.url('media'),
        `${method} ${target} HTTP/1.1\r\nHost: x\r\nCookie: ${t.cookieFor('admin')}\r\nConnection: close\r\n\r\n`,
      )
      expect(a.text, target).not.toContain(CANARY)
      expect(a.text, target).not.toContain('root:')
      expect([400, 404], `${method} ${target}: ${a.status} ${a.text.slice(0, 200)}`).toContain(a.status)
      if (a.body.length) expect(ServiceErrorSchema.safeParse(JSON.parse(a.text)).success, a.text).toBe(true)
    }
  }

  it('`..%2F`, `%2e%2e`, absolute paths, encoded NUL: 404 (or the parser’s 400), and nothing outside is read or removed', async () => {
    const disk = readdirSync(storage).sort()
    for (const id of fixed()) await tryId(id)
    await fc.assert(fc.asyncProperty(generated, tryId), params)
    expect(readFileSync(join(root, 'canary.txt'), 'utf8')).toBe(CANARY)
    expect(readdirSync(storage).sort()).toEqual(disk)
    expect(media().inspect().fileIds).toContain(uploaded)
    checks.push({
      name: 'path traversal with STORAGE_PATH set (..%2F, %2e%2e, absolute, encoded NUL, overlong UTF-8, double encoding): GET, download, thumb and DELETE all 404; nothing outside read or removed',
      cases: (fixed().length + RUNS) * 4,
      held: true,
    })
  })
})

describe('roles and sessions', () => {
  it('a child cannot upload (403 before the body is read); nothing is stored', async () => {
    const ids = [...media().inspect().fileIds].sort()
    const a = await http(t.url('media'), {
      method: 'POST',
      path: '/api/v1/upload',
      headers: { cookie: t.cookieFor('child'), 'content-type': multipartType() },
      body: buildMultipart([filePart(await sampleImage('png', 8, 8), 'image/png', 'kid.png')]),
    })
    expect(a.status).toBe(403)
    expect(ServiceErrorSchema.parse(JSON.parse(a.text)).code).toBe('forbidden')
    expect([...media().inspect().fileIds].sort()).toEqual(ids)
    checks.push({ name: 'child upload: 403 forbidden, nothing stored', cases: 1, held: true })
  })

  it('only the owner or an admin deletes: others get 403 and the file stays', async () => {
    const refused: [string, string][] = [
      ['usr_member2', 'file_sunset'],
      ['child', 'file_budget'],
      ['usr_member', 'file_garden'],
      ['child', 'file_sunset'],
    ]
    for (const [user, id] of refused) {
      const a = await http(t.url('media'), {
        method: 'DELETE',
        path: `/api/v1/files/${id}`,
        headers: { cookie: t.cookieFor(user) },
      })
      expect(a.status, `${user} deleting ${id}`).toBe(403)
      const still = await http(t.url('media'), {
        path: `/api/v1/files/${id}/download`,
        headers: { cookie: t.cookieFor('admin') },
      })
      expect(still.status, `${id} after a refused delete`).toBe(200)
    }
    const own = await http(t.url('media'), {
      method: 'DELETE',
      path: '/api/v1/files/file_garden',
      headers: { cookie: t.cookieFor('usr_member2') },
    })
    expect(own.status).toBe(204)
    const admin = await http(t.url('media'), {
      method: 'DELETE',
      path: '/api/v1/files/file_sunset',
      headers: { cookie: t.cookieFor('admin') },
    })
    expect(admin.status).toBe(204)
    await t.mocks.reset()
    checks.push({
      name: 'non-owner deletes: 403 and the file stays; owner and admin deletes 204',
      cases: 6,
      held: true,
    })
  })

  it('banned users and expired sessions get no session anywhere: auth, chat REST and WS, media', async () => {
    let cases = 0
    for (const user of ['usr_banned', 'usr_expired']) {
      const cookie = t.cookieFor(user)
      const session = await http(t.url('auth'), { path: '/api/auth/get-session', headers: { cookie } })
      expect(session.status, user).toBe(401)
      NoSessionSchema.parse(JSON.parse(session.text))
      for (const [service, method, path] of [
        ['chat', 'GET', '/api/v1/messages?channel=general'],
        ['chat', 'GET', '/api/v1/presence?channel=general'],
        ['media', 'GET', '/api/v1/files/file_sunset'],
        ['media', 'GET', '/api/v1/files/file_sunset/download'],
        ['media', 'DELETE', '/api/v1/files/file_sunset'],
        ['media', 'POST', '/api/v1/upload'],
      ] as const) {
        cases++
        const a = await http(t.url(service), {
          method,
          path,
          headers: { cookie, ...(method === 'POST' ? { 'content-type': multipartType() } : {}) },
          ...(method === 'POST'
            ? { body: buildMultipart([filePart(Buffer.from('%PDF-1.4\n'), 'application/pdf', 'x.pdf')]) }
            : {}),
        })
        expect(a.status, `${user} ${method} ${service}${path}`).toBe(401)
        expect(ServiceErrorSchema.parse(JSON.parse(a.text)).code).toBe('unauthorized')
      }
      for (const how of ['query', 'cookie'] as const) {
        cases++
        const base = `${t.url('chat').replace(/^http/, 'ws')}/ws`
        const status =
          how === 'query'
            ? await ChatTestClient.upgradeStatus(`${base}?token=${t.tokenFor(user)}`)
            : await ChatTestClient.upgradeStatus(base, { headers: { cookie } })
        expect(status, `${user} WS via ${how}`).toBe(401)
      }
    }
    // A banned user cannot sign in for a new session either.
    const signIn = await http(t.url('auth'), {
      method: 'POST',
      path: '/api/auth/sign-in/email',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'banned@casa.test', password: 'banned-password-1' }),
    })
    expect(signIn.status).toBe(403)
    expect(AuthErrorSchema.parse(JSON.parse(signIn.text)).code).toBe('BANNED_USER')
    expect(String(signIn.headers['set-cookie'] ?? '')).not.toMatch(/session_token=[^;]/)
    checks.push({
      name: 'banned user and expired session: get-session 401, chat REST 401, chat WS 401 (?token and Cookie), media read/download/delete/upload 401; banned sign-in 403 BANNED_USER with no cookie',
      cases: cases + 3,
      held: true,
    })
  })

  it('the process saw no unhandled rejection or uncaught exception', () => {
    expect(watch.seen).toEqual([])
  })
})
