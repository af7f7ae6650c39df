import * as fc from 'fast-check'
import { base64url } from 'jose'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import type { FakeService } from '../../mocks/fake/descriptor.ts'
import { DEFAULT_UPSTASH_TOKEN } from '../../mocks/upstash/settings.ts'
import { startTestMocks, type TestMocks } from '../helpers.ts'
import { hasRedisServer, type RedisServer, startRedisServer } from '../redis-server.ts'
import { checkAnswer, envInt, FC_SEED, http } from './support.ts'

// The Upstash REST fake and the chat's ephemeral-token check under hostile input: malformed
// command arrays, wrong types, huge values, bad and missing tokens, tampered JWTs. Every answer
// is the service's own error shape ({error} for Upstash, {error, code} for chat), never a 5xx,
// never a stack or a path. Where redis-server is installed, the embedded Redis is compared
// with a real one command by command (same status, same answer).

const RUNS = envInt('RELIABILITY_UPSTASH_RUNS', 60)
vi.setConfig({ testTimeout: 60_000 + RUNS * 300 })
const params = { numRuns: RUNS, seed: FC_SEED }
const AUTH = { authorization: `Bearer ${DEFAULT_UPSTASH_TOKEN}` }

let t: TestMocks
let real: TestMocks | undefined
let redis: RedisServer | undefined
const withRedis = hasRedisServer()

beforeAll(async () => {
  t = await startTestMocks({ services: ['auth', 'chat', 'upstash'] })
  if (withRedis) {
    redis = await startRedisServer()
    real = await startTestMocks({
      services: ['upstash'],
      env: { MOCKS_UPSTASH_REDIS_URL: redis.url, MOCKS_UPSTASH_PREFIX: 'reliability:' },
    })
  }
})
afterAll(async () => {
  await t?.close()
  await real?.close()
  redis?.stop()
})

const upstash = () => t.url('upstash')
const post = (base: string, path: string, body: string | Buffer, headers: Record<string, string> = AUTH) =>
  http(base, { method: 'POST', path, body, headers: { 'content-type': 'application/json', ...headers } })

const COMMANDS = [
  'SET',
  'GET',
  'HSET',
  'HGET',
  'HGETALL',
  'SADD',
  'SMEMBERS',
  'ZADD',
  'ZRANGE',
  'ZSCORE',
  'LPUSH',
  'LRANGE',
  'INCR',
  'INCRBY',
  'DEL',
  'EXPIRE',
  'TTL',
  'KEYS',
  'SCAN',
  'MGET',
  'APPEND',
  'STRLEN',
  'EXISTS',
]
const commandName = fc.oneof(
  fc.constantFrom(...COMMANDS),
  fc.constantFrom(...COMMANDS.map((c) => c.toLowerCase())),
  fc.string({ maxLength: 12 }),
)
const arg = fc.oneof(
  fc.constantFrom('k', 's', 'h', 'z', 'l', 'f', '0', '-1', '1', 'EX', 'px', 'NX', 'WITHSCORES', 'MATCH', '*'),
  fc.string({ maxLength: 20 }),
  fc.integer(),
)
const commandArray = fc.tuple(commandName, fc.array(arg, { maxLength: 6 })).map(([n, a]) => [n, ...a])

