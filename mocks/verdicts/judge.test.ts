import * as fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import type { JournalEntry } from '../core/journal.ts'
import { DEFAULT_VERDICTS_FILE, judge, rulesLoader } from './index.ts'
import { type Rule, RuleSchema } from './rules.ts'

// Every rule kind both ways: a client that behaves as the matrix's "Correct Behavior" passes,
// one that behaves as its "Current Behavior" fails, and nothing to judge is not-exercised.

const T0 = Date.parse('2026-12-05T10:00:00.000Z')
let seq = 0

function http(
  at: number,
  o: Partial<JournalEntry> & { path: string; service?: string; headers?: Record<string, string> },
): JournalEntry {
  const { headers, ...rest } = o
  return {
    seq: ++seq,
    time: new Date(T0 + at).toISOString(),
    service: 'chat',
    kind: 'http',
    method: 'GET',
    route: o.path,
    query: '',
    status: 200,
    durationMs: 5,
    requestHeaders: headers ?? {},
    fault: null,
    ...rest,
  }
}

const upgrade = (at: number, status: number) =>
  http(at, { path: '/ws', status, headers: { upgrade: 'websocket' }, userId: 'u1' })
const ws = (at: number, kind: 'ws-open' | 'ws-close', code?: number): JournalEntry => ({
  ...http(at, { path: '/ws', userId: 'u1' }),
  kind,
  method: 'WS',
  status: null,
  durationMs: null,
  ...(code === undefined ? {} : { code }),
})

const rule = (r: unknown): Rule => RuleSchema.parse(r)
const one = (r: Rule, entries: JournalEntry[], open = [] as Parameters<typeof judge>[2], now?: number) =>
  judge([r], entries, open, now)[0]!

