import fc from 'fast-check'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { Journal, type JournalEntry, recordHeaders } from './journal.ts'

// The journal is a bounded window of the newest entries; it trims in batches internally
// (bench: a per-record splice cost a fifth of chat's CPU during a 500-socket fan-out).

const entry = (path: string, extra: Partial<JournalEntry> = {}): Omit<JournalEntry, 'seq' | 'time'> => ({
  service: 'v01t',
  kind: 'http',
  method: 'GET',
  path,
  route: path,
  query: '',
  status: 200,
  durationMs: 1,
  requestHeaders: {},
  fault: null,
  ...extra,
})

describe('Journal bound', () => {
  it('keeps exactly the newest `limit` entries, oldest first, however many were recorded', () => {
    const journal = new Journal(5)
    for (let n = 1; n <= 23; n++) {
      journal.record(entry(`/r/${n}`))
      const seqs = journal.list().map((e) => e.seq)
      const expected = Array.from({ length: Math.min(n, 5) }, (_, i) => n - Math.min(n, 5) + 1 + i)
      expect(seqs).toEqual(expected)
      expect(journal.size).toBe(Math.min(n, 5))
    }
  })

  it('filters and reports over the window only', () => {
    const journal = new Journal(3)
    journal.record(entry('/old', { requestHeaders: {} }))
    for (let i = 0; i < 3; i++)
      journal.record(entry('/new', { requestHeaders: { 'x-request-id': 'a', traceparent: 'b' } }))
    expect(journal.list({ path: '/old' })).toEqual([])
    expect(journal.requestIdReport()).toEqual({ total: 3, missing: 0, routes: [] })
  })

  it('holds nothing with a limit of 0 (its subscribers still see each entry), and nothing after clear()', () => {
    const zero = new Journal(0)
    const seen: string[] = []
    zero.subscribe((e) => seen.push(`${e.seq} ${e.kind} ${e.path}`))
    for (let i = 0; i < 10; i++) zero.record(entry('/x'))
    zero.recordWs('chat', 'ws-out', '/ws', 'hi', undefined, 'u', null)
    zero.recordHttp({
      service: 'v01t',
      method: 'GET',
      path: '/h',
      route: '/h',
      query: '',
      status: 200,
      durationMs: 1,
      headers: { entries: () => [] },
      fault: null,
      userId: undefined,
    })
    expect(zero.size).toBe(0)
    expect(zero.list()).toEqual([])
    expect(seen).toHaveLength(12)
    expect(seen.slice(-2)).toEqual(['11 ws-out /ws', '12 http /h'])
    const journal = new Journal(4)
    for (let i = 0; i < 9; i++) journal.record(entry('/x'))
    journal.clear()
    expect(journal.size).toBe(0)
    journal.record(entry('/y'))
    expect(journal.list().map((e) => e.path)).toEqual(['/y'])
  })
})

describe('WebSocket entries', () => {
  it('recordWs makes the entry record would make from the same fields', () => {
    const a = new Journal()
    const b = new Journal()
    const viaRecord = a.record({
      service: 'chat',
      kind: 'ws-out',
      method: 'WS',
      path: '/ws',
      route: '/ws',
      query: '',
      status: null,
      durationMs: null,
      requestHeaders: {},
      fault: { id: 'f-1', type: 'ws-drop' },
      frame: '{"type":"pong"}',
      userId: 'usr_member',
    })
    b.recordWs('chat', 'ws-out', '/ws', '{"type":"pong"}', undefined, 'usr_member', {
      id: 'f-1',
      type: 'ws-drop',
    })
    const [viaWs] = b.list()
    expect({ ...viaWs, time: '' }).toEqual({ ...viaRecord, time: '' })
    expect(Object.keys(viaWs!)).toEqual(Object.keys(viaRecord))
    b.recordWs('chat', 'ws-close', '/ws', undefined, 1006, undefined, null, 'client')
    const [closed] = b.list({ kind: 'ws-close' })
    expect(closed).toMatchObject({ kind: 'ws-close', code: 1006, fault: null, seq: 2, closedBy: 'client' })
    expect('frame' in closed! || 'userId' in closed!).toBe(false)
    // record() keeps every field it is given, closedBy too, in the same key order.
    const viaRecordClose = a.record({ ...closed!, requestHeaders: {} })
    expect(Object.keys(viaRecordClose)).toEqual(Object.keys(closed!))
  })
})