describe('Upstash REST: hostile bodies and commands', () => {
  it('any JSON (or not) posted to /, /pipeline and /multi-exec: 200 or 400 {error}, nothing leaked', async () => {
    const body = fc.oneof(
      fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v)),
      commandArray.map((c) => JSON.stringify(c)),
      fc.array(commandArray, { maxLength: 5 }).map((c) => JSON.stringify(c)),
      fc.string({ maxLength: 200 }),
    )
    await fc.assert(
      fc.asyncProperty(fc.constantFrom('/', '/pipeline', '/multi-exec'), body, async (path, text) => {
        const a = await post(upstash(), path, text)
        const problems = checkAnswer('upstash', a, { allowed: [200, 400] })
        expect(problems, `${path} ${text.slice(0, 200)}`).toEqual([])
      }),
      params,
    )
  })

  it('path-style commands with any segments, encodings and query: 200 or 400 {error}', async () => {
    const segment = fc.oneof(
      fc.constantFrom('get', 'set', 'hget', 'zadd', 'keys', 'del'),
      fc.string({ maxLength: 10 }).map(encodeURIComponent),
      fc.constantFrom('%', '%zz', '%00', '..', '%2F'),
    )
    await fc.assert(
      fc.asyncProperty(
        fc.array(segment, { minLength: 1, maxLength: 5 }),
        fc.constantFrom('', '?EX=10', '?NX', '?_token=x&EX=5', '?EX'),
        async (segments, query) => {
          const a = await http(upstash(), { path: `/${segments.join('/')}${query}`, headers: AUTH })
          expect(checkAnswer('upstash', a, { allowed: [200, 400] })).toEqual([])
        },
      ),
      params,
    )
  })

  it('bad and missing tokens: 401 WRONGPASS whatever the command, and nothing runs', async () => {
    const token = fc.oneof(
      fc.string({ maxLength: 60 }),
      fc.constantFrom(
        '',
        ' ',
        `${DEFAULT_UPSTASH_TOKEN} `,
        DEFAULT_UPSTASH_TOKEN.toUpperCase(),
        `${DEFAULT_UPSTASH_TOKEN}x`,
      ),
    )
    const how = fc.constantFrom('bearer', 'query', 'basic', 'none')
    await fc.assert(
      fc.asyncProperty(token, how, async (tok, where) => {
        fc.pre(tok.trim() !== DEFAULT_UPSTASH_TOKEN)
        const headers: Record<string, string> = {}
        let path = '/set/victim/1'
        if (where === 'bearer' && /^[\x20-\x7e]*$/.test(tok)) headers.authorization = `Bearer ${tok}`
        if (where === 'basic')
          headers.authorization = `Basic ${Buffer.from(`default:${DEFAULT_UPSTASH_TOKEN}`).toString('base64')}`
        if (where === 'query') path += `?_token=${encodeURIComponent(tok)}`
        const a = await http(upstash(), { path, headers })
        expect(a.status).toBe(401)
        expect(JSON.parse(a.text)).toEqual({ error: 'WRONGPASS invalid or missing auth token' })
      }),
      params,
    )
    const check = await post(upstash(), '/', '["EXISTS","victim"]')
    expect(JSON.parse(check.text)).toEqual({ result: 0 })
  })

  it('huge values: up to the limit stored whole, beyond it 400 max request size (declared or chunked)', async () => {
    const limit = (t.mocks.scenario as unknown as { upstash: { maxRequestBytes: number } }).upstash
      .maxRequestBytes
    const overhead = JSON.stringify(['SET', 'big', '']).length
    const fits = 'v'.repeat(limit - overhead)
    const ok = await post(upstash(), '/', JSON.stringify(['SET', 'big', fits]))
    expect(ok.status).toBe(200)
    const len = await post(upstash(), '/', '["STRLEN","big"]')
    expect(JSON.parse(len.text)).toEqual({ result: fits.length })
    for (const size of [limit + 1, 5 * limit]) {
      const a = await post(upstash(), '/', JSON.stringify(['SET', 'big2', 'v'.repeat(size)]))
      expect(a.status).toBe(400)
      expect(JSON.parse(a.text).error).toMatch(/^ERR max request size exceeded/)
    }
    const chunked = await http(upstash(), {
      method: 'POST',
      path: '/set/big3',
      headers: { ...AUTH, 'transfer-encoding': 'chunked' },
      body: 'x'.repeat(limit + 10),
    })
    expect(chunked.status).toBe(400)
    const none = await post(upstash(), '/', '["EXISTS","big2","big3"]')
    expect(JSON.parse(none.text)).toEqual({ result: 0 })
  })
})

