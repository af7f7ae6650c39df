import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createLogger } from '../mocks/core/logger.ts'
import { compareIds, RedisLog } from '../mocks/replica/index.ts'
import { loadConfig } from '../mocks/runtime/config.ts'
import { startMocks } from '../mocks/runtime/runtime.ts'
import { hasRedisServer, type RedisServer, startRedisServer } from './redis-server.ts'

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
  let redis: RedisServer
  const logs: RedisLog[] = []
  const prefix = `log-${process.pid}-${Date.now()}:`
  const make = (name: string) => {
    const log = new RedisLog({ url: redis.url, prefix, name }, createLogger('replica'))
    logs.push(log)
    return log
  }

  beforeAll(async () => {
    redis = await startRedisServer()
  })
  afterAll(async () => {
    await Promise.all(logs.map((l) => l.close()))
    redis?.stop()
    await redis?.exited
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
