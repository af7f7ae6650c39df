import { beforeEach, describe, expect, it } from 'vitest'
import { FAKES } from '../registry.ts'
import { scenarioSchemaFor } from '../runtime/scenario-schema.ts'
import { inProcess } from '../runtime/testing.ts'
import { embeddedArgs, RedisBackend } from './backend.ts'
import { createUpstashFake, type UpstashFake } from './index.ts'
import { DEFAULT_UPSTASH_TOKEN } from './settings.ts'

const ScenarioSchema = scenarioSchemaFor(FAKES)

import { seedCommands } from './state.ts'

// Upstash's REST protocol in process (app.request): the wire details @upstash/redis does not
// show (path-style commands, `_token`, statuses, raw base64 answers, error bodies).

const AUTH = { authorization: `Bearer ${DEFAULT_UPSTASH_TOKEN}` }

const scenario = ScenarioSchema.parse({
  name: 'upstash-unit',
  upstash: {
    keys: {
      plain: 'hello',
      'presence:room': { hash: { alice: 'online' }, ttlSeconds: 60 },
      tags: { set: ['a', 'b'] },
      board: { zset: { one: 1, two: 2 } },
      queue: { list: ['x', 'y'] },
    },
  },
})

let h: Awaited<ReturnType<typeof inProcess<UpstashFake>>>

async function call(path: string, init: RequestInit & { headers?: Record<string, string> } = {}) {
  const res = await h.fake.app.request(path, { ...init, headers: { ...AUTH, ...init.headers } })
  return { status: res.status, body: (await res.json()) as Record<string, unknown> }
}
const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
  call(path, { method: 'POST', body: typeof body === 'string' ? body : JSON.stringify(body), headers })

beforeEach(async () => {
  h = await inProcess((deps) => createUpstashFake(deps), scenario)
})

describe('commands', () => {
  it('runs a JSON command array posted to /', async () => {
    expect(await post('/', ['SET', 'k', 'v', 'EX', 100])).toEqual({ status: 200, body: { result: 'OK' } })
    expect(await post('/', ['GET', 'k'])).toEqual({ status: 200, body: { result: 'v' } })
    expect(await post('/', ['TTL', 'k'])).toEqual({ status: 200, body: { result: 100 } })
  })

  it('runs path-style commands, the POST body as the last argument and the query after it', async () => {
    expect(await call('/set/foo/bar')).toEqual({ status: 200, body: { result: 'OK' } })
    expect(await call('/get/foo')).toEqual({ status: 200, body: { result: 'bar' } })
    expect(await call('/set/doc?EX=100', { method: 'POST', body: '{"json":true}' })).toEqual({
      status: 200,
      body: { result: 'OK' },
    })
    expect(await call('/get/doc')).toEqual({ status: 200, body: { result: '{"json":true}' } })
    expect((await call('/ttl/doc')).body.result).toBe(100)
    expect(await call('/hget/presence:room/alice')).toEqual({ status: 200, body: { result: 'online' } })
    expect(await call('/get/a%2Fb%20c')).toEqual({ status: 200, body: { result: null } })
  })

  it('takes the token from ?_token= as well', async () => {
    const res = await h.fake.app.request(`/get/plain?_token=${DEFAULT_UPSTASH_TOKEN}`)
    expect(res.status).toBe(200)
    expect(await res.json()).toEqual({ result: 'hello' })
  })

  it('answers base64 when asked, except the OK status; numbers and nulls as they are', async () => {
    const b64 = { 'upstash-encoding': 'base64' }
    expect((await post('/', ['SET', 'bin', 'héllo'], b64)).body).toEqual({ result: 'OK' })
    expect((await post('/', ['GET', 'bin'], b64)).body).toEqual({
      result: Buffer.from('héllo').toString('base64'),
    })
    expect((await post('/', ['GET', 'none'], b64)).body).toEqual({ result: null })
    expect((await post('/', ['INCR', 'n'], b64)).body).toEqual({ result: 1 })
    expect((await post('/', ['SMEMBERS', 'tags'], b64)).body.result).toEqual(
      expect.arrayContaining([Buffer.from('a').toString('base64'), Buffer.from('b').toString('base64')]),
    )
  })

  it('answers pipelines and transactions as arrays of {result} / {error}', async () => {
    const p = await post('/pipeline', [
      ['SET', 'p', '1'],
      ['INCR', 'p'],
      ['HGET', 'p', 'f'],
      ['GET', 'p'],
    ])
    expect(p).toEqual({
      status: 200,
      body: [
        { result: 'OK' },
        { result: 2 },
        { error: 'WRONGTYPE Operation against a key holding the wrong kind of value' },
        { result: '2' },
      ],
    })
    const tx = await post('/multi-exec', [
      ['LPUSH', 'queue', 'w'],
      ['LRANGE', 'queue', '0', '-1'],
    ])
    expect(tx).toEqual({ status: 200, body: [{ result: 3 }, { result: ['w', 'x', 'y'] }] })
    // A command Redis would not queue aborts the whole transaction: nothing runs.
    const aborted = await post('/multi-exec', [
      ['SET', 'never', '1'],
      ['NOSUCH', 'x'],
    ])
    expect(aborted.status).toBe(400)
    expect(aborted.body.error).toMatch(/^ERR unknown command 'NOSUCH'/)
    expect((await post('/', ['EXISTS', 'never'])).body.result).toBe(0)
  })

  it('hgetall answers the flat array Upstash answers', async () => {
    expect((await post('/', ['HGETALL', 'presence:room'])).body.result).toEqual(['alice', 'online'])
  })
})

