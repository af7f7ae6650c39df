import { mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { compareIds } from '../mocks/replica/index.ts'
import { hasRedisServer, type RedisServer, startRedisServer } from './redis-server.ts'
import {
  type ChatClient,
  chatClient,
  commonChannel,
  eventually,
  type ReplicaProcess,
  type SeededUser,
  seededUsers,
  startReplica,
  stopCluster,
} from './replicas-harness.ts'

// Issue 22: a replica joining late or restarted catches up from the log; Redis crashing
// (SIGKILL) and restarting mid-run loses no message whose send was answered (appendonly yes,
// appendfsync always: the entry was on disk before the XADD was answered).

const run = hasRedisServer()
const V01T_PATH = '/trace/devarno-ecosystem/node/'

describe.runIf(run)('replicas: late join, restart, Redis restart', () => {
  let redis: RedisServer
  let dir: string
  let a: ReplicaProcess
  let late: ReplicaProcess | undefined
  let users: SeededUser[]
  let channel: string
  const prefix = `recovery-${process.pid}-${Date.now()}:`

  const history = async (r: ReplicaProcess) => {
    const u = users[0]!
    const res = await fetch(`${r.url('chat')}/api/v1/messages?channel=${channel}&limit=100`, {
      headers: { cookie: `${u.cookieName}=${u.cookieValue}` },
    })
    return (await res.json()) as { id: string; content: string }[]
  }
  /** Sends through a socket; answered = its own broadcast came back (stored and fanned out). */
  const send = async (client: ChatClient, content: string, ms = 2000) => {
    client.send({ type: 'message', channel, content })
    return client.next((f) => f.type === 'message' && f.content === content, ms)
  }

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'replicas-recovery-'))
    redis = await startRedisServer({ persistDir: dir })
    a = await startReplica({ name: 'a', redisUrl: redis.url, prefix })
    users = (await seededUsers(a.url('auth'))).filter((u) => u.cookieValue)
    channel = await commonChannel(a.url('chat'), users)
  }, 120_000)

  afterAll(() => stopCluster([a, late], redis, dir))

  it('a replica started late has the world as it is; killed and restarted, it catches up', async () => {
    const onA = await chatClient(a.url('chat'), users[0]!.cookieValue!)
    try {
      onA.send({ type: 'join', channel })
      const first = await send(onA, `before the late replica ${Date.now()}`)
      const fault = await fetch(`${a.url('v01t')}/__mocks/faults`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          id: 'late-503',
          effect: { type: 'status', status: 503 },
          match: { method: 'PUT' },
        }),
      })
      expect(fault.status).toBe(201)
      late = await startReplica({ name: 'late', redisUrl: redis.url, prefix })
      // From its first request: the message in history (same id), the fault installed.
      expect((await history(late)).map((m) => m.id)).toContain(first.id)
      const { faults } = (await (await fetch(`${late.url('v01t')}/__mocks/faults`)).json()) as {
        faults: { id: string }[]
      }
      expect(faults.map((f) => f.id)).toContain('late-503')

      const ports = late.ports
      await late.stop('SIGKILL')
      const whileDown = await send(onA, `while the late replica is down ${Date.now()}`)
      late = await startReplica({ name: 'late', redisUrl: redis.url, prefix, ports })
      const ids = (await history(late)).map((m) => m.id)
      expect(ids).toContain(first.id)
      expect(ids).toContain(whileDown.id)
      expect(await history(late)).toEqual(await history(a))
    } finally {
      onA.close()
      await fetch(`${a.url('v01t')}/__mocks/faults/late-503`, { method: 'DELETE' })
    }
  }, 120_000)

  it('Redis killed and restarted mid-run: no answered message is lost, writes made meanwhile land after', async () => {
    const other = late ?? a
    const onA = await chatClient(a.url('chat'), users[0]!.cookieValue!)
    const onOther = await chatClient(other.url('chat'), (users[1] ?? users[0]!).cookieValue!)
    try {
      onA.send({ type: 'join', channel })
      onOther.send({ type: 'join', channel })
      await onOther.next((f) => f.type === 'presence')
      const answered = await send(onA, `answered before the crash ${Date.now()}`)
      redis.stop('SIGKILL')
      await redis.exited
      // Sent while Redis is down: not answered until it is back (the replica waits, loses nothing).
      const pendingContent = `sent while Redis is down ${Date.now()}`
      const pending = send(onA, pendingContent, 20_000)
      await new Promise((r) => setTimeout(r, 300))
      expect(onA.frames.some((f) => f.content === pendingContent)).toBe(false)
      redis = await startRedisServer({ persistDir: dir, port: redis.port })
      const delivered = await pending
      await onOther.next((f) => f.type === 'message' && f.id === delivered.id, 5000)
      const after = await send(onA, `after the restart ${Date.now()}`, 5000)
      for (const r of [a, other]) {
        const ids = await eventually(`history on ${r.name}`, async () => {
          const list = (await history(r)).map((m) => m.id)
          return list.includes(after.id as string) ? list : undefined
        })
        expect(ids).toContain(answered.id as string)
        expect(ids).toContain(delivered.id as string)
      }
      // The world still answers writes: a fault through one replica acts on the other.
      const add = await fetch(`${other.url('v01t')}/__mocks/faults`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ id: 'after-restart', effect: { type: 'status', status: 502 } }),
      })
      expect(add.status).toBe(201)
      await eventually('the fault on a', async () =>
        (await fetch(`${a.url('v01t')}${V01T_PATH}`)).status === 502 ? true : undefined,
      )
      await fetch(`${a.url('v01t')}/__mocks/faults/after-restart`, { method: 'DELETE' })
    } finally {
      onA.close()
      onOther.close()
    }
  }, 120_000)
})