describe('backoff', () => {
  const wsBackoff = rule({
    id: 'ws',
    description: 'd',
    kind: 'backoff',
    select: { service: 'chat', route: '/ws', upgrade: true },
    initialMs: 1000,
    maxGapMs: 30_000,
  })
  it('passes 1 s, 2 s, 4 s with jitter after refused upgrades; fails a fixed interval and an early retry', () => {
    const good = [upgrade(0, 503), upgrade(1100, 503), upgrade(1100 + 2300, 503), upgrade(3400 + 4100, 200)]
    expect(one(wsBackoff, good)).toMatchObject({ status: 'pass' })
    const fixed = [upgrade(0, 503), upgrade(3000, 503), upgrade(6000, 503), upgrade(9000, 503)]
    expect(one(wsBackoff, fixed)).toMatchObject({
      status: 'fail',
      detail: expect.stringContaining('grew less'),
    })
    const early = [upgrade(0, 503), upgrade(300, 503), upgrade(2000, 503)]
    expect(one(wsBackoff, early)).toMatchObject({ status: 'fail', detail: expect.stringContaining('sooner') })
    expect(one(wsBackoff, [upgrade(0, 200)])).toMatchObject({ status: 'not-exercised' })
  })
  it('counts a socket cut soon after it opened as a failure the next attempt retries', () => {
    const entries = [
      upgrade(0, 200),
      ws(1, 'ws-open'),
      ws(2000, 'ws-close', 1006),
      upgrade(3100, 200),
      ws(3101, 'ws-open'),
      ws(5100, 'ws-close', 1006),
      upgrade(7300, 200),
    ]
    expect(one(wsBackoff, entries)).toMatchObject({
      status: 'pass',
      detail: expect.stringContaining('2 retries'),
    })
    // A clean close (1000) is not a failure: nothing to retry.
    const clean = [upgrade(0, 200), ws(1, 'ws-open'), ws(2000, 'ws-close', 1000), upgrade(2100, 200)]
    expect(one(wsBackoff, clean)).toMatchObject({ status: 'not-exercised' })
  })
  it('polling after a 5xx: the matrix\u2019s current fixed 3 s retry fails', () => {
    const poll = rule({
      id: 'poll',
      description: 'd',
      kind: 'backoff',
      select: { service: 'chat', method: 'GET', route: '/api/v1/messages' },
      initialMs: 1000,
    })
    const path = '/api/v1/messages'
    const fixed = [0, 3000, 6000, 9000].map((at) => http(at, { path, status: 500 }))
    expect(one(poll, fixed).status).toBe('fail')
    // Gaps from each failure answer to the next request: 1.0 s, 2.1 s, 4.2 s.
    const backingOff = [5, 1010, 3120, 7330].map((at) => http(at, { path, status: 500 }))
    expect(one(poll, backingOff).status).toBe('pass')
  })
  it('under load: a late timer does not fail the next gap, yet a fixed 3 s interval still fails', () => {
    // The chat-ws-flaky run on a busy machine: the 1 s timer fired ~760 ms late.
    const at = (gaps: number[]) => {
      const out = [upgrade(0, 503)]
      let t = 0
      for (const g of gaps) {
        t += g + 5
        out.push(upgrade(t, 503))
      }
      return out
    }
    expect(one(wsBackoff, at([1964, 2070, 4482]))).toMatchObject({ status: 'pass' })
    // Two late timers in a row, the second step still grows past the allowance: pass.
    expect(one(wsBackoff, at([2300, 2000, 4100])).status).toBe('pass')
    const fixed = one(wsBackoff, at([3000, 3000, 3000]))
    expect(fixed).toMatchObject({ status: 'fail' })
    expect(fixed.detail).toContain(
      'gap 3000 ms after 3000 ms grew less than 1.5x (needed 3450 ms), then gap 3000 ms after 3000 ms grew less than 1.5x (needed 3450 ms): two steps in a row did not grow',
    )
    // One flat step while still failing is undecided until the next retry; after a success, forgiven.
    expect(one(wsBackoff, at([3000, 3000]))).toMatchObject({
      status: 'not-exercised',
      detail: expect.stringContaining('undecided'),
    })
    expect(one(wsBackoff, [...at([1000, 1000, 2000]), upgrade(9000, 200)]).status).toBe('pass')
    // Lower bounds stay strict: a first retry 10 ms early fails however loaded the machine.
    expect(one(wsBackoff, at([990, 2000, 4000])).status).toBe('fail')
    // Upper bound: a gap over maxGapMs fails.
    expect(one(wsBackoff, at([1000, 2000, 31_000])).detail).toContain('over the cap of 30000 ms')
  })
  it('a capped schedule may stop growing at its cap; a fixed interval below it may not', () => {
    const capped = rule({
      id: 'capped',
      description: 'd',
      kind: 'backoff',
      select: { service: 'chat', method: 'GET', route: '/api/v1/messages' },
      initialMs: 1000,
      capMs: 30_000,
      maxGapMs: 60_000,
    })
    const path = '/api/v1/messages'
    const series = (gaps: number[]) => {
      const out = [http(0, { path, status: 503 })]
      let t = 0
      for (const g of gaps) {
        t += g
        out.push(http(t, { path, status: 503 }))
      }
      return out
    }
    expect(one(capped, series([4000, 8000, 16_000, 30_000, 31_000, 30_500])).status).toBe('pass')
    expect(one(capped, series([4000, 8000, 16_000, 20_000, 20_000])).status).toBe('fail')
  })
  it('a retry repeats the same call: two lists loaded one after the other are two series', () => {
    const v01t = rule({
      id: 'v01t',
      description: 'd',
      kind: 'backoff',
      select: { service: 'v01t', method: 'GET', route: '/trace/*' },
      initialMs: 1000,
    })
    const get = (at: number, path: string) =>
      http(at, { service: 'v01t', path, route: '/trace/:app/:kind/', status: 500 })
    const a = '/trace/flight-path/artefact/'
    const b = '/trace/devarno-ecosystem/node/'
    // Articles 0, 1 s, 3 s; orgs at once after, 1 s, 2 s apart: each list backs off.
    const entries = [get(0, a), get(1010, a), get(3030, a), get(3040, b), get(4050, b), get(6070, b)]
    expect(one(v01t, entries)).toMatchObject({ status: 'pass', detail: expect.stringContaining('4 retries') })
  })
})