describe('errors in Upstash words', () => {
  it('401 for a missing or wrong token', async () => {
    const missing = await h.fake.app.request('/get/plain')
    expect(missing.status).toBe(401)
    expect(await missing.json()).toEqual({ error: 'WRONGPASS invalid or missing auth token' })
    const wrong = await call('/get/plain', { headers: { authorization: 'Bearer nope' } })
    expect(wrong).toEqual({ status: 401, body: { error: 'WRONGPASS invalid or missing auth token' } })
  })

  it('405 for methods other than HEAD, GET, POST, PUT', async () => {
    const res = await call('/get/plain', { method: 'DELETE' })
    expect(res.status).toBe(405)
    expect(res.body.error).toMatch(/^ERR method DELETE/)
  })

  it('400 for unknown commands, bad arity, wrong types and refused commands', async () => {
    expect(await post('/', ['NOSUCH', 'a', 'b'])).toEqual({
      status: 400,
      body: { error: "ERR unknown command 'NOSUCH', with args beginning with: 'a' 'b'" },
    })
    expect(await post('/', ['GET'])).toEqual({
      status: 400,
      body: { error: "ERR wrong number of arguments for 'get' command" },
    })
    expect(await post('/', ['GET', 'presence:room'])).toEqual({
      status: 400,
      body: { error: 'WRONGTYPE Operation against a key holding the wrong kind of value' },
    })
    expect(await post('/', ['SADD', 'plain', 'x'])).toEqual({
      status: 400,
      body: { error: 'WRONGTYPE Operation against a key holding the wrong kind of value' },
    })
    const incr = await post('/', ['INCR', 'plain'])
    expect(incr).toEqual({ status: 400, body: { error: 'ERR value is not an integer or out of range' } })
    for (const cmd of [
      ['EVAL', 'return 1', '0'],
      ['SELECT', '1'],
      ['CONFIG', 'GET', '*'],
      ['BLPOP', 'q', '0'],
    ]) {
      const r = await post('/', cmd)
      expect(r.status).toBe(400)
      expect(r.body.error).toMatch(/^ERR command '.+' is not available/)
    }
  })

  it('400 for malformed bodies, without leaking internals', async () => {
    for (const body of ['not json', '{"a":1}', '[]', '[["SET"]]', '[null]', '[{"x":1}]', '']) {
      const r = await post('/', body)
      expect(r.status, body).toBe(400)
      expect(Object.keys(r.body)).toEqual(['error'])
      expect(String(r.body.error)).toMatch(/^ERR /)
      expect(String(r.body.error)).not.toMatch(/at |\.ts|TypeError/)
    }
    const pipe = await post('/pipeline', [['SET', 'a', '1'], 'GET a'])
    expect(pipe.status).toBe(400)
    expect(pipe.body.error).toMatch(/^ERR command 1 must be a JSON array/)
  })

  it('refuses a request over the size limit, as Upstash does', async () => {
    const big = 'x'.repeat(1024 * 1024 + 1)
    const r = await post('/', ['SET', 'big', big])
    expect(r.status).toBe(400)
    expect(r.body.error).toMatch(/^ERR max request size exceeded/)
  })
})