describe.runIf(run)('replicas: snapshots, a trimmed log and a late replica', () => {
  let redis: RedisServer
  let dir: string
  let a: ReplicaProcess
  let b: ReplicaProcess
  let c: ReplicaProcess | undefined
  let users: SeededUser[]
  let channel: string
  let probe: Redis
  const prefix = `snapshot-${process.pid}-${Date.now()}:`
  const services = ['auth', 'chat', 'v01t', 'media'] as const
  const png = readFileSync(new URL('../fixtures/media/sunset.png', import.meta.url))

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'replicas-snapshot-'))
    redis = await startRedisServer({ persistDir: dir })
    probe = new Redis(redis.url)
    const env = { STORAGE_PATH: join(dir, 'storage'), MOCKS_SNAPSHOT_EVERY: '20' }
    ;[a, b] = await Promise.all([
      startReplica({ name: 'a', redisUrl: redis.url, prefix, env, services }),
      startReplica({ name: 'b', redisUrl: redis.url, prefix, env, services }),
    ])
    users = (await seededUsers(a.url('auth'))).filter((u) => u.cookieValue)
    channel = await commonChannel(a.url('chat'), users)
  }, 120_000)

  afterAll(async () => {
    probe?.disconnect()
    await stopCluster([a, b, c], redis, dir)
  })

  const json = async <T>(res: Response | Promise<Response>): Promise<T> => (await (await res).json()) as T
  const post = (url: string, body: unknown, headers: Record<string, string> = {}) =>
    fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify(body),
    })
  /** The channel's whole history, page by page (older pages through `before`). */
  const history = async (r: ReplicaProcess) => {
    const u = users[0]!
    const all: { id: string; content: string }[] = []
    for (let before = ''; ; ) {
      const page = await json<{ id: string; content: string }[]>(
        fetch(`${r.url('chat')}/api/v1/messages?channel=${channel}&limit=100${before}`, {
          headers: { cookie: `${u.cookieName}=${u.cookieValue}` },
        }),
      )
      all.unshift(...page)
      if (page.length < 100) return all
      before = `&before=${encodeURIComponent(page[0]!.id)}`
    }
  }
  const world = async (r: ReplicaProcess) => ({
    messages: await history(r),
    faults: (
      await json<{ faults: { id: string; source: string }[] }>(fetch(`${r.url('v01t')}/__mocks/faults`))
    ).faults,
    // Each replica's own facts (creation time, journal size, sockets) aside.
    tenants: (
      await json<{ tenants: { id: string; scenario: string; faults: number }[] }>(
        fetch(`${r.url('v01t')}/__mocks/tenants`),
      )
    ).tenants.map((t) => ({ id: t.id, scenario: t.scenario, faults: t.faults })),
  })
  const session = async (r: ReplicaProcess, cookie: string) =>
    (await fetch(`${r.url('auth')}/api/auth/get-session`, { headers: { cookie } })).status

  it('a replica joining after the log was trimmed loads the snapshot and has the same world', async () => {
    const sendVia = async (client: ChatClient, content: string) => {
      client.send({ type: 'message', channel, content })
      return client.next((f) => f.type === 'message' && f.content === content)
    }
    // Before a reset of the world: gone after it, on every replica (and from the snapshot).
    const early = await chatClient(a.url('chat'), users[0]!.cookieValue!)
    early.send({ type: 'join', channel })
    await sendVia(early, `before the reset ${Date.now()}`)
    expect(
      (
        await post(`${b.url('v01t')}/__mocks/faults`, {
          id: 'pre-reset',
          effect: { type: 'status', status: 500 },
          match: { method: 'DELETE' },
        })
      ).status,
    ).toBe(201)
    early.close()
    expect((await fetch(`${a.url('v01t')}/__mocks/reset`, { method: 'POST' })).ok).toBe(true)

    // The world after it: a tenant, another made and deleted, faults, sessions, a file, messages.
    const tenant = await json<{ id: string }>(post(`${a.url('v01t')}/__mocks/tenants`, { name: 'v01t-404' }))
    const gone = await json<{ id: string }>(post(`${b.url('v01t')}/__mocks/tenants`, { name: 'default' }))
    expect((await fetch(`${a.url('v01t')}/__mocks/tenants/${gone.id}`, { method: 'DELETE' })).status).toBe(
      204,
    )
    const fault = { id: 'snap-503', effect: { type: 'status', status: 503 }, match: { method: 'PUT' } }
    expect((await post(`${b.url('v01t')}/__mocks/faults`, fault)).status).toBe(201)
    expect(
      (
        await post(`${a.url('v01t')}/__mocks/faults`, {
          id: 'removed',
          effect: { type: 'status', status: 502 },
        })
      ).status,
    ).toBe(201)
    // Answered once a applied it; b applies it a moment later (its DELETE checks its own list).
    await eventually('the fault listed on b', async () => {
      const listed = await json<{ faults: { id: string }[] }>(fetch(`${b.url('v01t')}/__mocks/faults`))
      return listed.faults.some((f) => f.id === 'removed') || undefined
    })
    expect((await fetch(`${b.url('v01t')}/__mocks/faults/removed`, { method: 'DELETE' })).status).toBe(204)
    const email = `snap-${Date.now()}@example.test`
    const signUp = await post(
      `${a.url('auth')}/api/auth/sign-up/email`,
      { email, password: 'password-snapshot', name: 'Snap Shot' },
      { origin: a.url('auth') },
    )
    expect(signUp.status).toBe(200)
    const cookieOf = (res: Response) =>
      res.headers
        .getSetCookie()
        .map((x) => x.split(';')[0])
        .join('; ')
    const signedUp = cookieOf(signUp)
    const seeded = users[1] ?? users[0]!
    const signIn = await post(
      `${b.url('auth')}/api/auth/sign-in/email`,
      { email: seeded.email, password: seeded.password },
      { origin: b.url('auth') },
    )
    expect(signIn.status).toBe(200)
    const signedIn = cookieOf(signIn)
    const form = new FormData()
    form.append('file', new Blob([new Uint8Array(png)], { type: 'image/png' }), 'sunset.png')
    form.append('type', 'file')
    const owner = users.find((u) => (u as SeededUser & { role?: string }).role !== 'child') ?? users[0]!
    const fileHeaders = { cookie: `${owner.cookieName}=${owner.cookieValue}` }
    const upload = await fetch(`${b.url('media')}/api/v1/upload`, {
      method: 'POST',
      headers: fileHeaders,
      body: form,
    })
    expect(upload.status).toBe(201)
    const file = await json<{ id: string; sha256: string }>(upload)

    const onA = await chatClient(a.url('chat'), users[0]!.cookieValue!)
    try {
      onA.send({ type: 'join', channel })
      for (let i = 0; i < 25; i++) await sendVia(onA, `kept ${i} ${Date.now()}`)
      // Everything so far is trimmed once a snapshot after it is written and both replicas'
      // positions (noted every second) are past it: more messages make the next snapshots.
      const built = Date.now()
      await eventually(
        'the log trimmed past the world built',
        async () => {
          for (let i = 0; i < 5; i++) await sendVia(onA, `filler ${i} ${Date.now()}`)
          const first = (
            (await probe.xrange(`${prefix}log`, '-', '+', 'COUNT', 1)) as [string, string[]][]
          )[0]
          return first && Number(first[0].split('-')[0]) > built ? true : undefined
        },
        15_000,
      )
      expect(await probe.hget(`${prefix}snapshot`, 'covers')).toMatch(/^\d+-\d+$/)

      c = await startReplica({
        name: 'c',
        redisUrl: redis.url,
        prefix,
        env: { STORAGE_PATH: join(dir, 'storage'), MOCKS_SNAPSHOT_EVERY: '20' },
        services,
      })
      const [onAWorld, onCWorld] = [await world(a), await world(c)]
      expect(onCWorld).toEqual(onAWorld)
      expect(onCWorld.messages.some((m) => m.content.startsWith('before the reset'))).toBe(false)
      expect(onCWorld.messages.filter((m) => m.content.startsWith('kept '))).toHaveLength(25)
      expect(onCWorld.faults.map((f) => f.id)).toContain('snap-503')
      expect(onCWorld.faults.map((f) => f.id)).not.toContain('pre-reset')
      expect(onCWorld.faults.map((f) => f.id)).not.toContain('removed')
      expect(JSON.stringify(onCWorld.tenants)).toContain(tenant.id)
      expect(JSON.stringify(onCWorld.tenants)).not.toContain(gone.id)
      // The tenant serves its own scenario on c.
      expect(
        (await fetch(`${c.url('v01t')}${V01T_PATH}`, { headers: { 'x-mocks-tenant': tenant.id } })).status,
      ).toBe(404)
      // Sessions made on a and b before the trim are valid on c.
      expect(await session(c, signedUp)).toBe(200)
      expect(await session(c, signedIn)).toBe(200)
      // The file's record (and its bytes, shared) on c.
      const meta = await json<{ sha256: string }>(
        fetch(`${c.url('media')}/api/v1/files/${file.id}`, { headers: fileHeaders }),
      )
      expect(meta.sha256).toBe(file.sha256)
      // And c goes on with the others: a message through it lands in a's history.
      const onC = await chatClient(c.url('chat'), users[0]!.cookieValue!)
      try {
        onC.send({ type: 'join', channel })
        const last = await sendVia(onC, `through c ${Date.now()}`)
        await eventually('on a', async () =>
          (await history(a)).some((m) => m.id === last.id) ? true : undefined,
        )
      } finally {
        onC.close()
      }
    } finally {
      onA.close()
    }
  }, 120_000)
})