describe('copies of one frame to several sockets (stored as a run)', () => {
  afterEach(() => {
    vi.useRealTimers()
  })

  // The same calls on a journal that stores runs and on one that cannot (a subscriber makes
  // every copy a whole entry): whatever is read must be the same.
  type Op =
    | { op: 'out'; frame: number; user: number; faulted: boolean }
    | { op: 'broadcast'; frame: number; sockets: number }
    | { op: 'in' | 'http' | 'read' | 'clear' | 'tick' | 'subscribe' }
    | { op: 'replica'; name: string | undefined }
  const opArb: fc.Arbitrary<Op> = fc.oneof(
    {
      weight: 12,
      arbitrary: fc.record({
        op: fc.constant('out' as const),
        frame: fc.nat(2),
        user: fc.nat(3),
        faulted: fc.boolean(),
      }),
    },
    {
      weight: 3,
      arbitrary: fc.record({
        op: fc.constant('broadcast' as const),
        frame: fc.nat(2),
        sockets: fc.integer({ min: 1, max: 40 }),
      }),
    },
    {
      weight: 1,
      arbitrary: fc.record({ op: fc.constantFrom('in' as const, 'http' as const, 'read' as const) }),
    },
    { weight: 1, arbitrary: fc.record({ op: fc.constantFrom('tick' as const, 'clear' as const) }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant('subscribe' as const) }) },
    {
      weight: 1,
      arbitrary: fc.record({
        op: fc.constant('replica' as const),
        name: fc.constantFrom(undefined, 'a', 'b'),
      }),
    },
  )
  const frames = ['{"type":"message","id":"1"}', '{"type":"message","id":"2"}', '{"type":"typing"}']
  const users = ['usr_a', 'usr_b', undefined, 'usr_c']

  const apply = (j: Journal, o: Op) => {
    if (o.op === 'out')
      j.recordWs(
        'chat',
        'ws-out',
        '/ws',
        frames[o.frame],
        undefined,
        users[o.user],
        o.faulted ? { id: 'f', type: 'ws-delay' } : null,
      )
    else if (o.op === 'broadcast')
      for (let i = 0; i < o.sockets; i++)
        j.recordWs('chat', 'ws-out', '/ws', frames[o.frame], undefined, users[i % users.length], null)
    else if (o.op === 'in') j.recordWs('chat', 'ws-in', '/ws', frames[0], undefined, 'usr_a', null)
    else if (o.op === 'http') j.record(entry('/h'))
    else if (o.op === 'read') j.list()
    else if (o.op === 'clear') j.clear()
    else if (o.op === 'replica') j.replica = o.name
  }

  it('reads back exactly what whole entries would, in any order of calls, at any bound', () => {
    vi.useFakeTimers({ toFake: ['Date'] })
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 120 }), fc.nat(12), (ops, limit) => {
        vi.setSystemTime(Date.UTC(2026, 0, 1))
        const runs = new Journal(limit)
        const whole = new Journal(limit)
        whole.subscribe(() => undefined)
        // A subscriber on the run journal now and then: copies are stored whole meanwhile.
        let unsubscribe: (() => void) | undefined
        for (const o of ops) {
          if (o.op === 'tick') vi.setSystemTime(Date.now() + 1)
          else if (o.op === 'subscribe') {
            if (unsubscribe) {
              unsubscribe()
              unsubscribe = undefined
            } else unsubscribe = runs.subscribe(() => undefined)
          } else {
            apply(runs, o)
            apply(whole, o)
          }
          expect(runs.size).toBe(whole.size)
          // What memory holds stays bounded, runs or not.
          expect(runs.held).toBeLessThan(Math.max(2 * limit, 1))
        }
        const got = runs.list()
        expect(got).toEqual(whole.list())
        for (const e of got)
          expect(Object.keys(e)).toEqual(Object.keys(whole.list().find((w) => w.seq === e.seq)!))
        // Reading again gives the same objects (a run is expanded once).
        const again = runs.list()
        expect(again.every((e, i) => e === got[i])).toBe(true)
      }),
      { numRuns: 300 },
    )
  })

  it('a run never holds more than the bound: a long broadcast at a small limit keeps memory bounded', () => {
    vi.useFakeTimers({ toFake: ['Date'] })
    vi.setSystemTime(Date.UTC(2026, 0, 1))
    const j = new Journal(50)
    for (let i = 0; i < 10_000; i++) {
      j.recordWs('chat', 'ws-out', '/ws', '{"type":"message"}', undefined, `usr_${i}`, null)
      expect(j.held).toBeLessThan(100)
    }
    expect(j.list().map((e) => e.userId)).toEqual(Array.from({ length: 50 }, (_, i) => `usr_${9950 + i}`))
  })

  it('a ws-out with a close code or a closer is its own entry, with them', () => {
    vi.useFakeTimers({ toFake: ['Date'] })
    vi.setSystemTime(Date.UTC(2026, 0, 1))
    const j = new Journal(10)
    j.recordWs('chat', 'ws-out', '/ws', 'x', undefined, 'a', null)
    j.recordWs('chat', 'ws-out', '/ws', 'x', 1000, 'b', null, 'server')
    expect(j.list()[1]).toMatchObject({ userId: 'b', code: 1000, closedBy: 'server' })
  })

  it('a broadcast to many sockets reads as one entry per socket, each with its own seq and user', () => {
    vi.useFakeTimers({ toFake: ['Date'] })
    vi.setSystemTime(Date.UTC(2026, 0, 1))
    const j = new Journal(100)
    const frame = '{"type":"message"}'
    for (let i = 0; i < 30; i++) j.recordWs('chat', 'ws-out', '/ws', frame, undefined, `usr_${i}`, null)
    j.recordWs('chat', 'ws-in', '/ws', '{"type":"ping"}', undefined, 'usr_0', null)
    const list = j.list({ kind: 'ws-out' })
    expect(list.map((e) => e.seq)).toEqual(Array.from({ length: 30 }, (_, i) => i + 1))
    expect(list.map((e) => e.userId)).toEqual(Array.from({ length: 30 }, (_, i) => `usr_${i}`))
    expect(new Set(list.map((e) => e.time))).toEqual(new Set(['2026-01-01T00:00:00.000Z']))
    expect(j.size).toBe(31)
  })
})

