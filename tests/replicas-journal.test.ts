import { execFile } from 'node:child_process'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Journal, type JournalEntry } from '../mocks/core/journal.ts'
import { createLogger } from '../mocks/core/logger.ts'
import { DEFAULT_TENANT } from '../mocks/core/tenant.ts'
import { JournalPublisher } from '../mocks/replica/journal.ts'
import { sinceFilter } from '../mocks/runtime/control.ts'
import { hasRedisServer, type RedisServer, startRedisServer, useRedisServer } from './redis-server.ts'
import { eventually, type ReplicaProcess, startReplica, stopCluster } from './replicas-harness.ts'

// Issue 22 leftovers: the journal across replicas. A restarted replica still shows what its
// previous run published; verdicts' `since` takes a cluster-wide cursor; the timeout rule sees
// requests held on another replica; the live stream and the request-ID report of any replica
// show the whole cluster's traffic. Separate processes on a real Redis (appendonly, fsync always).

const run = hasRedisServer()
const V01T_PATH = '/trace/devarno-ecosystem/node/'

interface Entry {
  seq: number
  path: string
  replica?: string
  cursor?: string
  status: number | null
}

const journal = async (r: ReplicaProcess): Promise<Entry[]> =>
  ((await (await fetch(`${r.url('v01t')}/__mocks/journal`)).json()) as { entries: Entry[] }).entries

interface VerdictReport {
  verdicts: {
    rule: string
    status: string
    detail: string
    evidence: { replica?: string; cursor?: string }[]
  }[]
}
const verdicts = async (r: ReplicaProcess, since?: string): Promise<VerdictReport> => {
  const q = since === undefined ? '' : `?since=${encodeURIComponent(since)}`
  const res = await fetch(`${r.url('v01t')}/__mocks/verdicts${q}`)
  expect(res.status).toBe(200)
  return (await res.json()) as VerdictReport
}
const status = (report: VerdictReport, rule: string) => report.verdicts.find((v) => v.rule === rule)

