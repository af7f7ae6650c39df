import { Redis } from 'ioredis'
import pino, { type Logger } from 'pino'
import { afterAll, afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { createLogger } from '../mocks/core/logger.ts'
import { untouched } from '../mocks/core/replication.ts'
import { compareIds, RedisLog } from '../mocks/replica/index.ts'
import { loadConfig } from '../mocks/runtime/config.ts'
import { startMocks } from '../mocks/runtime/runtime.ts'
import { hasRedisServer, useRedisServer } from './redis-server.ts'

// The log itself (mocks/replica/log.ts) on a real Redis, in-process: order, answers, a re-sent
// XADD applied once, replay by a late reader; and one process without MOCKS_REDIS_URL pays
// nothing for replication.

describe('stream ids', () => {
  it('compare as (ms, seq), not as text', () => {
    expect(compareIds('9-1', '10-0')).toBe(-1)
    expect(compareIds('10-2', '10-10')).toBe(-1)
    expect(compareIds('10-10', '10-10')).toBe(0)
    expect(compareIds('11-0', '10-99')).toBe(1)
  })
})

describe('one process without MOCKS_REDIS_URL', () => {
  it('has no replica, no cluster counters, no journal stamp', async () => {
    const config = loadConfig({ MOCKS_SCENARIO: 'default' })
    expect(config.replication).toBeUndefined()
    const mocks = await startMocks({ config, only: ['v01t'], listen: false })
    try {
      expect(mocks.replica).toBeUndefined()
      expect(mocks.journal.replica).toBeUndefined()
    } finally {
      await mocks.close()
    }
  })
})

describe.runIf(hasRedisServer())('RedisLog on a real Redis', () => {
  const redis = useRedisServer()
  const logs: RedisLog[] = []
  const prefix = `log-${process.pid}-${Date.now()}:`
  const make = (name: string) => {
    const log = new RedisLog({ url: redis.url, prefix, name }, createLogger('replica'))
    logs.push(log)
    return log
  }

  afterAll(async () => {
    await Promise.all(logs.map((l) => l.close()))
  })

  it('applies entries in log order on every reader, answers the submitter, applies a re-sent entry once, and replays to a late reader', async () => {
    const a = make('a')
    const b = make('b')
    const seenA: number[] = []
    const seenB: number[] = []
    a.handle('n', (p: { n: number }) => {
      seenA.push(p.n)
      return p.n * 10
    })
    b.handle('n', (p: { n: number }) => {
      seenB.push(p.n)
      if (p.n === 3) throw new Error('refused')
      return p.n * 10
    })
    await Promise.all([a.start(), b.start()])
    const answers = await Promise.all([
      a.submit('n', { n: 1 }),
      b.submit('n', { n: 2 }),
      a.submit('n', { n: 4 }),
    ])
    expect(answers).toEqual([10, 20, 40])
    await expect(b.submit('n', { n: 3 })).rejects.toThrow('refused')
    // A re-sent XADD (same nonce: its reply was lost in a reconnect) is applied once.
    const fields = ['k', 'n', 'o', 'a', 'n', 'same-nonce', 'p', JSON.stringify({ n: 5 })]
    await a.writer.xadd(a.stream, '*', ...fields)
    const last = (await a.writer.xadd(a.stream, '*', ...fields)) as string
    await Promise.all([a.until(last), b.until(last)])
    expect(seenA).toEqual(seenB)
    expect(seenA.filter((n) => n === 5)).toHaveLength(1)
    expect(new Set(seenA)).toEqual(new Set([1, 2, 3, 4, 5]))

    const late = make('late')
    const seenLate: number[] = []
    late.handle('n', (p: { n: number }) => {
      seenLate.push(p.n)
    })
    await late.start()
    expect(seenLate).toEqual(seenA)
  })
})

describe.runIf(hasRedisServer())('snapshots and trimming on a real Redis', () => {
  const redis = useRedisServer()
  const logs: RedisLog[] = []
  const prefix = `snap-${process.pid}-${Date.now()}:`

  afterAll(async () => {
    await Promise.all(logs.map((l) => l.close()))
  })

  /** A replica of a toy world: messages per tenant, emptied by a reset. */
  const make = (name: string) => {
    const log = new RedisLog({ url: redis.url, prefix, name, snapshotEvery: 4 }, createLogger('replica'))
    logs.push(log)
    const world = new Map<string, string[]>()
    const applied: string[] = []
    log.handle('chat.message', (p: { tenant: string; text: string }) => {
      applied.push(p.text)
      world.set(p.tenant, [...(world.get(p.tenant) ?? []), p.text])
    })
    log.handle('chat.typing', (p: { tenant: string }) => {
      applied.push(`typing ${p.tenant}`)
    })
    log.handle('mocks.reset', (p: { tenant: string }) => {
      applied.push(`reset ${p.tenant}`)
      world.set(p.tenant, [])
    })
    return { log, world, applied }
  }

  it('a snapshot holds what the world still needs; the log is trimmed to it; a late reader loads it and reads only the tail', async () => {
    const a = make('a')
    await a.log.start()
    for (const text of ['m1', 'm2', 'm3']) await a.log.submit('chat.message', { tenant: 'default', text })
    await a.log.submit('chat.message', { tenant: 't1', text: 'kept: another tenant' })
    await a.log.submit('chat.typing', { tenant: 'default' })
    await a.log.submit('mocks.reset', { tenant: 'default' })
    for (const text of ['m4', 'm5']) await a.log.submit('chat.message', { tenant: 'default', text })
    // Eight entries: a snapshot after the fourth and the eighth; trims wait for a's position
    // (noted every second), so four more after a beat make the third snapshot trim.
    const snapshot = async () => {
      const raw = await a.log.writer.hget(`${prefix}snapshot`, 'body')
      return raw
        ? (JSON.parse(raw) as { covers: string; entries: [string, string, string, string, string][] })
        : undefined
    }
    const eighth = a.log.last
    await new Promise((r) => setTimeout(r, 1200))
    for (let i = 0; i < 4; i++) await a.log.submit('chat.message', { tenant: 'default', text: `filler ${i}` })
    let snap = await snapshot()
    for (let i = 0; i < 50 && snap?.covers !== a.log.last; i++) {
      await new Promise((r) => setTimeout(r, 50))
      snap = await snapshot()
    }
    expect(snap?.covers).toBe(a.log.last)
    // Trimmed before a's noted position (the eighth entry or later): nothing older is left.
    const first = (
      (await a.log.writer.xrange(a.log.stream, '-', '+', 'COUNT', 1)) as [string, string[]][]
    )[0]![0]
    expect(compareIds(first, eighth)).toBeGreaterThanOrEqual(0)
    expect(await a.log.writer.xlen(a.log.stream)).toBeLessThanOrEqual(5)
    const kept = snap!.entries.map(
      ([, kind, , , p]) => `${kind} ${(JSON.parse(p) as { text?: string }).text ?? ''}`,
    )
    // Before the reset: gone (m1..m3), except another tenant's; typing never kept.
    expect(kept.slice(0, 4)).toEqual([
      'chat.message kept: another tenant',
      'mocks.reset ',
      'chat.message m4',
      'chat.message m5',
    ])
    expect(kept.join()).not.toMatch(/m1|m2|m3|typing/)

    const late = make('late')
    await late.log.start()
    expect(late.applied).toEqual(
      snap!.entries.map(([, kind, , , p]) => {
        const v = JSON.parse(p) as { text?: string; tenant: string }
        return kind === 'mocks.reset' ? `reset ${v.tenant}` : (v.text ?? '')
      }),
    )
    expect(late.world).toEqual(a.world)
    expect(late.log.last).toBe(a.log.last)
    // And it goes on with the others from there.
    await a.log.submit('chat.message', { tenant: 'default', text: 'after' })
    await late.log.until(a.log.last)
    expect(late.world).toEqual(a.world)
  }, 20_000)
})

describe.runIf(hasRedisServer())('positions and trimmed-past replicas on a real Redis', () => {
  const redis = useRedisServer()
  const logs: RedisLog[] = []
  let n = 0
  let prefix = ''

  beforeEach(() => {
    prefix = `gap-${process.pid}-${Date.now()}-${n++}:`
  })
  afterEach(async () => {
    vi.restoreAllMocks()
    await Promise.all(logs.splice(0).map((l) => l.close()))
  })

  /** A replica of a list of texts; `slow` ms per entry applied (a long snapshot load). */
  const make = (
    name: string,
    opts: { every?: number; graceMs?: number; slow?: number; logger?: Logger; stuck?: Promise<void> } = {},
  ) => {
    const log = new RedisLog(
      { url: redis.url, prefix, name, snapshotEvery: opts.every ?? 5 },
      opts.logger ?? createLogger('replica'),
      opts.graceMs === undefined ? {} : { positionGraceMs: opts.graceMs },
    )
    logs.push(log)
    const world: string[] = []
    log.handle('chat.message', async (p: { text: string }) => {
      if (opts.slow) await new Promise((r) => setTimeout(r, opts.slow))
      if (p.text === 'stuck') await opts.stuck
      world.push(p.text)
    })
    return { log, world }
  }
  type Inside = { heartbeat: NodeJS.Timeout; reader: Redis; beat(): Promise<void>; onTrimmedPast: () => void }
  const inside = (log: RedisLog) => log as unknown as Inside
  const snapshotOf = async (log: RedisLog) => {
    const raw = await log.writer.hget(`${prefix}snapshot`, 'body')
    return raw ? (JSON.parse(raw) as { covers: string; writer: string }) : undefined
  }
  const until = async (what: string, check: () => Promise<boolean> | boolean, ms = 5000) => {
    const end = performance.now() + ms // Date.now may be skewed by the test
    while (!(await check())) {
      if (performance.now() > end) throw new Error(`not within ${ms} ms: ${what}`)
      await new Promise((r) => setTimeout(r, 20))
    }
  }

  it('a replica cut off and trimmed past notices before applying past the gap, writes no snapshot, and a late joiner misses nothing', async () => {
    const a = make('a')
    const b = make('b')
    const cutOff: string[] = []
    inside(b.log).onTrimmedPast = () => cutOff.push(b.log.last)
    await a.log.start()
    await b.log.start()
    for (let i = 0; i < 3; i++) await a.log.submit('chat.message', { text: `m${i}` })
    await b.log.until(a.log.last)
    // b is cut off: no reader, no heartbeat, its noted position a minute old.
    clearInterval(inside(b.log).heartbeat)
    inside(b.log).reader.disconnect()
    await a.log.writer.hset(`${prefix}applied`, b.log.instance, `${b.log.last} ${Date.now() - 60_000}`)
    for (let i = 3; i < 30; i++) await a.log.submit('chat.message', { text: `m${i}` })
    await new Promise((r) => setTimeout(r, 1300)) // a's own position renewed: the next snapshot trims
    for (let i = 30; i < 40; i++) await a.log.submit('chat.message', { text: `m${i}` })
    await until('a trimmed the log', async () => (await a.log.writer.xlen(a.log.stream)) < 20)
    // b comes back.
    await inside(b.log).reader.connect()
    await until('b noticed, or caught up', () => cutOff.length > 0 || b.log.last === a.log.last)
    await new Promise((r) => setTimeout(r, 300))
    expect(cutOff).toHaveLength(1)
    // What b applied is the log's beginning, without a gap.
    expect(b.world).toEqual(a.world.slice(0, b.world.length))
    expect(b.world.length).toBeLessThan(a.world.length)
    // More entries: snapshots go on, never b's.
    for (let i = 40; i < 55; i++) await a.log.submit('chat.message', { text: `m${i}` })
    await until(
      'a snapshot of the latest entries',
      async () => (await snapshotOf(a.log))?.covers === a.log.last,
    )
    expect((await snapshotOf(a.log))?.writer).toBe(a.log.instance)
    const c = make('c')
    await c.log.start()
    expect(c.world.length).toBeGreaterThan(0)
    expect(new Set(c.world)).toEqual(new Set(a.world.filter((t) => c.world.includes(t))))
    await c.log.until(a.log.last)
    // c's world: the snapshot's messages (all of them: nothing replaced them) then the tail.
    expect(c.world).toEqual(a.world)
  }, 20_000)

  it('a trim lost after the snapshot was written (Redis gone in between) leaves a snapshot and an untrimmed log; a late joiner has everything, and the next snapshot trims', async () => {
    const a = make('a')
    await a.log.start()
    // The first trim fails as if Redis restarted between the snapshot's write and the trim.
    const evalOf = a.log.writer.eval.bind(a.log.writer) as (...args: unknown[]) => Promise<unknown>
    let lost = 0
    ;(a.log.writer as unknown as { eval: (...args: unknown[]) => Promise<unknown> }).eval = (...args) => {
      if (String(args[0]).includes('XTRIM') && lost++ === 0)
        return Promise.reject(new Error('Connection lost'))
      return evalOf(...args)
    }
    await new Promise((r) => setTimeout(r, 1100)) // a's position noted past 0-0: trims may happen
    for (let i = 0; i < 5; i++) await a.log.submit('chat.message', { text: `m${i}` })
    await until('the snapshot', async () => (await snapshotOf(a.log))?.covers === a.log.last)
    await new Promise((r) => setTimeout(r, 100))
    expect(lost).toBe(1)
    expect(await a.log.writer.xlen(a.log.stream)).toBe(5)
    for (let i = 5; i < 7; i++) await a.log.submit('chat.message', { text: `m${i}` })
    const c = make('c')
    await c.log.start()
    expect(c.world).toEqual(a.world)
    await new Promise((r) => setTimeout(r, 1100)) // positions noted at m6
    for (let i = 7; i < 10; i++) await a.log.submit('chat.message', { text: `m${i}` })
    await until('the next snapshot', async () => (await snapshotOf(a.log))?.covers === a.log.last)
    await until('trimmed', async () => (await a.log.writer.xlen(a.log.stream)) < 10)
  }, 20_000)

  it('close() lets a snapshot being written finish: its lock released, the snapshot stored', async () => {
    const a = make('a')
    await a.log.start()
    const evalOf = a.log.writer.eval.bind(a.log.writer) as (...args: unknown[]) => Promise<unknown>
    ;(a.log.writer as unknown as { eval: (...args: unknown[]) => Promise<unknown> }).eval = async (
      ...args
    ) => {
      if (String(args[0]).includes("'covers', ARGV[1]")) await new Promise((r) => setTimeout(r, 300))
      return evalOf(...args)
    }
    for (let i = 0; i < 5; i++) await a.log.submit('chat.message', { text: `m${i}` })
    const last = a.log.last
    await new Promise((r) => setTimeout(r, 50)) // the snapshot is being written
    logs.splice(logs.indexOf(a.log), 1)
    await a.log.close()
    const probe = new Redis(redis.url)
    try {
      expect(await probe.get(`${prefix}snapshot:lock`)).toBeNull()
      expect(await probe.hget(`${prefix}snapshot`, 'covers')).toBe(last)
    } finally {
      probe.disconnect()
    }
  })

  it('a live replica stuck on an entry holds trims back, and a warning says so', async () => {
    const lines: string[] = []
    const logger = pino({ level: 'warn' }, { write: (line: string) => void lines.push(line) })
    let unstick: () => void = () => undefined
    const stuck = new Promise<void>((r) => {
      unstick = r
    })
    const a = make('a', { every: 3, logger })
    const b = make('b', { every: 1000, stuck })
    await a.log.start()
    await b.log.start()
    try {
      await a.log.submit('chat.message', { text: 'm0' })
      await a.log.submit('chat.message', { text: 'stuck' })
      await b.log.until(
        ((await a.log.writer.xrevrange(a.log.stream, '+', '-', 'COUNT', 2)) as [string, string[]][])[1]![0],
      )
      const held = b.log.last
      await new Promise((r) => setTimeout(r, 1100)) // b's position noted there
      for (let i = 0; i < 9; i++) await a.log.submit('chat.message', { text: `m${i + 1}` })
      await until('the warning', () => lines.some((l) => l.includes('has not moved past this entry')))
      expect(lines.filter((l) => l.includes('has not moved past'))).toHaveLength(1)
      const after = (await a.log.writer.xrange(a.log.stream, `(${held}`, '+')) as unknown[]
      expect(after).toHaveLength(10)
    } finally {
      unstick()
    }
  }, 20_000)

  it("judges positions on Redis's clock: a trimmer whose clock runs a minute ahead does not trim past a live replica", async () => {
    const a = make('a')
    const b = make('b')
    await a.log.start()
    await b.log.start()
    for (let i = 0; i < 2; i++) await a.log.submit('chat.message', { text: `m${i}` })
    await b.log.until(a.log.last)
    // b notes its position now, then not again during the test (well within the 15 s grace).
    clearInterval(inside(b.log).heartbeat)
    await inside(b.log).beat()
    const held = b.log.last
    const real = Date.now.bind(Date)
    vi.spyOn(Date, 'now').mockImplementation(() => real() + 60_000)
    for (let i = 2; i < 15; i++) await a.log.submit('chat.message', { text: `m${i}` })
    await until('a snapshot', async () => (await snapshotOf(a.log))?.covers === a.log.last)
    await new Promise((r) => setTimeout(r, 200))
    vi.restoreAllMocks()
    const after = (await a.log.writer.xrange(a.log.stream, `(${held}`, '+')) as unknown[]
    expect(after).toHaveLength(13)
  }, 20_000)

  it('a replica loading a snapshot slowly keeps its place: no trim passes it meanwhile', async () => {
    const a = make('a', { every: 3, graceMs: 1500 })
    await a.log.start()
    for (let i = 0; i < 8; i++) await a.log.submit('chat.message', { text: `m${i}` })
    await new Promise((r) => setTimeout(r, 1200)) // a's position noted at m7
    // c loads the snapshot at 400 ms an entry (about 2.4 s), with no heartbeat before the fix.
    const c = make('c', { every: 1000, graceMs: 1500, slow: 400 })
    const started = c.log.start()
    await new Promise((r) => setTimeout(r, 1900))
    for (let i = 8; i < 11; i++) await a.log.submit('chat.message', { text: `m${i}` })
    await started
    await c.log.until(a.log.last)
    expect(c.world).toEqual(a.world)
  }, 20_000)
})

describe.runIf(hasRedisServer())('refusals that touched nothing, on a real Redis', () => {
  const redis = useRedisServer()

  it('are not kept by the compaction (replayed from a snapshot without what refused them, they could succeed)', async () => {
    const log = new RedisLog(
      { url: redis.url, prefix: `refused-${process.pid}:`, name: 'a' },
      createLogger('replica'),
    )
    log.handle('mocks.scenario', (p: { refuse: 'untouched' | 'put back' }) => {
      throw p.refuse === 'untouched' ? untouched(new Error('refused first')) : new Error('put back')
    })
    try {
      await log.start()
      await expect(log.submit('mocks.scenario', { tenant: 't', refuse: 'untouched' })).rejects.toThrow()
      await expect(log.submit('mocks.scenario', { tenant: 't', refuse: 'put back' })).rejects.toThrow()
      expect(log.compactor.entries().map((e) => JSON.parse(e.payload) as unknown)).toEqual([
        { tenant: 't', refuse: 'put back' },
      ])
    } finally {
      await log.close()
    }
  })

  it("a tenant's refusal of a scenario (faults on a shared service) is such a refusal", async () => {
    const config = loadConfig({
      MOCKS_SCENARIO: 'default',
      MOCKS_REDIS_URL: redis.url,
      MOCKS_REDIS_PREFIX: `refused-runtime-${process.pid}:`,
      MOCKS_REPLICA: 'a',
    })
    const mocks = await startMocks({ config, only: ['v01t'], listen: false })
    try {
      const tenant = await mocks.createTenant({ name: 'default' })
      await expect(mocks.switchScenario({ name: 'db-down' }, tenant.id)).rejects.toThrow(/cannot be applied/)
      const kept = (mocks.replica as unknown as RedisLog).compactor.entries().map((e) => e.kind)
      expect(kept).toEqual(['mocks.tenant.create'])
    } finally {
      await mocks.close()
    }
  })
})
