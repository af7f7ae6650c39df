import * as fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createSessionValidator, type SessionResult } from '../mocks/core/auth-client.ts'
import type { JournalEntry } from '../mocks/core/journal.ts'
import { createLogger } from '../mocks/core/logger.ts'
import type { LoopbackRegistry } from '../mocks/core/loopback.ts'
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

async function both(cookie: string | undefined, requestId?: string) {
  const journal = t.mocks.journal
  const call = async (validate: typeof inProcess) => {
    const before = journal.list({ service: 'auth' }).length
    const result: SessionResult = await validate(cookie, requestId)
    // A held request is journaled once it ends (the timeout closed its connection).
    await new Promise((r) => setTimeout(r, 50))
    const entries = journal.list({ service: 'auth' }).slice(before)
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