describe('max-retries, timeout, headers, rate', () => {
  const upload = rule({
    id: 'up',
    description: 'd',
    kind: 'max-retries',
    select: { service: 'media', method: 'POST', route: '/api/v1/upload' },
    after: ['5xx', 'network'],
    max: 0,
    windowMs: 10_000,
  })
  const post = (at: number, status: number | null) =>
    http(at, { service: 'media', method: 'POST', path: '/api/v1/upload', status })
  it('uploads: never retried passes, an automatic retry fails, no failure is not-exercised', () => {
    expect(one(upload, [post(0, 500)]).status).toBe('pass')
    expect(one(upload, [post(0, 500), post(800, 201)])).toMatchObject({ status: 'fail' })
    expect(one(upload, [post(0, 499), post(800, 201)]).status).toBe('fail')
    expect(one(upload, [post(0, 201)]).status).toBe('not-exercised')
  })
  it('auth rejection: one retry allowed, a storm of retries after a 401 fails', () => {
    const stops = rule({
      id: 'auth',
      description: 'd',
      kind: 'max-retries',
      select: { service: 'chat', route: '/ws', upgrade: true },
      after: [401],
      max: 1,
    })
    expect(one(stops, [upgrade(0, 401), upgrade(1000, 401)]).status).toBe('pass')
    expect(
      one(
        stops,
        [0, 1000, 2000, 3000].map((at) => upgrade(at, 401)),
      ).status,
    ).toBe('fail')
  })
  const timeout = rule({
    id: 'to',
    description: 'd',
    kind: 'timeout',
    select: { service: 'v01t' },
    limitMs: 10_000,
  })
  const held = (ms: number, status: number | null) =>
    http(ms, {
      service: 'v01t',
      path: '/trace/a/b/',
      status,
      durationMs: ms,
      fault: { id: 'v01t-timeout', type: 'hang' },
    })
  it('timeouts: giving up at 10 s passes; waiting 40 s, or a request still open past the limit, fails', () => {
    expect(one(timeout, [held(10_050, 499)]).status).toBe('pass')
    expect(one(timeout, [held(40_000, 499)]).status).toBe('fail')
    expect(one(timeout, [held(35_000, 200)]).status).toBe('fail')
    expect(one(timeout, []).status).toBe('not-exercised')
    const open = [
      { service: 'v01t', method: 'GET', path: '/trace/a/b/', startedAt: T0, fault: 'v01t-timeout' },
    ]
    expect(one(timeout, [], open, T0 + 60_000).status).toBe('fail')
    expect(one(timeout, [], open, T0 + 5_000).status).toBe('not-exercised')
  })
  it('request ids: every plain request needs both headers; upgrades are exempt', () => {
    const ids = rule({
      id: 'ids',
      description: 'd',
      kind: 'headers',
      select: { service: 'chat' },
      headers: ['x-request-id', 'traceparent'],
    })
    const both = { 'x-request-id': 'r', traceparent: '00-a-b-01' }
    expect(one(ids, [http(0, { path: '/api/v1/messages', headers: both }), upgrade(5, 200)]).status).toBe(
      'pass',
    )
    expect(one(ids, [http(0, { path: '/api/v1/messages', headers: { 'x-request-id': 'r' } })]).status).toBe(
      'fail',
    )
    expect(one(ids, [upgrade(5, 200)]).status).toBe('not-exercised')
    // A CORS preflight is the browser's, never the client's code: exempt too.
    const preflight = http(0, { path: '/api/v1/messages', method: 'OPTIONS' })
    expect(one(ids, [preflight, http(5, { path: '/api/v1/messages', headers: both })]).status).toBe('pass')
    expect(one(ids, [preflight]).status).toBe('not-exercised')
  })
  it('no storm: a burst against a failing service fails; paced attempts pass', () => {
    const storm = rule({
      id: 's',
      description: 'd',
      kind: 'rate',
      select: { service: 'v01t' },
      max: 5,
      windowMs: 1000,
    })
    const at = (ms: number) => http(ms, { service: 'v01t', path: '/trace/a/b/', status: 503 })
    expect(
      one(
        storm,
        Array.from({ length: 20 }, (_, i) => at(i * 20)),
      ).status,
    ).toBe('fail')
    expect(
      one(
        storm,
        Array.from({ length: 6 }, (_, i) => at(i * 1000)),
      ).status,
    ).toBe('pass')
    expect(one(storm, [http(0, { service: 'v01t', path: '/trace/a/b/' })]).status).toBe('not-exercised')
  })
})

describe('the rules file and arbitrary journals', () => {
  it('the shipped rules file parses, with unique ids', () => {
    const rules = rulesLoader(DEFAULT_VERDICTS_FILE)()
    expect(rules.length).toBeGreaterThanOrEqual(10)
    expect(new Set(rules.map((r) => r.id)).size).toBe(rules.length)
  })
  it('judging never throws and always answers pass, fail or not-exercised', () => {
    const rules = rulesLoader(DEFAULT_VERDICTS_FILE)()
    const entryArb = fc.record({
      at: fc.nat(120_000),
      service: fc.constantFrom('chat', 'media', 'v01t'),
      method: fc.constantFrom('GET', 'POST'),
      path: fc.constantFrom('/ws', '/api/v1/messages', '/api/v1/upload', '/trace/a/b/'),
      status: fc.option(fc.constantFrom(200, 201, 401, 404, 499, 500, 503), { nil: null }),
      durationMs: fc.nat(60_000),
      upgrade: fc.boolean(),
      held: fc.boolean(),
    })
    fc.assert(
      fc.property(fc.array(entryArb, { maxLength: 40 }), (list) => {
        const entries = list
          .sort((a, b) => a.at - b.at)
          .map((e) =>
            http(e.at, {
              service: e.service,
              method: e.method,
              path: e.path,
              status: e.status,
              durationMs: e.durationMs,
              ...(e.upgrade ? { headers: { upgrade: 'websocket' } } : {}),
              fault: e.held ? { id: 'f', type: 'hang' } : null,
            }),
          )
        for (const v of judge(rules, entries)) expect(['pass', 'fail', 'not-exercised']).toContain(v.status)
      }),
    )
  })
})