describe('Upstash tenants: any sequence of writes, flushes, resets, creations and deletions', () => {
  // Slot 0 is the default tenant; slots 1-3 hold tenants made and deleted along the way. A model
  // (each slot's keys) says what every live tenant must hold after each step: nothing one tenant
  // does may add to, or take from, another tenant's keys.
  type Op =
    | { op: 'set'; slot: number; key: string; value: string }
    | { op: 'flushdb' | 'flushall' | 'reset' | 'create' | 'delete'; slot: number }
  const opArb: fc.Arbitrary<Op> = fc.oneof(
    {
      weight: 4,
      arbitrary: fc.record({
        op: fc.constant('set' as const),
        slot: fc.nat({ max: 3 }),
        key: fc.constantFrom('a', 'b', 'c'),
        value: fc.string({ maxLength: 8 }),
      }),
    },
    fc.record({
      op: fc.constantFrom('flushdb' as const, 'flushall' as const, 'reset' as const),
      slot: fc.nat({ max: 3 }),
    }),
    {
      weight: 2,
      arbitrary: fc.record({
        op: fc.constantFrom('create' as const, 'delete' as const),
        slot: fc.integer({ min: 1, max: 3 }),
      }),
    },
  )
  const control = (m: TestMocks, path: string, init: { method: string; tenant?: string; body?: string }) =>
    http(m.controlUrl, {
      method: init.method,
      path: `/__mocks${path}`,
      headers: {
        ...(init.tenant ? { 'x-mocks-tenant': init.tenant } : {}),
        ...(init.body ? { 'content-type': 'application/json' } : {}),
      },
      ...(init.body ? { body: init.body } : {}),
    })

  const property = (which: () => TestMocks) => async () => {
    const m = which()
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 12 }), async (ops) => {
        const ids: (string | undefined)[] = ['', undefined, undefined, undefined]
        const model: (Map<string, string> | undefined)[] = [new Map(), undefined, undefined, undefined]
        const auth = (slot: number) => ({
          authorization: `Bearer ${DEFAULT_UPSTASH_TOKEN}${slot === 0 ? '' : `@${ids[slot]}`}`,
        })
        const redis = async (slot: number, cmd: string[]) => {
          const a = await post(m.url('upstash'), '/', JSON.stringify(cmd), auth(slot))
          expect(a.status, `${cmd.join(' ')} in slot ${slot}: ${a.text}`).toBe(200)
          return (JSON.parse(a.text) as { result: unknown }).result
        }
        expect((await control(m, '/reset', { method: 'POST' })).status).toBe(200)
        try {
          for (const step of ops) {
            const live = model[step.slot]
            if (step.op === 'create') {
              if (live) continue
              const made = await control(m, '/tenants', {
                method: 'POST',
                body: JSON.stringify({ name: 'default' }),
              })
              expect(made.status, made.text).toBe(201)
              ids[step.slot] = (JSON.parse(made.text) as { id: string }).id
              model[step.slot] = new Map()
            } else if (!live) {
              continue
            } else if (step.op === 'delete') {
              expect((await control(m, `/tenants/${ids[step.slot]}`, { method: 'DELETE' })).status).toBe(204)
              model[step.slot] = undefined
            } else if (step.op === 'set') {
              await redis(step.slot, ['SET', step.key, step.value])
              live.set(step.key, step.value)
            } else if (step.op === 'reset') {
              const tenant = ids[step.slot]
              expect(
                (await control(m, '/reset', { method: 'POST', ...(tenant ? { tenant } : {}) })).status,
              ).toBe(200)
              live.clear()
            } else {
              expect(await redis(step.slot, [step.op.toUpperCase()])).toBe('OK')
              live.clear()
            }
            for (const [slot, keys] of model.entries()) {
              if (!keys) continue
              const want = [...keys.keys()].sort()
              expect(await redis(slot, ['KEYS', '*']), `slot ${slot} after ${JSON.stringify(step)}`).toEqual(
                want,
              )
              if (want.length)
                expect(await redis(slot, ['MGET', ...want])).toEqual(want.map((k) => keys.get(k)))
            }
          }
        } finally {
          for (const [slot, id] of ids.entries())
            if (slot > 0 && model[slot]) await control(m, `/tenants/${id}`, { method: 'DELETE' })
        }
      }),
      params,
    )
  }
  it(
    'every live tenant holds exactly its own keys after every step (embedded Redis)',
    property(() => t),
  )
  it.skipIf(!withRedis)(
    'every live tenant holds exactly its own keys after every step (real redis-server)',
    property(() => real!),
  )
})

