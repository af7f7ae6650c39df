import http from 'node:http'
import * as fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createSessionValidator, type SessionResult } from '../mocks/core/auth-client.ts'
import type { JournalEntry } from '../mocks/core/journal.ts'
import { createLogger } from '../mocks/core/logger.ts'
import {
  type LoopbackLimits,
  LoopbackRegistry,
  loopbackGet,
  loopbackOrigins,
} from '../mocks/core/loopback.ts'
import { usersForControl } from '../mocks/fake/seeded.ts'
import { startTestMocks, type TestMocks } from './helpers.ts'

// Chat's and media's get-session call to the fake auth of their own process is served
// in-process (mocks/core/loopback.ts), not over loopback TCP. Nothing a user sees may differ:
// here the same call is made both ways, under every kind of auth fault, and the session
// result and what auth's journal recorded are compared. Real sockets for the network side.

let t: TestMocks
let used = 0
let inProcess: ReturnType<typeof createSessionValidator>
let network: ReturnType<typeof createSessionValidator>
const TIMEOUT_MS = 400

beforeAll(async () => {
  t = await startTestMocks({ services: ['auth', 'chat'] })
  const registry = t.mocks.loopback
  // The registry, counting the calls it routes in-process.
  const counting = Object.create(registry) as LoopbackRegistry
  counting.find = (url) => {
    const route = registry.find(url)
    if (route) used++
    return route
  }
  const common = {
    authServiceUrl: () => t.mocks.config.authServiceUrl,
    timeoutMs: TIMEOUT_MS,
    logger: createLogger('loopback-test'),
  }
  inProcess = createSessionValidator({ ...common, loopback: counting })
  network = createSessionValidator(common)
})

afterAll(async () => {
  await t?.close()
})

/** An auth journal entry without what differs between any two requests. */
function comparable(e: JournalEntry | undefined) {
  if (!e) return undefined
  const { seq: _seq, time: _time, durationMs: _ms, ...rest } = e
  return rest
}

async function both(
  cookie: string | undefined,
  requestId?: string,
  tenant?: string,
  during?: () => Promise<void>,
) {
  const journal = t.mocks.journal
  const call = async (validate: typeof inProcess) => {
    const before = (tenant ? (t.mocks.journalOf(tenant, {}) as JournalEntry[]) : journal.list()).filter(
      (e) => e.service === 'auth',
    ).length
    const pending = validate(cookie, requestId, undefined, tenant)
    await during?.()
    const result: SessionResult = await pending
    // A held request is journaled once it ends (the timeout closed its connection).
    await new Promise((r) => setTimeout(r, 50))
    const entries = (tenant ? (t.mocks.journalOf(tenant, {}) as JournalEntry[]) : journal.list())
      .filter((e) => e.service === 'auth')
      .slice(before)
    return { result, journaled: entries.map(comparable) }
  }
  const usedBefore = used
  const a = await call(inProcess)
  // No cookie: no call at all, either way.
  expect(used - usedBefore, 'served in-process').toBe(cookie ? 1 : 0)
  const b = await call(network)
  return { inProcess: a, network: b }
}

const cases: { name: string; effect?: Record<string, unknown>; cookie?: () => string; down?: boolean }[] = [
  { name: 'a live session' },
  { name: 'an unknown cookie', cookie: () => 'better-auth.session_token=nobody.signature' },
  { name: 'a status 500', effect: { type: 'status', status: 500 } },
  { name: 'a status 401', effect: { type: 'status', status: 401 } },
  {
    name: 'a status 200 with a body that is no session',
    effect: { type: 'status', status: 200, body: 'nope' },
  },
  { name: 'latency under the timeout', effect: { type: 'latency', ms: 40 } },
  { name: 'latency over the timeout', effect: { type: 'latency', ms: TIMEOUT_MS + 300 } },
  { name: 'a slow body', effect: { type: 'slow-body', bytesPerSecond: 4000 } },
  { name: 'a reset', effect: { type: 'reset' } },
  { name: 'a hang (the caller times out)', effect: { type: 'hang' } },
  {
    name: 'a Cookie header over the parser limit (431)',
    cookie: () => `${t.cookieFor('member')}; pad=${'x'.repeat(16_400)}`,
  },
  { name: 'auth down (its listener closed)', down: true },
]

