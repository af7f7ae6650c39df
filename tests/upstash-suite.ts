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

    it('a failed increment answers the error and leaves the value as it was', async () => {
      // Raw strings back (no JSON parsing of "9223372036854775807" into a float).
      const r = new Redis({
        url,
        token: DEFAULT_UPSTASH_TOKEN,
        retry: false,
        enableTelemetry: false,
        automaticDeserialization: false,
      })
      const notInt = /ERR value is not an integer or out of range/
      const notFloat = /ERR value is not a valid float/
      await r.mset({
        s: 'hello',
        c: '5',
        f: '1.5',
        spaced: ' 5',
        zeros: '007',
        big: '9223372036854775807',
        huge: '1e308',
      })
      await r.hset('h', { word: 'abc', n: '5' })
      await r.zadd('z', { score: 1, member: 'a' })
      // The stored value is no number (or not the kind the command needs).
      const refused: [string, () => Promise<unknown>, RegExp][] = [
        ['INCR s', () => r.incr('s'), notInt],
        ['DECR s', () => r.decr('s'), notInt],
        ['INCRBY s 2', () => r.incrby('s', 2), notInt],
        ['DECRBY s 2', () => r.decrby('s', 2), notInt],
        ['INCRBYFLOAT s 1', () => r.incrbyfloat('s', 1), notFloat],
        ['INCR f', () => r.incr('f'), notInt],
        ['INCR spaced', () => r.incr('spaced'), notInt],
        ['INCR zeros', () => r.incr('zeros'), notInt],
        ['HINCRBY h word 1', () => r.hincrby('h', 'word', 1), /ERR hash value is not an integer/],
        ['HINCRBYFLOAT h word 1', () => r.hincrbyfloat('h', 'word', 1), /ERR hash value is not a float/],
        // The increment is no number of the kind the command needs.
        ['INCRBY c 1.5', () => r.incrby('c', 1.5), notInt],
        ['DECRBY c 1.5', () => r.decrby('c', 1.5), notInt],
        ['INCRBY c x', () => r.incrby('c', 'x' as unknown as number), notInt],
        ['INCRBYFLOAT c abc', () => r.incrbyfloat('c', 'abc' as unknown as number), notFloat],
        ['HINCRBY h n 1.5', () => r.hincrby('h', 'n', 1.5), notInt],
        ['HINCRBYFLOAT h n x', () => r.hincrbyfloat('h', 'n', 'x' as unknown as number), notFloat],
        ['ZINCRBY z x a', () => r.zincrby('z', 'x' as unknown as number, 'a'), notFloat],
        // The result would not fit.
        ['INCR big', () => r.incr('big'), /ERR increment or decrement would overflow/],
        [
          'INCRBY c max',
          () => r.incrby('c', '9223372036854775807' as unknown as number),
          /ERR increment or decrement would overflow/,
        ],
        // Refused before the value is read (Redis cannot negate this step), even where the sum fits.
        [
          'DECRBY c min',
          () => r.decrby('c', '-9223372036854775808' as unknown as number),
          /ERR decrement would overflow/,
        ],
        [
          'DECRBY absent min',
          () => r.decrby('absent-min', '-9223372036854775808' as unknown as number),
          /ERR decrement would overflow/,
        ],
        [
          'INCRBYFLOAT huge inf',
          () => r.incrbyfloat('huge', 'inf' as unknown as number),
          /ERR increment would produce NaN or Infinity/,
        ],
      ]
      for (const [what, call, error] of refused) await expect(call(), what).rejects.toThrow(error)
      expect(await r.mget('s', 'c', 'f', 'spaced', 'zeros', 'big', 'huge')).toEqual([
        'hello',
        '5',
        '1.5',
        ' 5',
        '007',
        '9223372036854775807',
        '1e308',
      ])
      expect(await r.exists('absent-min')).toBe(0)
      expect(await r.hgetall('h')).toEqual(['word', 'abc', 'n', '5'])
      expect(await r.zscore('z', 'a')).toBe('1')
      // Valid ones still count, from the untouched values.
      expect(await r.incrby('c', -7)).toBe(-2)
      expect(await r.hincrby('h', 'n', 2)).toBe(7)
      expect(Number(await r.incrbyfloat('f', 0.25))).toBe(1.75)
      expect(await r.decr('absent')).toBe(-1)
    })

    it("scan filters by TYPE, lists types with Upstash's WITHTYPE, refuses a bad cursor or COUNT", async () => {
      const r = client(true)
      await r.mset({ 'k:1': 'a', 'k:2': 'b' })
      await r.hset('k:h', { f: 'v' })
      await r.sadd('k:s', 'm')
      await r.zadd('k:z', { score: 1, member: 'm' })
      await r.rpush('k:l', 'x')
      await r.hset('other:h', { f: 'v' })
      const all = async (opts: Parameters<typeof r.scan>[1]) => {
        const found: unknown[] = []
        let cursor = '0'
        do {
          const [next, keys] = await r.scan(cursor, opts)
          found.push(...keys)
          cursor = String(next)
        } while (cursor !== '0')
        return found
      }
      expect(await all({ match: 'k:*', type: 'hash' })).toEqual(['k:h'])
      expect((await all({ match: 'k:*', type: 'string', count: 1 })).sort()).toEqual(['k:1', 'k:2'])
      expect((await all({ type: 'HASH' })).sort()).toEqual(['k:h', 'other:h'])
      expect(await all({ match: 'k:*', type: 'zset' })).toEqual(['k:z'])
      expect(await all({ match: 'nothing:*', type: 'list' })).toEqual([])
      const typed = (await all({ match: 'k:*', withType: true })) as { key: string; type: string }[]
      expect(typed.sort((a, b) => a.key.localeCompare(b.key))).toEqual([
        { key: 'k:1', type: 'string' },
        { key: 'k:2', type: 'string' },
        { key: 'k:h', type: 'hash' },
        { key: 'k:l', type: 'list' },
        { key: 'k:s', type: 'set' },
        { key: 'k:z', type: 'zset' },
      ])
      await expect(r.scan('abc' as unknown as number)).rejects.toThrow(/ERR invalid cursor/)
      await expect(r.scan('1.5' as unknown as number)).rejects.toThrow(/ERR invalid cursor/)
      await expect(r.scan(0, { count: 0 })).rejects.toThrow(/ERR syntax error/)
      // Over the wire: 400 in Upstash's envelope, never a 500.
      for (const [cmd, error] of [
        [['SCAN', 'abc'], 'ERR invalid cursor'],
        [['SCAN', ' 1'], 'ERR invalid cursor'],
        [['SCAN', '18446744073709551616'], 'ERR invalid cursor'],
        [['SCAN', '0', 'COUNT', 'x'], 'ERR value is not an integer or out of range'],
        [['SCAN', '0', 'TYPE'], 'ERR syntax error'],
        [['SCAN', '0', 'BOGUS', '1'], 'ERR syntax error'],
      ] as const) {
        const res = await fetch(url, {
          method: 'POST',
          headers: { authorization: `Bearer ${DEFAULT_UPSTASH_TOKEN}` },
          body: JSON.stringify(cmd),
        })
        expect([res.status, await res.json()], cmd.join(' ')).toEqual([400, { error }])
      }
      // As strtoul reads them: a sign, leading zeros, nothing at all (0); -1 is 2^64 - 1.
      for (const cursor of ['-1', '+0', '00', '']) {
        const res = await fetch(url, {
          method: 'POST',
          headers: { authorization: `Bearer ${DEFAULT_UPSTASH_TOKEN}` },
          body: JSON.stringify(['SCAN', cursor, 'MATCH', 'k:*', 'COUNT', '1000']),
        })
        const body = (await res.json()) as { result: [string, string[]] }
        expect(res.status, `SCAN "${cursor}"`).toBe(200)
        if (cursor !== '-1')
          expect(body.result[1].sort(), `SCAN "${cursor}"`).toEqual([
            'k:1',
            'k:2',
            'k:h',
            'k:l',
            'k:s',
            'k:z',
          ])
      }
    })

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