describe.skipIf(!withRedis)('embedded Redis against a real redis-server (differential)', () => {
  const seed = [
    ['SET', 's', 'text'],
    ['SET', 'n', '41'],
    ['HSET', 'h', 'f', 'v'],
    ['SADD', 'set', 'a', 'b'],
    ['ZADD', 'z', '1', 'a', '2.5', 'b'],
    ['RPUSH', 'l', 'x', 'y'],
  ]
  const probes = [
    ['GET'],
    ['HGET', 'f'],
    ['HGETALL'],
    ['SADD', 'm'],
    ['SMEMBERS'],
    ['SISMEMBER', 'a'],
    ['ZADD', '3', 'c'],
    ['ZRANGE', '0', '-1'],
    ['ZRANGE', '0', '-1', 'withscores'],
    ['ZSCORE', 'b'],
    ['LPUSH', 'v'],
    ['LRANGE', '0', '-1'],
    ['INCR'],
    ['INCRBY', '2'],
    ['APPEND', 'x'],
    ['STRLEN'],
    ['HSET', 'g', 'w'],
    ['TYPE'],
    ['EXISTS'],
    ['LLEN'],
    ['SCARD'],
    ['ZCARD'],
    ['HLEN'],
    ['DEL'],
  ]
  const keys = ['s', 'n', 'h', 'set', 'z', 'l', 'missing']

  it('every type-sensitive command on every key type answers as Redis answers (status and body)', async () => {
    const both = [t, real!]
    const differences: string[] = []
    for (const key of keys) {
      for (const probe of probes) {
        const answers: { status: number; text: string }[] = []
        for (const m of both) {
          await m.mocks.reset()
          for (const cmd of seed) await post(m.url('upstash'), '/', JSON.stringify(cmd))
          const [name, ...rest] = probe
          const a = await post(m.url('upstash'), '/', JSON.stringify([name, key, ...rest]))
          answers.push({ status: a.status, text: sortSets(name!, a.text) })
        }
        const [embedded, redisAnswer] = answers
        if (embedded!.status !== redisAnswer!.status || embedded!.text !== redisAnswer!.text) {
          differences.push(
            `${probe[0]} ${key}: embedded ${embedded!.status} ${embedded!.text} / redis ${redisAnswer!.status} ${redisAnswer!.text}`,
          )
        }
      }
    }
    expect(differences).toEqual([])
  })

  it('valid commands with their options answer as Redis answers, in sequence', async () => {
    const script: string[][] = [
      ['SET', 'a', '1', 'EX', '100', 'NX'],
      ['SET', 'a', '2', 'nx'],
      ['SET', 'a', '3', 'xx', 'get'],
      ['GETEX', 'a', 'px', '50000'],
      ['TTL', 'a'],
      ['SET', 'b', 'v', 'KEEPTTL'],
      ['INCRBYFLOAT', 'f', '1.5'],
      ['INCRBYFLOAT', 'a', 'x'],
      ['MSET', 'm1', 'x', 'm2', 'y'],
      ['MGET', 'm1', 'nope', 'm2'],
      ['ZADD', 'z', 'nx', 'ch', '1', 'one', '2', 'two', '3', 'three'],
      ['ZADD', 'z', 'xx', 'incr', '5', 'one'],
      ['ZADD', 'z', 'nx', 'incr', '1', 'one'],
      ['ZADD', 'z', 'incr', '2', 'fresh'],
      ['ZADD', 'z', 'gt', 'INCR', '-1', 'two'],
      ['ZADD', 'z', 'lt', 'incr', '-1', 'fresh'],
      ['ZRANGE', 'z', '0', '-1', 'withscores'],
      ['ZRANGE', 'z', '2', '10', 'byscore', 'limit', '0', '2'],
      ['ZRANGEBYSCORE', 'z', '-inf', '+inf', 'WITHSCORES'],
      ['ZREVRANGE', 'z', '0', '1'],
      ['ZINCRBY', 'z', '0.5', 'two'],
      ['ZRANK', 'z', 'three'],
      ['ZPOPMIN', 'z'],
      ['ZCARD', 'z'],
      ['HSET', 'h', 'a', '1', 'b', '2'],
      ['HINCRBY', 'h', 'a', '5'],
      ['HINCRBYFLOAT', 'h', 'b', '0.25'],
      ['HMGET', 'h', 'a', 'b', 'c'],
      ['HGETALL', 'h'],
      ['HEXISTS', 'h', 'c'],
      ['RPUSH', 'l', 'a', 'b', 'c', 'b'],
      ['LPOS', 'l', 'b', 'rank', '2'],
      ['LRANGE', 'l', '1', '-1'],
      ['LPOP', 'l', '2'],
      ['LLEN', 'l'],
      ['SADD', 's', 'x', 'y'],
      ['SISMEMBER', 's', 'y'],
      ['SCARD', 's'],
      ['EXPIRE', 's', '100'],
      ['PERSIST', 's'],
      ['TTL', 's'],
      ['TYPE', 'z'],
      ['EXISTS', 'a', 'b', 'nope'],
      ['DEL', 'a', 'nope'],
      ['PING'],
      ['ECHO', 'hi'],
    ]
    const answers: string[][] = []
    for (const m of [t, real!]) {
      await m.mocks.reset()
      const out: string[] = []
      for (const cmd of script) {
        const a = await post(m.url('upstash'), '/', JSON.stringify(cmd))
        out.push(`${cmd.join(' ')} -> ${a.status} ${a.text}`)
      }
      answers.push(out)
    }
    expect(answers[0]).toEqual(answers[1])
  })
})