describe('scenario seeding and reset', () => {
  it('seeds every key type with its expiry, and reset restores the first state', async () => {
    expect((await post('/', ['TTL', 'presence:room'])).body.result).toBe(60)
    expect((await post('/', ['ZRANGE', 'board', '0', '-1', 'WITHSCORES'])).body.result).toEqual([
      'one',
      '1',
      'two',
      '2',
    ])
    await post('/', ['SET', 'plain', 'changed'])
    await post('/', ['SET', 'extra', '1'])
    await h.use(scenario)
    expect((await post('/', ['GET', 'plain'])).body.result).toBe('hello')
    expect((await post('/', ['EXISTS', 'extra'])).body.result).toBe(0)
  })

  it('a scenario token replaces the default one', async () => {
    await h.use(ScenarioSchema.parse({ name: 'tok', upstash: { token: 'tenant-a-token-123' } }))
    expect((await call('/get/x')).status).toBe(401)
    const ok = await call('/get/x', { headers: { authorization: 'Bearer tenant-a-token-123' } })
    expect(ok.status).toBe(200)
  })

  it('seed commands are ordinary Redis commands', () => {
    expect(seedCommands('k', { zset: { a: 1.5 }, ttlSeconds: 5 })).toEqual([
      ['ZADD', 'k', '1.5', 'a'],
      ['EXPIRE', 'k', '5'],
    ])
  })

  it('upper-cases option keywords for the embedded Redis, never keys or values', () => {
    expect(embeddedArgs('set', ['px', 'px', 'px', '10'])).toEqual(['px', 'px', 'PX', '10'])
    expect(embeddedArgs('zadd', ['k', 'nx', 'ch', '1', 'ch'])).toEqual(['k', 'NX', 'CH', '1', 'ch'])
  })
})

describe("a deleted tenant's embedded world", () => {
  it('is emptied behind the commands queued before it, and refuses the ones after', async () => {
    const host = `dispose-${crypto.randomUUID()}`
    const gone = await RedisBackend.create({ prefix: 'p:', embeddedHost: host })
    await gone.command(['SET', 'k', 'v'])
    const queued = gone.command(['SET', 'queued', 'v'])
    await gone.dispose()
    expect(String(await queued)).toBe('OK')
    await expect(gone.command(['SET', 'late', 'v'])).rejects.toThrow(/^ERR this tenant was deleted/)
    await gone.close()
    // The next owner of the host (same prefix, the worst case) finds nothing left.
    const next = await RedisBackend.create({ prefix: 'p:', embeddedHost: host })
    expect(await next.command(['KEYS', '*'])).toEqual([])
    await next.close()
  })
})

describe('real Redis configuration', () => {
  it('an unreachable MOCKS_UPSTASH_REDIS_URL is reported by name, password hidden', async () => {
    await expect(
      inProcess((deps) => createUpstashFake(deps), 'default', {
        MOCKS_UPSTASH_REDIS_URL: 'redis://:s3cret@127.0.0.1:1',
      }),
    ).rejects.toThrow(/^MOCKS_UPSTASH_REDIS_URL: cannot connect to redis:\/\/:\*\*\*@127\.0\.0\.1:1/)
  })
})