describe('HTTP entries recorded with their headers as a source', () => {
  const headers: [string, string][] = [
    ['accept', 'application/json'],
    ['cookie', 'better-auth.session_token=abcdefghijklmnopqrstuvwxyz0123456789'],
    ['x-request-id', 'req-1'],
  ]
  const fields = {
    service: 'v01t',
    method: 'GET',
    path: '/trace/a/b/',
    route: '/trace/:app/:component/',
    query: '?page_size=20',
    status: 200,
    durationMs: 1.25,
    fault: { id: 'f-1', type: 'latency' },
  } as const

  it('recordHttp makes the entry record would make, headers recorded (cookie shortened) when read', () => {
    const a = new Journal()
    const b = new Journal()
    const viaRecord = a.record({
      ...fields,
      kind: 'http',
      requestHeaders: recordHeaders(headers),
      userId: 'usr_member',
    })
    let reads = 0
    b.recordHttp({
      ...fields,
      headers: {
        entries: () => {
          reads++
          return headers
        },
      },
      userId: 'usr_member',
    })
    expect(reads).toBe(0)
    const [viaHttp] = b.list()
    expect(reads).toBe(1)
    expect(JSON.stringify({ ...viaHttp, time: '' })).toBe(JSON.stringify({ ...viaRecord, time: '' }))
    expect(viaHttp?.requestHeaders.cookie).toBe('better-auth.session_toke…')
    // Recorded once: later reads see the same entry object.
    expect(b.list()[0]).toBe(viaHttp)
    expect(reads).toBe(1)
    expect(b.requestIdReport()).toEqual(a.requestIdReport())
  })

  it('a subscriber and the report see recorded headers too; no userId field when there is none', () => {
    const journal = new Journal()
    const seen: unknown[] = []
    journal.subscribe((e) => seen.push(JSON.parse(JSON.stringify(e))))
    journal.recordHttp({ ...fields, headers: { entries: () => headers }, userId: undefined })
    expect(seen).toEqual([expect.objectContaining({ requestHeaders: recordHeaders(headers) })])
    expect('userId' in (seen[0] as object)).toBe(false)
    expect(journal.requestIdReport()).toMatchObject({ total: 1, missing: 1 })
  })
})