/** SMEMBERS order is unspecified in Redis: compare its members sorted. */
function sortSets(name: string, text: string): string {
  if (name !== 'SMEMBERS') return text
  const body = JSON.parse(text) as { result?: unknown }
  return Array.isArray(body.result) ? JSON.stringify({ result: [...body.result].sort() }) : text
}

describe('chat: tampered ephemeral tokens', () => {
  it('any change to a valid token is refused with 401 {error, code}; the token itself is accepted', async () => {
    await t.mocks.switchScenario({ name: 'chat-ws-ephemeral' })
    const res = await fetch(`${t.url('auth')}/api/auth/ws-token`, {
      method: 'POST',
      headers: { cookie: t.cookieFor('member'), origin: 'http://localhost:3000' },
    })
    const { token } = (await res.json()) as { token: string }
    const chat = (t.mocks.services.get('chat')!.fake as FakeService).app
    const handshake = (tok: string) =>
      chat.request(`/ws?token=${encodeURIComponent(tok)}`, {
        headers: { upgrade: 'websocket', connection: 'upgrade' },
      })
    const [h, p, s] = token.split('.') as [string, string, string]
    const claims = JSON.parse(new TextDecoder().decode(base64url.decode(p)))
    const mutation = fc.oneof(
      // flip one character anywhere
      fc
        .nat({ max: token.length - 1 })
        .chain((i) =>
          fc
            .constantFrom('A', 'b', '-', '_', '.', '0')
            .map((ch) => token.slice(0, i) + ch + token.slice(i + 1)),
        ),
      // re-signed claims with another secret, or claims edited under the old signature
      fc
        .record({
          sub: fc.string({ minLength: 1, maxLength: 20 }),
          exp: fc.integer({ min: 0, max: 2 ** 31 }),
        })
        .map((edit) => `${h}.${base64url.encode(JSON.stringify({ ...claims, ...edit }))}.${s}`),
      // another header (alg none, HS512) over the same payload and signature
      fc
        .constantFrom('{"alg":"none"}', '{"alg":"HS512","typ":"JWT"}', '{"alg":"RS256"}')
        .map((hd) => `${base64url.encode(hd)}.${p}.${s}`),
      fc.constantFrom(`${h}.${p}.`, `${h}.${p}`, `${p}.${h}.${s}`, `${token}.`, `${token}x`),
    )
    await fc.assert(
      fc.asyncProperty(mutation, async (forged) => {
        fc.pre(forged !== token)
        const a = await handshake(forged)
        const text = await a.text()
        expect(a.status, forged).toBe(401)
        expect(
          checkAnswer(
            'chat',
            { status: a.status, headers: {}, body: Buffer.from(text), text },
            { allowed: [401] },
          ),
        ).toEqual([])
      }),
      params,
    )
    // The untouched token still passes the check (the handshake then wants a real socket).
    expect((await handshake(token)).status).not.toBe(401)
    await t.mocks.switchScenario({ name: 'default' })
  })
})
