import { createServer, type Server } from 'node:net'
import { Redis } from 'ioredis'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { type Acquired, DbLease, type LeaseOptions, type Liveness, probeListener } from '../mocks/db/lease.ts'
import type { Upstream } from '../mocks/db/proxy.ts'
import { DbService } from '../mocks/db/service.ts'
import { hasRedisServer, useRedisServer } from './redis-server.ts'

// The db lease of replicated mode (mocks/db/lease.ts) against a real redis-server, its rounds
// driven by hand (a TTL long enough that no timer renews meanwhile): who may take a free lease,
// what its taker is told about the database's past, and when a reset's wait ends.

const run = hasRedisServer()
const quiet = { info() {}, warn() {}, error() {} }

/** A stand-in for a replica's internal database listener. */
async function listener(): Promise<{ server: Server; address: Upstream }> {
  const server = createServer((s) => s.destroy())
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()))
  return { server, address: { host: '127.0.0.1', port: (server.address() as { port: number }).port } }
}

describe.runIf(run)('db lease (replicated mode)', () => {
  const redis = useRedisServer()
  let probe: Redis
  let n = 0
  let prefix = ''
  const leases: DbLease[] = []
  const servers: Server[] = []

  beforeAll(() => {
    probe = new Redis(redis.url)
  })
  afterAll(() => {
    probe?.disconnect()
  })
  afterEach(async () => {
    await Promise.all(leases.splice(0).map((l) => l.close()))
    for (const s of servers.splice(0)) s.close()
  })
  beforeEach(() => {
    prefix = `lease-${process.pid}-${++n}:`
  })

  /** A replica's lease: `acquired` events are collected; its listener is a real one unless `address` says otherwise. */
  async function replica(
    name: string,
    extra: Partial<LeaseOptions> & { address?: Upstream | null } = {},
  ): Promise<{ lease: DbLease; events: Acquired[]; address: Upstream | undefined; server?: Server }> {
    const events: Acquired[] = []
    let address: Upstream | undefined
    let server: Server | undefined
    if (extra.address === undefined) {
      ;({ server, address } = await listener())
      servers.push(server)
    } else address = extra.address ?? undefined
    const lease = new DbLease({
      url: redis.url,
      prefix,
      replica: name,
      logger: quiet,
      ttlMs: 60_000,
      listen: async () => address,
      acquired: (e) => void events.push(e),
      lost: async () => undefined,
      unlisten: async () => undefined,
      ...extra,
    })
    leases.push(lease)
    return { lease, events, address, ...(server ? { server } : {}) }
  }

  const key = (k: string) => `${prefix}${k}`
  /** The holder's lease lapsed (its process stuck past the TTL): the key is gone, its listener is not. */
  const lapse = () => probe.del(key('db:holder'))

  it('a replica that just started does not take a lapsed lease from a holder whose listener accepts', async () => {
    const a = await replica('a')
    await a.lease.start()
    expect(a.lease.holding).toBe(true)
    expect(a.events).toEqual([{ cause: 'first' }])
    await lapse()
    // b never saw a holder: it learns the last one from `db:last` and probes it.
    const b = await replica('b')
    await b.lease.start()
    await b.lease.check()
    expect(b.lease.holding).toBe(false)
    expect(b.events).toEqual([])
    // The stuck holder renews again (its value is put back) and keeps its database.
    await a.lease.check()
    expect(JSON.parse((await probe.get(key('db:holder')))!).replica).toBe('a')
    await lapse()
    // Gone for good (its listener refuses): b takes it over and is told so.
    await new Promise<void>((r) => a.server!.close(() => r()))
    await b.lease.check()
    expect(b.lease.holding).toBe(true)
    expect(b.events).toEqual([{ cause: 'takeover', previous: 'a' }])
  })

  it('a probe that neither connects nor is refused is "unknown": the lease is left alone until unknownMs passed', async () => {
    const a = await replica('a')
    await a.lease.start()
    await lapse()
    let now = 1_000_000
    const seen: Liveness[] = []
    const b = await replica('b', {
      unknownMs: 10_000,
      now: () => now,
      probe: async () => {
        seen.push('unknown')
        return 'unknown'
      },
    })
    await b.lease.start()
    now += 9_000
    await b.lease.check()
    expect(b.lease.holding).toBe(false)
    now += 1_000
    await b.lease.check()
    expect(seen.length).toBe(3)
    expect(b.lease.holding).toBe(true)
    expect(b.events).toEqual([{ cause: 'takeover', previous: 'a' }])
  })

  it('probeListener: only a refusal is "refused"; a timeout or a DNS error is "unknown"', async () => {
    const { server, address } = await listener()
    expect(await probeListener(address)).toBe('accepted')
    await new Promise<void>((r) => server.close(() => r()))
    expect(await probeListener(address)).toBe('refused')
    expect(await probeListener({ host: 'no-such-replica.invalid', port: 5432 })).toBe('unknown')
  })

  it('the taker is told the past from `db:last`: first, handover after a clean stop, takeover', async () => {
    const a = await replica('a')
    await a.lease.start()
    expect(a.events).toEqual([{ cause: 'first' }])
    const b = await replica('b')
    await b.lease.start()
    expect(b.lease.holding).toBe(false)
    await a.lease.close()
    // Released: no probe needed, and the cause is a handover.
    await b.lease.check()
    expect(b.events).toEqual([{ cause: 'handover', previous: 'a' }])
    // A counter that vanished does not make the world new: `db:last` decides.
    await probe.del(key('db:epoch'))
    await lapse()
    await new Promise<void>((r) => b.server!.close(() => r()))
    const c = await replica('c')
    await c.lease.start()
    expect(c.events).toEqual([{ cause: 'takeover', previous: 'b' }])
  })

  it('Redis lost every key: a replica that knew a holder probes it and calls its taking a takeover, never "first"', async () => {
    const a = await replica('a')
    await a.lease.start()
    const b = await replica('b')
    await b.lease.start()
    await probe.del(key('db:holder'), key('db:last'))
    // a is alive (its listener accepts): b leaves the lease alone.
    await b.lease.check()
    expect(b.lease.holding).toBe(false)
    await new Promise<void>((r) => a.server!.close(() => r()))
    await b.lease.check()
    expect(b.events).toEqual([{ cause: 'takeover', previous: 'a' }])
  })

  it('waitSeeded: a lapsed lease whose holder still accepts is waited for until the holder marks the reseed', async () => {
    const a = await replica('a')
    await a.lease.start()
    const b = await replica('b')
    await b.lease.start()
    await lapse()
    let done = false
    const waiting = b.lease.waitSeeded('e1', 5000).then(() => {
      done = true
    })
    await new Promise((r) => setTimeout(r, 300))
    expect(done).toBe(false)
    await a.lease.markSeeded('e1')
    await waiting
    // The holder gone (its listener refuses): the wait ends without a mark.
    await new Promise<void>((r) => a.server!.close(() => r()))
    const started = Date.now()
    await b.lease.waitSeeded('e2', 5000)
    expect(Date.now() - started).toBeLessThan(1000)
  })

  it('a Neon WebSocket with no database to bridge to is closed, not an unhandled rejection', async () => {
    // The holder runs MOCKS_DB_UPSTREAM (it publishes no address) and this replica does not.
    await probe.set(key('db:holder'), JSON.stringify({ instance: 'x~1', replica: 'x' }), 'PX', 60_000)
    const service = new DbService({
      host: '127.0.0.1',
      port: 0,
      decide: () => [],
      cluster: { url: redis.url, prefix, replica: 'b' },
    })
    await service.start()
    try {
      const ws = new WebSocket(`ws://127.0.0.1:${service.port}/v2`)
      const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)))
      ws.once('error', () => undefined)
      await closed
      expect(service.lease!.holding).toBe(false)
    } finally {
      await service.close()
    }
  })
})