describe.runIf(run)('replicas: the merged journal', () => {
  let redis: RedisServer
  let dir: string
  let a: ReplicaProcess
  let b: ReplicaProcess
  const prefix = `journal-${process.pid}-${Date.now()}:`

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'replicas-journal-'))
    // The matrix's 404 rule, and a timeout rule short enough to test (200 ms, no grace).
    const rules = join(dir, 'verdicts.yaml')
    writeFileSync(
      rules,
      `rules:
  - id: v01t-404-no-retry
    description: a 404 is not retried
    kind: max-retries
    select: { service: v01t, method: GET, route: /trace/* }
    after: [404]
    max: 0
    windowMs: 10000
  - id: v01t-quick-timeout
    description: a V01T fetch gives up within 200 ms
    kind: timeout
    select: { service: v01t }
    limitMs: 200
    graceMs: 0
`,
    )
    redis = await startRedisServer({ persistDir: dir })
    const env = { MOCKS_VERDICTS_FILE: rules }
    ;[a, b] = await Promise.all([
      startReplica({ name: 'a', redisUrl: redis.url, prefix, env }),
      startReplica({ name: 'b', redisUrl: redis.url, prefix, env }),
    ])
  }, 120_000)

  afterAll(() => stopCluster([a, b], redis, dir))

  it("a restarted replica's journal still shows what its previous run answered", async () => {
    const path = `/trace/devarno-ecosystem/before-restart-${Date.now()}/`
    await fetch(`${b.url('v01t')}${path}`)
    await eventually('the entry published (seen on a)', async () =>
      (await journal(a)).some((e) => e.path === path) ? true : undefined,
    )
    const ports = b.ports
    await b.stop()
    b = await startReplica({
      name: 'b',
      redisUrl: redis.url,
      prefix,
      ports,
      env: { MOCKS_VERDICTS_FILE: join(dir, 'verdicts.yaml') },
    })
    const onB = (await journal(b)).filter((e) => e.path === path)
    expect(onB).toHaveLength(1)
    expect(onB[0]!.replica).toBe('b')
    // And this run's own entries appear once (from memory, not again from the stream).
    const now = `/trace/devarno-ecosystem/after-restart-${Date.now()}/`
    await fetch(`${b.url('v01t')}${now}`)
    await eventually('published', async () =>
      (await journal(a)).some((e) => e.path === now) ? true : undefined,
    )
    expect((await journal(b)).filter((e) => e.path === now)).toHaveLength(1)
  }, 120_000)

  it("the CLI's journal on one replica names the replica that answered each request", async () => {
    const path = `/trace/devarno-ecosystem/cli-${Date.now()}/`
    await fetch(`${b.url('v01t')}${path}`)
    await eventually('published (seen on a)', async () =>
      (await journal(a)).some((e) => e.path === path) ? true : undefined,
    )
    const root = fileURLToPath(new URL('..', import.meta.url))
    const { stdout } = await promisify(execFile)(
      join(root, 'node_modules/.bin/tsx'),
      [join(root, 'mocks/cli/index.ts'), 'journal', '--path', path],
      { env: { ...process.env, MOCKS_CONTROL_URL: a.url('v01t') } },
    )
    const lines = stdout
      .trim()
      .split('\n')
      .filter((l) => l.includes(path))
    expect(lines).toHaveLength(1)
    expect(lines[0]).toMatch(/ @b$/)
  }, 60_000)

  it('verdicts: `since` is a cursor with one meaning on every replica; a bare seq is refused', async () => {
    const missing = `/trace/devarno-ecosystem/no-such-node-${Date.now()}/`
    expect((await fetch(`${a.url('v01t')}${missing}`)).status).toBe(404)
    // Cursors follow publication (each replica publishes in 50 ms batches): the retry is sent
    // once the first 404 is published, so its cursor comes after the first's however loaded
    // the machine is.
    await eventually('the first 404 published', async () =>
      (await journal(a)).some((e) => e.path === missing && e.cursor) ? true : undefined,
    )
    expect((await fetch(`${b.url('v01t')}${missing}`)).status).toBe(404) // retried on the other
    for (const r of [a, b])
      await eventually(`the retry judged on ${r.name}`, async () =>
        status(await verdicts(r), 'v01t-404-no-retry')?.status === 'fail' ? true : undefined,
      )
    // Every entry has a cursor (published), the same on both replicas.
    const [onA, onB] = [await journal(a), await journal(b)]
    const cursors = (list: Entry[]) => list.filter((e) => e.path === missing).map((e) => e.cursor)
    expect(cursors(onA)).toHaveLength(2)
    expect(cursors(onA).every((c) => /^\d+-\d+$/.test(c ?? ''))).toBe(true)
    expect(cursors(onB)).toEqual(cursors(onA))
    const evidence = status(await verdicts(a), 'v01t-404-no-retry')!.evidence
    expect(new Set(evidence.map((e) => e.replica))).toEqual(new Set(['a', 'b']))

    // Since the first 404: only the retry is left, nothing to judge, on either replica.
    const first = cursors(onA)[0]!
    for (const r of [a, b]) expect(status(await verdicts(r, first), 'v01t-404-no-retry')?.status).toBe('pass')
    // Since just before it (its cursor minus one): the retry is judged again, on either replica.
    const [ms, seq] = first.split('-').map(Number) as [number, number]
    const before = seq > 0 ? `${ms}-${seq - 1}` : `${ms - 1}-99999`
    for (const r of [a, b])
      expect(status(await verdicts(r, before), 'v01t-404-no-retry')?.status).toBe('fail')

    const bare = await fetch(`${a.url('v01t')}/__mocks/verdicts?since=3`)
    expect(bare.status).toBe(400)
    expect(JSON.stringify(await bare.json())).toMatch(/cursor/)
    // An ISO time still works.
    const iso = await fetch(`${b.url('v01t')}/__mocks/verdicts?since=${new Date().toISOString()}`)
    expect(iso.status).toBe(200)
  })

  it('the timeout rule on one replica sees a request held on the other', async () => {
    const spec = { id: 'hold-on-b', effect: { type: 'latency', ms: 3000 }, replica: 'b' }
    const add = await fetch(`${a.url('v01t')}/__mocks/faults`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(spec),
    })
    expect(add.status).toBe(201)
    const held = fetch(`${b.url('v01t')}${V01T_PATH}`).then((r) => r.status)
    try {
      const verdict = await eventually(
        'the held request judged on a',
        async () => {
          const v = status(await verdicts(a), 'v01t-quick-timeout')
          return v?.status === 'fail' ? v : undefined
        },
        2500,
      )
      expect(verdict.detail).toMatch(/still open/)
    } finally {
      await fetch(`${a.url('v01t')}/__mocks/faults/hold-on-b`, { method: 'DELETE' })
      await held
    }
  })

  it('the live stream and the request-ID report of one replica show the other replica’s traffic', async () => {
    const controller = new AbortController()
    const res = await fetch(`${a.url('v01t')}/__mocks/journal/stream`, { signal: controller.signal })
    expect(res.status).toBe(200)
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader()
    let text = ''
    const path = `/trace/devarno-ecosystem/live-${Date.now()}/`
    try {
      await reader.read() // hello: following from now on
      const sent = Date.now()
      await fetch(`${b.url('v01t')}${path}`)
      for (;;) {
        const { value, done } = await Promise.race([
          reader.read(),
          new Promise<never>((_, reject) =>
            setTimeout(() => reject(new Error(`not streamed: ${text}`)), 2000),
          ),
        ])
        if (done) break
        text += value
        if (text.includes(path)) break
      }
      expect(Date.now() - sent).toBeLessThan(2000)
      const block = text.split('\n\n').find((b) => b.includes(path))!
      const data = JSON.parse(/^data: (.*)$/m.exec(block)![1]!) as Entry
      expect(data.replica).toBe('b')
      expect(/^id: (.*)$/m.exec(block)![1]).toBe(data.cursor)
    } finally {
      controller.abort()
      await reader.cancel().catch(() => undefined)
    }

    // Requests without X-Request-ID through b, counted in a's report.
    const route = '/trace/*'
    const report = async (r: ReplicaProcess) =>
      (await (await fetch(`${r.url('v01t')}/__mocks/journal/report`)).json()) as {
        total: number
        routes: { service: string; route: string; requests: number; missingRequestId: number }[]
      }
    await fetch(`${a.url('v01t')}/__mocks/journal`, { method: 'DELETE' })
    await fetch(`${b.url('v01t')}${V01T_PATH}`)
    await fetch(`${b.url('v01t')}${V01T_PATH}`)
    await fetch(`${a.url('v01t')}${V01T_PATH}`)
    const row = await eventually('three requests in the report on a', async () => {
      const r = (await report(a)).routes.find(
        (x) => x.service === 'v01t' && x.route.startsWith(route.slice(0, 6)),
      )
      return r && r.requests === 3 ? r : undefined
    })
    expect(row.missingRequestId).toBe(3)
    await eventually('the same report on b', async () =>
      JSON.stringify((await report(b)).routes) === JSON.stringify((await report(a)).routes)
        ? true
        : undefined,
    )
  })
})

