import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { FaultRegistry } from '../mocks/faults/registry.ts'
import { FaultSchema } from '../mocks/faults/schema.ts'
import { connectResult } from './helpers.ts'
import { hasRedisServer, type RedisServer } from './redis-server.ts'
import {
  chatClient,
  commonChannel,
  createTenant,
  eventually,
  type ReplicaProcess,
  type SeededUser,
  seededUsers,
  startPair,
  stopCluster,
} from './replicas-harness.ts'

// Issue 22: two replicas (separate processes, their own ports) share one world through a real
// Redis (Debian's redis-server, appendonly + appendfsync always, in a temp folder).

const run = hasRedisServer()
const V01T_PATH = '/trace/devarno-ecosystem/node/'

describe.runIf(run)('replicas through Redis', () => {
  let redis: RedisServer
  let dir: string
  let a: ReplicaProcess
  let b: ReplicaProcess
  let users: SeededUser[]
  let channel: string
  const prefix = `test-${process.pid}-${Date.now()}:`

  beforeAll(async () => {
    ;({ a, b, redis, dir } = await startPair('replicas-redis', { prefix }))
    users = (await seededUsers(a.url('auth'))).filter((u) => u.cookieValue)
    channel = await commonChannel(a.url('chat'), users)
  }, 120_000)

  afterAll(() => stopCluster([a, b], redis, dir))

  it('a message sent through one replica reaches a socket on the other within 2 s, and history on both', async () => {
    const [alice, bob] = [users[0]!, users[1] ?? users[0]!]
    const onA = await chatClient(a.url('chat'), alice.cookieValue!)
    const onB = await chatClient(b.url('chat'), bob.cookieValue!)
    try {
      onA.send({ type: 'join', channel })
      onB.send({ type: 'join', channel })
      await onA.next((f) => f.type === 'presence')
      await onB.next((f) => f.type === 'presence')
      const content = `hello across replicas ${Date.now()}`
      const sent = Date.now()
      onA.send({ type: 'message', channel, content })
      const got = await onB.next((f) => f.type === 'message' && f.content === content, 2000)
      expect(Date.now() - sent).toBeLessThan(2000)
      const own = await onA.next((f) => f.type === 'message' && f.content === content)
      // One id, one instant on both replicas.
      expect(got.id).toBe(own.id)
      expect(got.timestamp).toBe(own.timestamp)
      for (const r of [a, b]) {
        const res = await fetch(`${r.url('chat')}/api/v1/messages?channel=${channel}&limit=5`, {
          headers: { cookie: `${alice.cookieName}=${alice.cookieValue}` },
        })
        expect(res.status).toBe(200)
        const body = (await res.json()) as { id: string; content: string }[]
        expect(body.map((m) => m.id)).toContain(got.id)
      }
    } finally {
      onA.close()
      onB.close()
    }
  })

  it('typing through one replica reaches the other, and so does presence', async () => {
    const [alice, bob] = [users[0]!, users[1]!]
    const onB = await chatClient(b.url('chat'), bob.cookieValue!)
    onB.send({ type: 'join', channel })
    await onB.next((f) => f.type === 'presence' && f.user_id === bob.id)
    const onA = await chatClient(a.url('chat'), alice.cookieValue!)
    try {
      onA.send({ type: 'join', channel })
      await onB.next((f) => f.type === 'presence' && f.user_id === alice.id && f.online === true)
      onA.send({ type: 'typing', channel, typing: true })
      await onB.next((f) => f.type === 'typing' && f.user_id === alice.id && f.typing === true)
      const res = await fetch(`${b.url('chat')}/api/v1/presence?channel=${channel}`, {
        headers: { cookie: `${bob.cookieName}=${bob.cookieValue}` },
      })
      expect(JSON.stringify(await res.json())).toContain(alice.id)
    } finally {
      onA.close()
      onB.close()
    }
  })

  // A write is answered once every live replica has applied it: a test that installs a fault,
  // or switches a scenario, through one replica sees it in force on the other at once.
  it('a runtime fault added through one replica acts on the other as soon as the add is answered, and its removal too', async () => {
    for (let round = 0; round < 4; round++) {
      const [via, other] = round % 2 ? [b, a] : [a, b]
      const id = `rep-503-${round}`
      const add = await fetch(`${via.url('v01t')}/__mocks/faults`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ id, effect: { type: 'status', status: 503 } }),
      })
      expect(add.status).toBe(201)
      expect((await fetch(`${other.url('v01t')}${V01T_PATH}`)).status).toBe(503)
      const listed = (await (await fetch(`${other.url('v01t')}/__mocks/faults`)).json()) as {
        faults: { id: string }[]
      }
      expect(listed.faults.map((f) => f.id)).toContain(id)
      expect((await fetch(`${other.url('v01t')}/__mocks/faults/${id}`, { method: 'DELETE' })).status).toBe(
        204,
      )
      expect((await fetch(`${via.url('v01t')}${V01T_PATH}`)).status).toBe(200)
    }
  })

  it('a scenario switch through one replica is in force on the other as soon as it is answered', async () => {
    const put = await fetch(`${b.url('v01t')}/__mocks/scenario`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'v01t-500' }),
    })
    expect(put.status).toBe(200)
    try {
      const health = (await (await fetch(`${a.url('v01t')}/__mocks/health`)).json()) as { scenario: string }
      expect(health.scenario).toBe('v01t-500')
      expect((await fetch(`${a.url('v01t')}${V01T_PATH}`)).status).toBe(500)
    } finally {
      await fetch(`${a.url('v01t')}/__mocks/scenario`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'default' }),
      })
    }
  })

  it('a replica that heartbeats but never applies delays a write by the bound, never fails it; one that stops meanwhile no longer delays it', async () => {
    const client = new Redis(redis.url)
    const ghost = 'ghost~test'
    // Alive to the others, its position far behind: as a replica cut off from the log looks.
    const haunt = () =>
      client
        .multi()
        .set(`${prefix}alive:${ghost}`, '1', 'PX', 30_000)
        .hset(`${prefix}applied`, ghost, `0-1 ${Date.now()}`)
        .exec()
    const addFault = (id: string) =>
      fetch(`${a.url('v01t')}/__mocks/faults`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ id, effect: { type: 'status', status: 503 } }),
      })
    try {
      await haunt()
      let started = performance.now()
      const add = await addFault('ghost-503')
      const took = performance.now() - started
      expect(add.status).toBe(201)
      // The bound is CATCH_UP_MS (2 s): never answered before it, and not long after.
      expect(took).toBeGreaterThanOrEqual(1900)
      expect(took).toBeLessThan(15_000)
      expect((await fetch(`${b.url('v01t')}${V01T_PATH}`)).status).toBe(503)
      // The ghost stops while a write waits on it (a clean stop deletes its position): the
      // write is answered then, not at the bound.
      await haunt()
      started = performance.now()
      const pending = addFault('ghost-again')
      await new Promise((r) => setTimeout(r, 300))
      await client.hdel(`${prefix}applied`, ghost)
      const stoppedAt = performance.now() - started
      expect((await pending).status).toBe(201)
      expect(performance.now() - started - stoppedAt).toBeLessThan(1500)
    } finally {
      await client.del(`${prefix}alive:${ghost}`)
      await client.hdel(`${prefix}applied`, ghost)
      client.disconnect()
      for (const id of ['ghost-503', 'ghost-again'])
        await fetch(`${a.url('v01t')}/__mocks/faults/${id}`, { method: 'DELETE' })
    }
  })

  it('a session signed in on one replica is valid on the other, and signed out everywhere', async () => {
    const user = users[0]!
    const signIn = await fetch(`${a.url('auth')}/api/auth/sign-in/email`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin: a.url('auth') },
      body: JSON.stringify({ email: user.email, password: user.password }),
    })
    expect(signIn.status).toBe(200)
    const cookie = signIn.headers
      .getSetCookie()
      .map((c) => c.split(';')[0])
      .join('; ')
    const here = await fetch(`${a.url('auth')}/api/auth/get-session`, { headers: { cookie } })
    expect(here.status, `${cookie} ${await here.text()} ${a.output().slice(-3000)}`).toBe(200)
    const onB = await fetch(`${b.url('auth')}/api/auth/get-session`, { headers: { cookie } })
    expect(onB.status).toBe(200)
    expect(((await onB.json()) as { user: { email: string } }).user.email).toBe(user.email)
    const out = await fetch(`${b.url('auth')}/api/auth/sign-out`, {
      method: 'POST',
      headers: { cookie, 'content-type': 'application/json', origin: b.url('auth') },
      body: '{}',
    })
    expect(out.status).toBe(200)
    const onA = await fetch(`${a.url('auth')}/api/auth/get-session`, { headers: { cookie } })
    expect(onA.status).toBe(401)
  })

  it('two sign-ups with one email sent at once to both replicas: the first in the log wins, the other is refused as by one better-auth', async () => {
    const signUp = (r: ReplicaProcess, email: string, password: string) =>
      fetch(`${r.url('auth')}/api/auth/sign-up/email`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', origin: r.url('auth') },
        body: JSON.stringify({ name: password, email, password }),
      })
    const signIn = (r: ReplicaProcess, email: string, password: string) =>
      fetch(`${r.url('auth')}/api/auth/sign-in/email`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', origin: r.url('auth') },
        body: JSON.stringify({ email, password }),
      })
    // Several rounds: each one's two requests race (both pass the local check before either is applied).
    for (let round = 0; round < 4; round++) {
      const email = `race-${Date.now()}-${round}@example.test`
      const [ra, rb] = await Promise.all([signUp(a, email, 'password-a'), signUp(b, email, 'password-b')])
      const statuses = [ra.status, rb.status].sort()
      expect(statuses).toEqual([200, 422])
      const [won, lost] = ra.status === 200 ? ['password-a', 'password-b'] : ['password-b', 'password-a']
      const refused = ra.status === 422 ? ra : rb
      // A duplicate on one replica alone is one better-auth's refusal: the same status and body.
      const single = await signUp(a, email, 'password-c')
      expect(single.status).toBe(422)
      expect(await refused.json()).toEqual(await single.json())
      // One user on both replicas, the winner's, as soon as its sign-up is answered.
      for (const r of [a, b]) {
        const res = await signIn(r, email, won)
        expect(res.status).toBe(200)
        expect(((await res.json()) as { user: { name: string } }).user.name).toBe(won)
        expect((await signIn(r, email, lost)).status).toBe(401)
      }
    }
  })

  it('verdicts judge the merged journal: a 404 on one replica retried on the other is a retry', async () => {
    expect((await fetch(`${a.url('v01t')}/__mocks/journal`, { method: 'DELETE' })).status).toBe(204)
    const missing = '/trace/devarno-ecosystem/no-such-node-for-verdicts/'
    expect((await fetch(`${a.url('v01t')}${missing}`)).status).toBe(404)
    // The client behind a balancer retries: this time on the other replica.
    expect((await fetch(`${b.url('v01t')}${missing}`)).status).toBe(404)
    for (const r of [a, b]) {
      await eventually(`v01t-404-no-retry fails on ${r.name}`, async () => {
        const res = await fetch(`${r.url('v01t')}/__mocks/verdicts`)
        const { verdicts } = (await res.json()) as { verdicts: { rule: string; status: string }[] }
        return verdicts.find((v) => v.rule === 'v01t-404-no-retry')?.status === 'fail'
      })
    }
  })

  it('a tenant created on one replica is usable on the other, and deleted everywhere once the DELETE is answered', async () => {
    const made = await createTenant(a.url('v01t'), 'v01t-404')
    expect(made.status).toBe(201)
    const { id } = (await made.json()) as { id: string }
    // At once on the other replica: one not yet caught up with the log catches up before it
    // calls a tenant unknown.
    const onB = await fetch(`${b.url('v01t')}${V01T_PATH}`, { headers: { 'x-mocks-tenant': id } })
    expect(onB.status).toBe(404) // the tenant's own scenario, not the default world's (200)
    expect(JSON.stringify(await onB.json())).not.toMatch(/Unknown tenant/)
    expect((await fetch(`${b.url('v01t')}/__mocks/tenants/${id}`, { method: 'DELETE' })).status).toBe(204)
    // Deleted everywhere once the DELETE is answered.
    const gone = await fetch(`${a.url('v01t')}${V01T_PATH}`, { headers: { 'x-mocks-tenant': id } })
    expect(gone.status).toBe(404)
    expect(JSON.stringify(await gone.json())).toMatch(/Unknown tenant/)
  })

  it('a tenant is usable through the other replica at once, even one that had not applied its creation', async () => {
    // b is frozen (SIGSTOP) while a creates the tenant and a request naming it is sent to b
    // (a's answer waits for every live replica, b for the bound only: b looks cut off); let go,
    // b reads the log's news and the request at once, often the request first. It must catch
    // up with the log before it calls the tenant unknown (without that, rounds get 404).
    const failures: string[] = []
    const made: string[] = []
    try {
      for (let round = 0; round < 5; round++) {
        b.signal('SIGSTOP')
        let there: Promise<Response>
        try {
          const res = await createTenant(a.url('v01t'), 'default')
          expect(res.status).toBe(201)
          const { id } = (await res.json()) as { id: string }
          made.push(id)
          there = fetch(`${b.url('v01t')}${V01T_PATH}`, { headers: { 'x-mocks-tenant': id } })
          await new Promise((r) => setTimeout(r, 100))
        } finally {
          b.signal('SIGCONT')
        }
        const res = await there
        if (res.status !== 200) failures.push(`round ${round}: ${res.status} ${await res.text()}`)
      }
    } finally {
      for (const id of made) await fetch(`${a.url('v01t')}/__mocks/tenants/${id}`, { method: 'DELETE' })
    }
    expect(failures).toEqual([])
  })

  it('`times: N` fires N times across the cluster, not N per replica', async () => {
    const add = await fetch(`${a.url('v01t')}/__mocks/faults`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ id: 'rep-times', effect: { type: 'status', status: 502 }, times: 3 }),
    })
    expect(add.status).toBe(201)
    await eventually('the fault listed on b', async () => {
      const { faults } = (await (await fetch(`${b.url('v01t')}/__mocks/faults`)).json()) as {
        faults: { id: string }[]
      }
      return faults.some((f) => f.id === 'rep-times') ? true : undefined
    })
    const statuses: number[] = []
    for (let i = 0; i < 10; i++)
      statuses.push((await fetch(`${(i % 2 ? b : a).url('v01t')}${V01T_PATH}`)).status)
    expect(statuses.filter((s) => s === 502)).toHaveLength(3)
    expect(statuses.slice(3).every((s) => s === 200)).toBe(true)
    await fetch(`${a.url('v01t')}/__mocks/faults/rep-times`, { method: 'DELETE' })
  })

  it('seeded probability: the n-th match anywhere in the cluster gets the n-th outcome of one process', async () => {
    const spec = {
      id: 'rep-coin',
      service: 'v01t',
      effect: { type: 'status', status: 503 },
      probability: 0.5,
    }
    const { seed } = (await (await fetch(`${a.url('v01t')}/__mocks/scenario`)).json()) as { seed: number }
    // One process's sequence: the registry's own draws, as a single replica makes them.
    const single = new FaultRegistry()
    single.install([], seed, 'default')
    single.add(FaultSchema.parse(spec))
    const target = { kind: 'http', method: 'GET', path: V01T_PATH, headers: { get: () => null } } as const
    const expected = Array.from({ length: 16 }, () => single.fire('v01t', target, 'http').length === 1)
    expect(expected).toContain(true)
    expect(expected).toContain(false)
    expect((await post(a.url('v01t'), '/__mocks/faults', spec)).status).toBe(201)
    await eventually('the fault on b', async () =>
      (await faultIds(b)).includes('rep-coin') ? true : undefined,
    )
    const seen: boolean[] = []
    // Alternating replicas, one request at a time: cluster-wide match order is request order.
    for (let i = 0; i < 16; i++)
      seen.push((await fetch(`${(i % 3 ? b : a).url('v01t')}${V01T_PATH}`)).status === 503)
    expect(seen).toEqual(expected)
    await fetch(`${a.url('v01t')}/__mocks/faults/rep-coin`, { method: 'DELETE' })
  })

  it('a `replica:` down takes one replica down while the other serves; the journal is merged on both', async () => {
    await fetch(`${a.url('v01t')}/__mocks/journal`, { method: 'DELETE' })
    const spec = { id: 'b-down', effect: { type: 'down' }, replica: 'b' }
    expect((await post(a.url('v01t'), '/__mocks/faults', spec)).status).toBe(201)
    try {
      await eventually('b refuses connections', async () =>
        (await connectResult(b.url('v01t'))) === 'ECONNREFUSED' ? true : undefined,
      )
      expect((await fetch(`${a.url('v01t')}${V01T_PATH}`)).status).toBe(200)
    } finally {
      await fetch(`${a.url('v01t')}/__mocks/faults/b-down`, { method: 'DELETE' })
    }
    await eventually('b serves again', async () =>
      (await fetch(`${b.url('v01t')}${V01T_PATH}`)).status === 200 ? true : undefined,
    )
    // Both replicas' requests, stamped, in the journal read through either replica.
    for (const r of [a, b]) {
      const replicas = await eventually(`the merged journal on ${r.name}`, async () => {
        const { entries } = (await (await fetch(`${r.url('v01t')}/__mocks/journal`)).json()) as {
          entries: { replica?: string; path: string }[]
        }
        const names = new Set(entries.filter((e) => e.path === V01T_PATH).map((e) => e.replica))
        return names.has('a') && names.has('b') ? names : undefined
      })
      expect([...replicas].sort()).toEqual(['a', 'b'])
    }
  })
})

async function post(base: string, path: string, body: unknown): Promise<Response> {
  return fetch(`${base}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  })
}

async function faultIds(r: ReplicaProcess): Promise<string[]> {
  const { faults } = (await (await fetch(`${r.url('v01t')}/__mocks/faults`)).json()) as {
    faults: { id: string }[]
  }
  return faults.map((f) => f.id)
}
