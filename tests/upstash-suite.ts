import { Redis } from '@upstash/redis'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { DEFAULT_UPSTASH_TOKEN } from '../mocks/upstash/settings.ts'
import { startTestMocks, type TestMocks } from './helpers.ts'

// Upstash's own client (@upstash/redis) against the fake over real HTTP, once per response
// encoding (its default base64, and `responseEncoding: false`). Run against the embedded
// Redis and against a real redis-server under a prefix by the files that import this.

export function upstashClientSuite(label: string, env: () => Record<string, string> | undefined): void {
  describe(`@upstash/redis against the fake (${label})`, () => {
    let t: TestMocks
    let url: string

    beforeAll(async () => {
      const extra = env()
      if (!extra) return
      t = await startTestMocks({ services: ['upstash'], env: extra })
      url = t.url('upstash')
    })
    afterAll(() => t?.close())
    beforeEach(async () => {
      await t.mocks.reset()
    })

    const client = (encoding: boolean, token = DEFAULT_UPSTASH_TOKEN) =>
      new Redis({
        url,
        token,
        retry: false,
        ...(encoding ? {} : { responseEncoding: false as const }),
        enableTelemetry: false,
      })

    for (const encoding of [true, false]) {
      const mode = encoding ? 'base64 responses' : 'responseEncoding: false'

      it(`set/get with expiry (${mode})`, async () => {
        const r = client(encoding)
        expect(await r.set('greeting', 'héllo wörld ✓')).toBe('OK')
        expect(await r.get('greeting')).toBe('héllo wörld ✓')
        expect(await r.set('obj', { a: 1, nested: ['x'] })).toBe('OK')
        expect(await r.get('obj')).toEqual({ a: 1, nested: ['x'] })
        expect(await r.set('short', 'v', { px: 150 })).toBe('OK')
        expect(await r.pttl('short')).toBeGreaterThan(0)
        expect(await r.get('short')).toBe('v')
        await new Promise((res) => setTimeout(res, 300))
        expect(await r.get('short')).toBeNull()
        expect(await r.set('once', '1', { nx: true })).toBe('OK')
        expect(await r.set('once', '2', { nx: true })).toBeNull()
        expect(await r.incr('counter')).toBe(1)
        expect(await r.incrby('counter', 41)).toBe(42)
        expect(await r.exists('greeting', 'nope')).toBe(1)
        expect(await r.del('greeting')).toBe(1)
      })

      it(`hashes, sets and sorted sets (${mode})`, async () => {
        const r = client(encoding)
        expect(await r.hset('presence:room', { alice: 'online', bob: 'away' })).toBe(2)
        expect(await r.hget('presence:room', 'alice')).toBe('online')
        expect(await r.hgetall('presence:room')).toEqual({ alice: 'online', bob: 'away' })
        expect(await r.hdel('presence:room', 'bob')).toBe(1)
        expect(await r.hlen('presence:room')).toBe(1)

        expect(await r.sadd('members', 'a', 'b', 'c')).toBe(3)
        expect(await r.sismember('members', 'b')).toBe(1)
        expect((await r.smembers('members')).sort()).toEqual(['a', 'b', 'c'])
        expect(await r.scard('members')).toBe(3)

        expect(await r.zadd('scores', { score: 1, member: 'one' }, { score: 2.5, member: 'two' })).toBe(2)
        expect(await r.zscore('scores', 'two')).toBe(2.5)
        expect(await r.zrange('scores', 0, -1)).toEqual(['one', 'two'])
        expect(await r.zrange('scores', 0, -1, { withScores: true })).toEqual(['one', 1, 'two', 2.5])
        expect(await r.zincrby('scores', 2, 'one')).toBe(3)
        expect(await r.zcard('scores')).toBe(2)
      })

      it(`pipelines and transactions (${mode})`, async () => {
        const r = client(encoding)
        const p = r.pipeline()
        p.set('p1', 'v1')
        p.incr('p-count')
        p.get('p1')
        p.hset('p-hash', { f: 'x' })
        expect(await p.exec()).toEqual(['OK', 1, 'v1', 1])

        const tx = r.multi()
        tx.set('t1', 'a')
        tx.incr('t-count')
        tx.incr('t-count')
        tx.get('t1')
        expect(await tx.exec()).toEqual(['OK', 1, 2, 'a'])

        // A command that fails inside a pipeline fails alone; exec throws its error, and with
        // keepErrors each command keeps its own outcome.
        const bad = r.pipeline()
        bad.set('s', 'text')
        bad.hget('s', 'f')
        bad.get('s')
        const kept = await bad.exec({ keepErrors: true })
        expect(kept[0]).toEqual({ result: 'OK', error: undefined })
        expect(kept[1]?.error).toMatch(/^WRONGTYPE/)
        expect(kept[2]).toEqual({ result: 'text', error: undefined })
      })

      it(`a wrong or missing token is refused as Upstash refuses it (${mode})`, async () => {
        await expect(client(encoding, 'not-the-token').get('x')).rejects.toThrow(
          /WRONGPASS invalid or missing auth token/,
        )
        const res = await fetch(`${url}/get/x`)
        expect(res.status).toBe(401)
        expect(await res.json()).toEqual({ error: 'WRONGPASS invalid or missing auth token' })
      })
    }

    it('keys and scan see only the prefix, without it', async () => {
      const r = client(true)
      await r.mset({ 'k:1': 1, 'k:2': 2, other: 3 })
      expect((await r.keys('k:*')).sort()).toEqual(['k:1', 'k:2'])
      const [cursor, found] = await r.scan(0, { match: 'k:*', count: 100 })
      expect(cursor).toBe('0')
      expect(found.sort()).toEqual(['k:1', 'k:2'])
      expect(await r.dbsize()).toBe(3)
      expect(await r.flushdb()).toBe('OK')
      expect(await r.dbsize()).toBe(0)
    })
  })
}
