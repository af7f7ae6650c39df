import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { createServer } from 'node:net'
import { Redis as UpstashRedis } from '@upstash/redis'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { DEFAULT_UPSTASH_TOKEN } from '../mocks/core/config.ts'
import { startTestMocks } from './helpers.ts'
import { upstashClientSuite } from './upstash-suite.ts'

// The same client suite against a real Redis (Debian's redis-server, started here on a free
// port with no persistence), with the fake's keys under a prefix. Keys outside the prefix
// must survive everything the fake does, FLUSHDB and reset included.

function hasRedisServer(): boolean {
  try {
    execFileSync('redis-server', ['--version'], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
}

const available = hasRedisServer()
if (!available) {
  const why =
    'redis-server is not installed (apt-get install -y redis-server): real-Redis Upstash tests NOT run'
  // CI installs it (.ci/run): there a missing server is a failure, not a skip.
  if (process.env.CI) throw new Error(why)
  console.warn(why)
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer()
    srv.once('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number }
      srv.close(() => resolve(port))
    })
  })
}

let server: ChildProcess | undefined
let redisUrl = ''
const PREFIX = 'test-mocks:upstash:'

beforeAll(async () => {
  if (!available) return
  const port = await freePort()
  redisUrl = `redis://127.0.0.1:${port}`
  server = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    {
      stdio: 'ignore',
    },
  )
  const probe = new Redis(redisUrl, {
    lazyConnect: true,
    retryStrategy: () => 50,
    maxRetriesPerRequest: null,
  })
  probe.on('error', () => undefined) // refused until the server listens
  const deadline = Date.now() + 10_000
  for (;;) {
    try {
      await probe.connect().catch(() => undefined)
      if ((await probe.ping()) === 'PONG') break
    } catch (err) {
      if (Date.now() > deadline) throw err
      await new Promise((r) => setTimeout(r, 50))
    }
  }
  probe.disconnect()
})

afterAll(() => {
  server?.kill('SIGTERM')
})

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