describe('open requests', () => {
  const source = (path: string) => {
    let fault: string | null = null
    return {
      prevOpen: undefined,
      nextOpen: undefined,
      setFault: (f: string) => {
        fault = f
      },
      openRequest: () => ({ service: 'v01t' as const, method: 'GET', path, startedAt: 5, fault }),
    }
  }

  it('each registered source is read as its OpenRequest when iterated, and gone once deleted', () => {
    const journal = new Journal()
    const a = source('/x')
    journal.open.add(a)
    expect([...journal.open]).toEqual([
      { service: 'v01t', method: 'GET', path: '/x', startedAt: 5, fault: null },
    ])
    a.setFault('f-2')
    expect([...journal.open].map((o) => o.fault)).toEqual(['f-2'])
    expect(journal.open.size).toBe(1)
    journal.open.delete(a)
    expect([...journal.open]).toEqual([])
    expect(journal.open.size).toBe(0)
  })

  it('keeps insertion order whatever is deleted, and ignores repeated adds and deletes', () => {
    const journal = new Journal()
    const all = ['/1', '/2', '/3', '/4', '/5'].map(source)
    for (const s of all) journal.open.add(s)
    journal.open.add(all[1]!)
    const paths = () => [...journal.open].map((o) => o.path)
    expect(paths()).toEqual(['/1', '/2', '/3', '/4', '/5'])
    journal.open.delete(all[2]!)
    journal.open.delete(all[2]!)
    expect(paths()).toEqual(['/1', '/2', '/4', '/5'])
    journal.open.delete(all[0]!)
    journal.open.delete(all[4]!)
    expect(paths()).toEqual(['/2', '/4'])
    journal.open.add(all[0]!)
    expect(paths()).toEqual(['/2', '/4', '/1'])
    expect(journal.open.size).toBe(3)
    for (const s of all) journal.open.delete(s)
    expect(paths()).toEqual([])
    expect(journal.open.size).toBe(0)
  })
})

describe('recorded headers named like a source method', () => {
  it('a request header called "entries" is recorded as a header, not taken for a source', () => {
    const journal = new Journal()
    journal.recordHttp({
      service: 'v01t',
      method: 'GET',
      path: '/x',
      route: '/x',
      query: '',
      status: 200,
      durationMs: 1,
      headers: { entries: () => [['entries', 'yes']] },
      fault: null,
      userId: undefined,
    })
    expect(journal.list()[0]?.requestHeaders).toEqual({ entries: 'yes' })
    expect(journal.list()[0]?.requestHeaders).toEqual({ entries: 'yes' })
  })
})
