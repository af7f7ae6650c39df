import { Redis as UpstashRedis } from '@upstash/redis'
import fc from 'fast-check'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { scanCursor } from '../mocks/upstash/backend.ts'
import { DEFAULT_UPSTASH_TOKEN } from '../mocks/upstash/settings.ts'
import { startTestMocks } from './helpers.ts'
import { hasRedisServer, type RedisServer, startRedisServer } from './redis-server.ts'
import { upstashClientSuite } from './upstash-suite.ts'

// The same client suite against a real Redis (Debian's redis-server, started here on a free
// port with no persistence), with the fake's keys under a prefix. Keys outside the prefix
// must survive everything the fake does, FLUSHDB and reset included.

const available = hasRedisServer()
let server: RedisServer | undefined
let redisUrl = ''
const PREFIX = 'test-mocks:upstash:'

beforeAll(async () => {
  if (!available) return
  server = await startRedisServer()
  redisUrl = server.url
})

afterAll(() => server?.stop())

describe.skipIf(!available)('real Redis under a prefix', () => {
  upstashClientSuite('real redis-server, prefixed', () =>
    available ? { MOCKS_UPSTASH_REDIS_URL: redisUrl, MOCKS_UPSTASH_PREFIX: PREFIX } : undefined,
  )

  it('keeps its hands off keys outside the prefix (FLUSHDB, reset, KEYS)', async () => {
    const direct = new Redis(redisUrl)
    await direct.set('frontend:own', 'keep me')
    const t = await startTestMocks({
      services: ['upstash'],
      env: { MOCKS_UPSTASH_REDIS_URL: redisUrl, MOCKS_UPSTASH_PREFIX: PREFIX },
    })
    try {
      const r = new UpstashRedis({ url: t.url('upstash'), token: DEFAULT_UPSTASH_TOKEN, retry: false })
      await r.set('mine', 'x')
      expect(await direct.get(`${PREFIX}mine`)).toBe('x')
      expect(await r.keys('*')).toEqual(['mine'])
      expect(await r.get('frontend:own')).toBeNull()
      expect(await r.flushdb()).toBe('OK')
      await t.mocks.reset()
      expect(await direct.get('frontend:own')).toBe('keep me')
      expect(await direct.exists(`${PREFIX}mine`)).toBe(0)
    } finally {
      await t.close()
      direct.disconnect()
    }
  })
})

describe.skipIf(!available)('SCAN cursors, read as redis-server reads them', () => {
  it('accepts and refuses the cursors redis-server does, and reads the same position', async (ctx) => {
    const direct = new Redis(redisUrl)
    try {
      // Redis up to 7.2 (Debian bookworm's) reads a cursor with strtoul, as the fake does; later
      // ones read it differently, so the comparison means nothing there.
      const version = /redis_version:(\d+)\.(\d+)/.exec(await direct.info('server'))
      const [major, minor] = [Number(version?.[1]), Number(version?.[2])]
      if (major > 7 || (major === 7 && minor >= 4))
        ctx.skip(`redis-server ${major}.${minor} reads cursors otherwise`)
      // An empty database: any valid cursor answers "0", so only validity is compared here;
      // the position is compared by scanning one key from the cursor's own decimal value.
      await direct.flushdb()
      await direct.set('only', 'x')
      const answer = async (cursor: string) =>
        direct.call('SCAN', cursor, 'COUNT', '1').then(
          (r) => JSON.stringify(r),
          (err: Error) => err.message,
        )
      const cursor = fc.oneof(
        fc.bigInt({ min: -(2n ** 65n), max: 2n ** 65n }).map(String),
        fc.bigInt({ min: 0n, max: 2n ** 64n }).map((n) => `+${n}`),
        fc.nat().map((n) => `0000${n}`),
        fc.constantFrom(
          '',
          '+',
          '-',
          ' 1',
          '1 ',
          '0x10',
          '1e3',
          '-0',
          '18446744073709551615',
          '-18446744073709551615',
        ),
        fc.string({ maxLength: 4 }),
      )
      await fc.assert(
        fc.asyncProperty(cursor, async (text) => {
          const read = scanCursor(text)
          const real = await answer(text)
          if (read === undefined) expect(real, text).toBe('ERR invalid cursor')
          else expect(real, text).toBe(await answer(String(read)))
        }),
        { numRuns: 300 },
      )
    } finally {
      direct.disconnect()
    }
  })
})