describe.runIf(run)('replicas: a replica cut off and trimmed past', () => {
  let redis: RedisServer
  let a: ReplicaProcess | undefined
  let b: ReplicaProcess | undefined
  let db: Redis | undefined
  const prefix = `trimmed-past-${process.pid}-${Date.now()}:`

  beforeAll(async () => {
    redis = await startRedisServer()
    db = new Redis(redis.url)
    const env = { MOCKS_SNAPSHOT_EVERY: '5' }
    ;[a, b] = await Promise.all(
      ['a', 'b'].map((name) => startReplica({ name, redisUrl: redis.url, prefix, env, services: ['v01t'] })),
    )
  }, 120_000)

  afterAll(async () => {
    db?.disconnect()
    await stopCluster([a, b], redis, undefined)
  })

  /** The id of the log's newest entry. */
  const newest = async () =>
    ((await db!.xrevrange(`${prefix}log`, '+', '-', 'COUNT', 1)) as [string, string[]][])[0]![0]
  /** Resolves once the log's oldest entry is after `id` (a snapshot covers it, the log was trimmed). */
  const trimmedPast = (what: string, id: string) =>
    eventually(`the log trimmed past ${what}`, async () => {
      const first = ((await db!.xrange(`${prefix}log`, '-', '+', 'COUNT', 1)) as [string, string[]][])[0]
      return first !== undefined && compareIds(first[0], id) > 0
    })
  /** A third replica started now: it loads the snapshot and replays the rest. */
  const lateReplica = () =>
    startReplica({
      name: 'c',
      redisUrl: redis.url,
      prefix,
      env: { MOCKS_SNAPSHOT_EVERY: '5' },
      services: ['v01t'],
    })

  it('stops applying at the gap, says so and exits with status 1 (for its supervisor to restart it)', async () => {
    const clear = async () => {
      const res = await fetch(`${a!.url('v01t')}/__mocks/journal`, { method: 'DELETE' })
      expect(res.ok).toBe(true)
    }
    await clear()
    // b stalls (SIGSTOP) and its noted position is a minute old: the next trims pass it.
    const positions = await db!.hgetall(`${prefix}applied`)
    const [instance, value] = Object.entries(positions).find(([i]) => i.startsWith('b~'))!
    b!.signal('SIGSTOP')
    try {
      await db!.hset(`${prefix}applied`, instance, `${value.split(' ')[0]} ${Date.now() - 60_000}`)
      for (let i = 0; i < 12; i++) await clear()
      await new Promise((r) => setTimeout(r, 1300)) // a's own position renewed
      for (let i = 0; i < 10; i++) await clear()
      await eventually('a trimmed past b', async () => {
        const cut = await db!.get(`${prefix}trimmed`)
        return cut !== null && compareIds(cut, value.split(' ')[0]!) > 0
      })
    } finally {
      b!.signal('SIGCONT')
    }
    const status = await Promise.race([
      b!.exited,
      new Promise((r) => setTimeout(() => r('still running'), 8000)),
    ])
    expect(status).toBe(1)
    expect(b!.output()).toMatch(/the log was trimmed past this replica/)
    // a serves on.
    expect((await fetch(`${a!.url('v01t')}/__mocks/health`)).ok).toBe(true)
  }, 60_000)

  it('a `times: N` fault goes on counting across the cluster on a replica loaded from a snapshot', async () => {
    const add = await fetch(`${a!.url('v01t')}/__mocks/faults`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ id: 'snap-times', effect: { type: 'status', status: 502 }, times: 3 }),
    })
    expect(add.status).toBe(201)
    const added = await newest()
    const hit = async (r: ReplicaProcess) => (await fetch(`${r.url('v01t')}${V01T_PATH}`)).status
    expect([await hit(a!), await hit(a!)]).toEqual([502, 502])
    // The log trimmed past the fault's entry: a replica starting now has it from the snapshot.
    const clear = () => fetch(`${a!.url('v01t')}/__mocks/journal`, { method: 'DELETE' })
    for (let i = 0; i < 6; i++) await clear()
    await new Promise((r) => setTimeout(r, 1300))
    for (let i = 0; i < 6; i++) await clear()
    await trimmedPast('the fault', added)
    const c = await lateReplica()
    try {
      expect([await hit(c), await hit(c), await hit(a!)]).toEqual([502, 200, 200])
    } finally {
      await c.stop()
    }
  }, 90_000)

  it('a replica loaded from a snapshot after a reset and a journal clear shows the same merged journal, and takes the same cursors as since', async () => {
    type Listed = { path: string; query: string; seq: number; replica?: string; cursor?: string }
    const listOf = async (r: ReplicaProcess) =>
      ((await (await fetch(`${r.url('v01t')}/__mocks/journal`)).json()) as { entries: Listed[] }).entries
    const control = (path: string, method: string, body?: unknown) =>
      fetch(`${a!.url('v01t')}/__mocks${path}`, {
        method,
        headers: { 'content-type': 'application/json' },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      })
    expect((await control('/reset', 'POST')).ok).toBe(true)
    for (let i = 0; i < 2; i++) await fetch(`${a!.url('v01t')}${V01T_PATH}?before-the-clear=${i}`)
    expect((await control('/journal', 'DELETE')).ok).toBe(true)
    const cleared = await newest()
    for (let i = 0; i < 3; i++) await fetch(`${a!.url('v01t')}${V01T_PATH}?after=${i}`)
    // Entries that change neither the state's start nor the journal's: faults added, then removed.
    for (let i = 0; i < 6; i++) {
      const res = await control('/faults', 'POST', {
        id: `idle-${i}`,
        match: { path: '/nowhere' },
        effect: { type: 'status', status: 500 },
      })
      expect(res.status, await res.text()).toBe(201)
    }
    await new Promise((r) => setTimeout(r, 1300))
    for (let i = 0; i < 6; i++) await control(`/faults/idle-${i}`, 'DELETE')
    await trimmedPast('the clear', cleared)
    const c = await lateReplica()
    try {
      const onA = await eventually('a published its entries', async () => {
        const list = await listOf(a!)
        return list.every((e) => e.cursor) ? list : undefined
      })
      // The current journal: what came after the clear.
      expect(onA.map((e) => e.query)).toEqual([0, 1, 2].map((i) => expect.stringContaining(`after=${i}`)))
      const onC = await listOf(c)
      expect(onC).toEqual(onA)
      const since = onA[0]!.cursor!
      const judged = async (r: ReplicaProcess) => {
        const res = await fetch(`${r.url('v01t')}/__mocks/verdicts?since=${since}`)
        expect(res.status).toBe(200)
        return ((await res.json()) as { summary: unknown }).summary
      }
      expect(await judged(c)).toEqual(await judged(a!))
    } finally {
      await c.stop()
    }
  }, 90_000)
})