describe('get-session in-process and over TCP: the same result and the same journal', () => {
  for (const c of cases) {
    it(c.name, async () => {
      const cookie = c.cookie?.() ?? t.cookieFor('member')
      const fault = c.effect ? t.mocks.faults.add({ service: 'auth', effect: c.effect }) : undefined
      const auth = t.mocks.services.get('auth')!.server!
      if (c.down) await auth.stopListening()
      try {
        const r = await both(cookie, 'req-loopback-1')
        expect(r.inProcess.result).toEqual(r.network.result)
        expect(r.inProcess.journaled).toEqual(r.network.journaled)
        // Each case does what it says (not two equal failures of something else).
        if (!c.effect && !c.down && !c.cookie) expect(r.network.result.kind).toBe('ok')
        if (c.down) expect(r.network.journaled).toEqual([])
      } finally {
        if (fault) t.mocks.faults.remove(fault.id)
        if (c.down) await auth.resumeListening()
      }
    }, 20_000)
  }

  it('the results of the cases differ from each other as their faults do', async () => {
    // A guard on the comparison above: the in-process side is not one fixed answer.
    const kinds = new Set<string>()
    for (const c of cases.slice(0, 4)) {
      const fault = c.effect ? t.mocks.faults.add({ service: 'auth', effect: c.effect }) : undefined
      try {
        const r = await inProcess(c.cookie?.() ?? t.cookieFor('member'))
        kinds.add(r.kind === 'unavailable' ? `${r.kind}: ${r.reason}` : r.kind)
      } finally {
        if (fault) t.mocks.faults.remove(fault.id)
      }
    }
    expect([...kinds].sort()).toEqual(['ok', 'unauthenticated', 'unavailable: get-session answered 500'])
  })

  it('any Cookie header and request id: the same result and journal both ways (property)', async () => {
    // Cookie headers as clients send them, around the parser's limit too (Node refuses a head
    // of 16 KiB with 431 before auth sees it; the in-process path must refuse the same ones).
    const octets = fc.constantFrom(...'abcXYZ019-_.~!#$%&*+/=?^`|'.split(''))
    const cookie = fc.oneof(
      fc.constant(undefined),
      fc.string({ unit: octets, maxLength: 40 }).map((s) => `${t.cookieFor('member')}; x=${s}`),
      fc.string({ unit: octets, maxLength: 40 }).map((s) => `better-auth.session_token=${s}`),
      fc.integer({ min: 16_100, max: 16_500 }).map((n) => `${t.cookieFor('member')}; pad=${'p'.repeat(n)}`),
    )
    const requestId = fc.option(fc.string({ unit: octets, minLength: 1, maxLength: 20 }), { nil: undefined })
    await fc.assert(
      fc.asyncProperty(cookie, requestId, async (c, id) => {
        const r = await both(c, id)
        expect(r.inProcess.result).toEqual(r.network.result)
        expect(r.inProcess.journaled).toEqual(r.network.journaled)
      }),
      { numRuns: 60 },
    )
  }, 60_000)

  it("a tenant's session, looked up in its world (X-Mocks-Tenant)", async () => {
    const { id } = await t.mocks.createTenant({ name: 'default' })
    try {
      const u = usersForControl(t.mocks.scenario, t.mocks.config.betterAuthSecret, id).find(
        (x) => x.id === 'usr_member',
      )!
      const r = await both(`${u.cookieName}=${u.cookieValue}`, 'req-tenant', id)
      expect(r.network.result.kind).toBe('ok')
      expect(r.network.journaled).toHaveLength(1)
      expect(r.inProcess).toEqual(r.network)
    } finally {
      await t.mocks.deleteTenant(id)
    }
  })

  it('a `down` fault, and one added while a call is held', async () => {
    const auth = t.mocks.services.get('auth')!.server!
    /** The engine closes and reopens the listener a moment after the fault comes and goes. */
    const listening = (up: boolean) => expect.poll(() => auth.listening).toBe(up)
    const down = t.mocks.faults.add({ service: 'auth', effect: { type: 'down' } })
    await listening(false)
    try {
      const r = await both(t.cookieFor('member'))
      expect(r.network.result).toEqual({ kind: 'unavailable', reason: 'get-session failed: ECONNREFUSED' })
      expect(r.inProcess).toEqual(r.network)
    } finally {
      t.mocks.faults.remove(down.id)
    }
    await listening(true)
    const hang = t.mocks.faults.add({ service: 'auth', effect: { type: 'hang' } })
    let later: string | undefined
    try {
      const r = await both(t.cookieFor('member'), undefined, undefined, async () => {
        await new Promise((res) => setTimeout(res, 100))
        later = t.mocks.faults.add({ service: 'auth', effect: { type: 'down' } }).id
        await listening(false)
        t.mocks.faults.remove(later)
        later = undefined
        await listening(true)
      })
      expect(r.network.result).toEqual({ kind: 'unavailable', reason: 'get-session failed: ECONNRESET' })
      expect(r.inProcess).toEqual(r.network)
    } finally {
      t.mocks.faults.remove(hang.id)
      if (later) t.mocks.faults.remove(later)
      await listening(true)
    }
  })

  it('a reset of the mocks cuts a held call', async () => {
    const outcome = async (validate: typeof inProcess) => {
      t.mocks.faults.add({ service: 'auth', effect: { type: 'hang' } })
      const before = t.mocks.journal.list().length
      const pending = validate(t.cookieFor('member'))
      await new Promise((res) => setTimeout(res, 100))
      // Back to the scenario: the runtime fault goes, and the request it held is cut.
      await t.mocks.reset()
      const result = await pending
      await new Promise((res) => setTimeout(res, 50))
      return {
        result,
        journaled: t.mocks.journal
          .list()
          .slice(before)
          .filter((e) => e.service === 'auth')
          .map(comparable),
      }
    }
    const a = await outcome(inProcess)
    const b = await outcome(network)
    expect(b.result).toEqual({ kind: 'unavailable', reason: 'get-session failed: ECONNRESET' })
    expect(a).toEqual(b)
  })

  it('a URL of no listener of this process goes over the network', async () => {
    const before = used
    const elsewhere = createSessionValidator({
      authServiceUrl: () => 'http://127.0.0.1:9/api',
      timeoutMs: TIMEOUT_MS,
      logger: createLogger('loopback-test'),
      loopback: t.mocks.loopback,
    })
    const r = await elsewhere(t.cookieFor('member'))
    expect(r).toEqual({ kind: 'unavailable', reason: 'get-session failed: ECONNREFUSED' })
    expect(used).toBe(before)
  })
})

