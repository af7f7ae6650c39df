import { afterAll, beforeAll, describe, expect, it } from 'vitest'
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

// Issue 22, liveness across replicas. Idle tenants: idleness judged cluster-wide (a tenant busy
// on one replica stays; idle everywhere, it is deleted on all). Presence of a dead replica:
// replicas heartbeat (a Redis key with a TTL); once one stops (SIGKILL: no goodbye), the others
// drop its sockets' presence with the usual events.

const run = hasRedisServer()
const SERVICES = ['auth', 'chat'] as const

const IDLE_MS = 2000

describe.runIf(run)('replicas: idle tenants and the presence of a replica that died', () => {
  let redis: RedisServer
  let dir: string
  let a: ReplicaProcess
  let b: ReplicaProcess
  let users: SeededUser[]
  let channel: string
  const prefix = `presence-${process.pid}-${Date.now()}:`

  beforeAll(async () => {
    const env = { MOCKS_TENANT_IDLE_MS: String(IDLE_MS) }
    ;({ a, b, redis, dir } = await startPair('replicas-presence', { prefix, services: SERVICES, env }))
    users = (await seededUsers(a.url('auth'))).filter((u) => u.cookieValue)
    channel = await commonChannel(a.url('chat'), users.slice(0, 2))
  }, 120_000)

  afterAll(() => stopCluster([a, b], redis, dir))

  it('a tenant busy on one replica only is kept; idle on every replica, it is deleted on all', async () => {
    const made = await createTenant(a.url('chat'), 'default')
    expect(made.status).toBe(201)
    const { id } = (await made.json()) as { id: string }
    const known = async (r: ReplicaProcess) => {
      const res = await fetch(`${r.url('chat')}/__mocks/tenants`)
      const body = (await res.json()) as { tenants: { id: string }[] }
      return body.tenants.some((t) => t.id === id)
    }
    // Used through b only, for well over the idle time: a (which sees no request) keeps it.
    const until = Date.now() + 2.5 * IDLE_MS
    while (Date.now() < until) {
      await fetch(`${b.url('chat')}/api/v1/messages?channel=${channel}`, {
        headers: { 'x-mocks-tenant': id },
      })
      await new Promise((r) => setTimeout(r, 200))
    }
    expect(await known(a)).toBe(true)
    expect(await known(b)).toBe(true)
    // Idle everywhere: gone on both (one delete through the log).
    for (const r of [a, b])
      await eventually(`tenant gone on ${r.name}`, async () => !(await known(r)), 4 * IDLE_MS)
  })

  it('a join racing a scenario switch or reset never leaves its user online on another replica', async () => {
    const [alice, bob] = [users[0]!, users[1]!]
    const onB = async () => {
      const res = await fetch(`${b.url('chat')}/api/v1/presence?channel=${channel}`, {
        headers: { cookie: `${bob.cookieName}=${bob.cookieValue}` },
      })
      const rows = (await res.json()) as { user_id: string; online: boolean }[]
      return rows.some((r) => r.user_id === alice.id && r.online)
    }
    // Each round: a is frozen while Alice's join reaches its socket and a switch made through b
    // enters the log; let go, a reads both at once, so the old hub may take the join (its
    // presence entry then follows the switch in the log) before the switch replaces it.
    for (let round = 0; round < 6; round++) {
      const onA = await chatClient(a.url('chat'), alice.cookieValue!)
      const closed = new Promise<void>((resolve) => onA.ws.once('close', () => resolve()))
      a.signal('SIGSTOP')
      try {
        onA.send({ type: 'join', channel })
        // A switch, or a reset (the same replacement of every hub), in turns.
        const replaced = await fetch(`${b.url('chat')}/__mocks/${round % 2 ? 'reset' : 'scenario'}`, {
          method: round % 2 ? 'POST' : 'PUT',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(round % 2 ? {} : { name: 'default' }),
        })
        expect(replaced.status).toBe(200)
      } finally {
        a.signal('SIGCONT')
      }
      // The switch closes Alice's socket (a client reconnects into the new world).
      await closed
      // Whatever a relayed for that socket is in the log by now; b has applied it.
      await new Promise((r) => setTimeout(r, 300))
      expect(await onB(), `round ${round}: Alice left online on b`).toBe(false)
    }
  })

  it('a SIGKILLed replica’s joined user goes offline on the others within a few seconds', async () => {
    const [alice, bob] = [users[0]!, users[1]!]
    const onA = await chatClient(a.url('chat'), alice.cookieValue!)
    const onB = await chatClient(b.url('chat'), bob.cookieValue!)
    try {
      onB.send({ type: 'join', channel })
      await onB.next((f) => f.type === 'presence' && f.user_id === bob.id)
      onA.send({ type: 'join', channel })
      // Bob (joined on b) is online on a: in the join's list or as an event.
      await onA.next((f) => f.type === 'presence' && f.user_id === bob.id && f.online === true)
      const listed = async () => {
        const res = await fetch(`${a.url('chat')}/api/v1/presence?channel=${channel}`, {
          headers: { cookie: `${alice.cookieName}=${alice.cookieValue}` },
        })
        const rows = (await res.json()) as { user_id: string; online: boolean }[]
        return rows.some((r) => r.user_id === bob.id && r.online)
      }
      expect(await listed()).toBe(true)
      // Still online after more than a heartbeat's lifetime while b lives.
      await new Promise((r) => setTimeout(r, 4000))
      expect(await listed()).toBe(true)
      const killed = Date.now()
      await b.stop('SIGKILL')
      await onA.next((f) => f.type === 'presence' && f.user_id === bob.id && f.online === false, 8000)
      expect(Date.now() - killed).toBeLessThan(8000)
      await eventually('bob listed offline on a', async () => !(await listed()))
    } finally {
      onA.close()
      onB.close()
    }
  })
})
