import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
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