// The transport itself against Node's own HTTP client, on a plain node:http server: answers,
// failures and limits the fake auth never produces today but a route or fault might.
describe('loopbackGet against node:http.get, on a plain server', () => {
  let server: http.Server
  let registry: LoopbackRegistry
  let base: string
  const LIMITS: LoopbackLimits = {
    timeoutMs: 2000,
    maxBody: 100_000,
    bodyTooLarge: () => new Error('too large'),
  }
  const CHUNK = Buffer.alloc(20_000, 'a')

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      const path = req.url ?? '/'
      if (path === '/streamed') {
        // Writes of 16 KiB or more: a writer that waits for 'drain' stalls unless it comes.
        res.writeHead(200, { 'content-type': 'text/plain' })
        let n = 0
        const more = () => {
          while (n < 4) {
            n++
            if (!res.write(CHUNK)) return void res.once('drain', more)
          }
          res.end()
        }
        more()
      } else if (path === '/nocontent' || path === '/notmodified') {
        // Node sends no body with a 204 or 304, whatever the handler writes.
        res.writeHead(path === '/nocontent' ? 204 : 304)
        res.end('ignored')
      } else if (path === '/huge') {
        res.end(Buffer.alloc(150_000, 'b'))
      } else if (path === '/cut') {
        res.writeHead(200)
        res.write('partial')
        setTimeout(() => res.destroy(new Error('a server-side failure')), 20)
      } else res.end(`path ${path} cookie ${req.headers.cookie?.length ?? 0}`)
    })
    server.on('clientError', (_err, socket) =>
      socket.end(
        'HTTP/1.1 431 Request Header Fields Too Large\r\nConnection: close\r\nContent-Length: 0\r\n\r\n',
      ),
    )
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    const port = (server.address() as { port: number }).port
    base = `http://127.0.0.1:${port}`
    registry = new LoopbackRegistry()
    registry.add(loopbackOrigins('127.0.0.1', port), {
      get listening() {
        return server.listening
      },
      serve: (req, res) => server.emit('request', req, res),
      refuse: (err, socket) => server.emit('clientError', err, socket),
      release: () => undefined,
    })
  })

  afterAll(async () => {
    server.closeAllConnections()
    await new Promise((r) => server.close(r))
  })

  type Outcome = { status: number; body: string } | { error: string }
  const viaNetwork = (path: string, headers: Record<string, string>): Promise<Outcome> =>
    new Promise((resolve) => {
      try {
        const req = http.get(
          `${base}${path}`,
          { headers, agent: new http.Agent({ keepAlive: true }) },
          (res) => {
            const chunks: Buffer[] = []
            let size = 0
            res.on('data', (c: Buffer) => {
              size += c.length
              if (size > LIMITS.maxBody!) req.destroy(LIMITS.bodyTooLarge!())
              else chunks.push(c)
            })
            res.on('error', (e: NodeJS.ErrnoException) => resolve({ error: e.code ?? e.message }))
            res.on('end', () =>
              resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }),
            )
          },
        )
        req.on('error', (e: NodeJS.ErrnoException) => resolve({ error: e.code ?? e.message }))
      } catch (e) {
        resolve({ error: (e as NodeJS.ErrnoException).code ?? (e as Error).message })
      }
    })
  const viaLoopback = (path: string, headers: Record<string, string>): Promise<Outcome> =>
    loopbackGet(registry.find(`${base}${path}`)!, headers, LIMITS).then(
      (a) => ({ status: a.status, body: a.body.toString() }),
      (e: NodeJS.ErrnoException) => ({ error: e.code ?? e.message }),
    )
  const same = async (path: string, headers: Record<string, string> = {}) => {
    const [a, b] = [await viaLoopback(path, headers), await viaNetwork(path, headers)]
    expect(a).toEqual(b)
    return b
  }

  it('a streamed answer in writes over 16 KiB', async () => {
    expect(await same('/streamed')).toEqual({ status: 200, body: CHUNK.toString().repeat(4) })
  })

  it('a 204 or 304 whose handler writes a body: none, as Node sends none', async () => {
    expect(await same('/nocontent')).toEqual({ status: 204, body: '' })
    expect(await same('/notmodified')).toEqual({ status: 304, body: '' })
  })

  it('an answer over the caller’s limit', async () => {
    expect(await same('/huge')).toEqual({ error: 'too large' })
  })

  it('a connection the server cuts with an error of its own: a reset, never its error', async () => {
    expect(await same('/cut')).toEqual({ error: 'ECONNRESET' })
  })

  it('a header value Node’s client refuses to send', async () => {
    expect(await same('/x', { cookie: 'a=b\r\nx-evil: 1' })).toEqual({ error: 'ERR_INVALID_CHAR' })
  })

  it('a head one byte under Node’s limit, and at it (431)', async () => {
    // What Node's parser counts: the URL, and each header's name and value (Host and
    // Connection: keep-alive, which the client adds, included).
    const fixed =
      '/x'.length + 'Host'.length + base.slice(7).length + 'Connection'.length + 'keep-alive'.length
    const pad = (n: number) => ({ cookie: 'c'.repeat(n - fixed - 'cookie'.length) })
    expect(await same('/x', pad(http.maxHeaderSize - 1))).toMatchObject({ status: 200 })
    expect(await same('/x', pad(http.maxHeaderSize))).toEqual({ status: 431, body: '' })
  })

  it('a URL with credentials goes over the network (they become an Authorization header)', () => {
    expect(registry.find(`${base.replace('//', '//user:pw@')}/x`)).toBeUndefined()
    expect(registry.find(`${base}/x`)).toBeDefined()
    expect(registry.find(`${base.replace('127.0.0.1', 'localhost')}/x`)).toBeUndefined()
  })
})