describe.runIf(run)('the live stream of other replicas’ entries (JournalPublisher on a real Redis)', () => {
  const redis = useRedisServer()

  it('never shows a request both recorded and still open (the timeout rule would count it twice)', async () => {
    const prefix = `open-${process.pid}:`
    const dbX = new Redis(redis.url)
    const dbY = new Redis(redis.url)
    const x = new JournalPublisher(dbX, prefix, 'x', 'x~1', () => undefined, createLogger('replica'))
    const y = new JournalPublisher(dbY, prefix, 'y', 'y~1', () => undefined, createLogger('replica'))
    const onX = new Journal(100)
    const onY = new Journal(100)
    x.watch(DEFAULT_TENANT, onX)
    y.watch(DEFAULT_TENANT, onY)
    await Promise.all([dbX.ping(), dbY.ping()]) // open lists are published once Redis is there
    try {
      const held = {
        openRequest: () => ({
          service: 'v01t' as const,
          method: 'GET',
          path: '/held',
          startedAt: Date.now() - 900,
          fault: 'slow',
        }),
        prevOpen: undefined,
        nextOpen: undefined,
      }
      onX.open.add(held)
      await (x as unknown as { publishOpen(): Promise<void> }).publishOpen()
      expect((await y.othersOpen(DEFAULT_TENANT)).map((o) => o.path)).toEqual(['/held'])
      // The client gives up: x records the request; its entry is published.
      onX.open.delete(held)
      onX.record({
        service: 'v01t',
        kind: 'http',
        method: 'GET',
        path: '/held',
        route: '/held',
        query: '',
        status: null,
        durationMs: 900,
        requestHeaders: {},
        fault: { id: 'slow', type: 'latency' },
      })
      await x.flush()
      expect((await y.merged(DEFAULT_TENANT, onY, {})).map((e) => e.path)).toEqual(['/held'])
      expect(await y.othersOpen(DEFAULT_TENANT)).toEqual([])
    } finally {
      x.stop()
      y.stop()
      dbX.disconnect()
      dbY.disconnect()
    }
  })

  it('misses no entry published between a blocking read timing out and the next one', async () => {
    const prefix = `tail-${process.pid}:`
    const db = new Redis(redis.url)
    const publisher = new JournalPublisher(db, prefix, 'a', 'a~1', () => undefined, createLogger('replica'))
    publisher.watch(DEFAULT_TENANT, new Journal(100))
    // The tail's connection, slowed after each reply: the window between two XREADs made wide.
    const tailer = db.duplicate()
    const xread = tailer.xread.bind(tailer) as (...args: unknown[]) => Promise<unknown>
    ;(tailer as unknown as { xread: (...args: unknown[]) => Promise<unknown> }).xread = async (...args) => {
      const res = await xread(...args)
      await new Promise((r) => setTimeout(r, 400))
      return res
    }
    ;(publisher as unknown as { tailer: Redis }).tailer = tailer
    const got: string[] = []
    const off = publisher.follow(DEFAULT_TENANT, (e) => got.push(e.path))
    try {
      const publish = (path: string) =>
        db.xadd(
          `${prefix}journal`,
          '*',
          't',
          DEFAULT_TENANT,
          'g',
          '0',
          'i',
          'b~1',
          'e',
          JSON.stringify({ path }),
        )
      // The first read blocks 500 ms and times out; this lands while the tail waits to read again.
      await new Promise((r) => setTimeout(r, 700))
      await publish('/in-the-gap')
      await new Promise((r) => setTimeout(r, 1500))
      await publish('/later')
      await eventually('the later entry', async () => got.includes('/later') || undefined, 3000)
      expect(got).toEqual(['/in-the-gap', '/later'])
    } finally {
      off()
      publisher.stop()
      db.disconnect()
    }
  }, 15_000)
})

describe("verdicts' since in replicated mode", () => {
  it('takes a cursor, and a year-month as a time, not as a cursor', () => {
    const entry = (time: string, cursor: string) => ({ time, cursor }) as JournalEntry
    const byCursor = sinceFilter('1796400000000-1', true)
    expect(typeof byCursor).toBe('function')
    const isCursor = byCursor as (e: JournalEntry) => boolean
    expect(isCursor(entry('2026-12-05T10:00:00.000Z', '1796400000000-2'))).toBe(true)
    expect(isCursor(entry('2026-12-05T10:00:00.000Z', '1796400000000-0'))).toBe(false)
    const month = sinceFilter('2026-12', true) as (e: JournalEntry) => boolean
    expect(typeof month).toBe('function')
    expect(month(entry('2026-12-05T10:00:00.000Z', '1000-0'))).toBe(true)
    expect(month(entry('2026-11-30T10:00:00.000Z', '9999999999999-0'))).toBe(false)
  })
})
