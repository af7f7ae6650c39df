import { randomBytes } from 'node:crypto'
import { connect } from 'node:net'
import type { Redis } from 'ioredis'
import type { HostLogger } from './pglite-host.ts'
import type { Upstream } from './proxy.ts'

// Replicated mode (README "Replicas", mocks/db/README.md "Replicated mode"): one database for
// the whole cluster. PGlite is one process's memory, so the database lives on one replica at a
// time, the holder of a lease in Redis (`<prefix>db:holder`, SET NX PX, renewed every second).
// The holder publishes where its internal listener (PgliteHost's, raw wire protocol, no faults)
// is reached; every replica's db port forwards there. When the holder dies its lease lapses and
// another replica takes it and starts the database afresh from the current scenario's seed.

export interface LeaseOptions {
  /** The Redis every replica shares (MOCKS_REDIS_URL) and the key prefix (MOCKS_REDIS_PREFIX). */
  url: string
  prefix: string
  /** This replica's name (MOCKS_REPLICA), for people: logs, the lease's value. */
  replica: string
  /**
   * Binds this replica's internal listener and answers the address the others reach it at
   * (undefined: nothing to publish, e.g. a real upstream every replica reaches itself).
   */
  listen(): Promise<Upstream | undefined>
  /** This replica holds the database now (`takeover`: another held it before, its rows are gone). */
  acquired(takeover: { previous: string | undefined } | undefined): void
  /** This replica no longer holds it (lost to another, or stopping): close what it served. */
  lost(): Promise<void>
  logger: HostLogger
  /** Lease lifetime; renewed every `ttlMs / 3`, others look every `ttlMs / 6`. */
  ttlMs?: number
}

interface Holder {
  /** The holding process (its replica name and a start nonce). */
  instance: string
  replica: string
  /** Its internal listener (absent with a real upstream). */
  address?: Upstream
}

const DEFAULT_TTL_MS = 3000

// Renewal: the holder's own value gets a new lifetime; a lapsed lease (Redis restarted without
// the key, or down longer than the TTL) is taken back when nobody took it meanwhile.
const RENEW = `local v = redis.call('GET', KEYS[1])
if v == ARGV[1] then redis.call('PEXPIRE', KEYS[1], ARGV[2]) return 1 end
if not v then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) return 1 end
return 0`

// Taking a free lease counts the tenures: a count above 1 means a database existed before.
const ACQUIRE = `if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return redis.call('INCR', KEYS[2]) end
return 0`

const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`

export class DbLease {
  private redis: Redis | undefined
  private readonly instance: string
  private readonly ttl: number
  private readonly keys: { holder: string; epoch: string }
  /** The lease's value while this replica holds it. */
  private mine: string | undefined
  /** The holder last seen (another replica's, or this one's). */
  private seen: Holder | undefined
  private timer: NodeJS.Timeout | undefined
  private stopped = false
  private tick: Promise<void> = Promise.resolve()
  private readonly waiters = new Set<() => void>()

  constructor(private readonly opts: LeaseOptions) {
    this.instance = `${opts.replica}~${randomBytes(6).toString('base64url')}`
    this.ttl = opts.ttlMs ?? DEFAULT_TTL_MS
    this.keys = { holder: `${opts.prefix}db:holder`, epoch: `${opts.prefix}db:epoch` }
  }

  /** True while this replica holds the database. */
  get holding(): boolean {
    return this.mine !== undefined
  }

  /** Connects and campaigns at once (a cluster's first replica takes the lease without waiting). */
  async start(): Promise<void> {
    const { Redis } = await import('ioredis')
    // Commands wait for Redis (restarts included), as the log's do; the cached holder keeps
    // routing meanwhile.
    this.redis = new Redis(this.opts.url, { maxRetriesPerRequest: null, retryStrategy: () => 100 })
    this.redis.on('error', () => undefined)
    await this.check()
    this.schedule()
  }

  /**
   * Where the database is now: this replica's own listener, or the holder's. With no holder
   * known yet (an election under way), waits for one (up to `ms`).
   */
  async holder(ms = 15_000): Promise<Holder> {
    if (this.seen) return this.seen
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(found)
        reject(new Error('db: no replica holds the database (Redis unreachable?)'))
      }, ms)
      const found = () => {
        if (!this.seen) return
        clearTimeout(timer)
        this.waiters.delete(found)
        resolve(this.seen)
      }
      this.waiters.add(found)
    })
  }

  /** The holder marks an entry's reseed done (the replica that took the call waits for it). */
  async markSeeded(entry: string): Promise<void> {
    await this.redis?.set(`${this.opts.prefix}db:seeded:${entry}`, '1', 'PX', 60_000)
  }

  /**
   * Waits until the holder has reseeded for `entry` (a reset or switch taken by this replica,
   * which does not hold the database): the answer then reflects it on every replica. Ends too
   * when the holder changes or none is left (a new holder starts from the current seed).
   */
  async waitSeeded(entry: string, ms = 10_000): Promise<void> {
    const redis = this.redis
    if (!redis) return
    const key = `${this.opts.prefix}db:seeded:${entry}`
    const holder = this.seen?.instance
    const until = Date.now() + ms
    while (Date.now() < until) {
      const [done, now] = await Promise.all([redis.exists(key), redis.get(this.keys.holder)])
      if (done) return
      const current = now ? (JSON.parse(now) as Holder).instance : undefined
      if (current !== holder || current === undefined) return
      await new Promise((r) => setTimeout(r, 20))
    }
    this.opts.logger.warn({ entry, holder: this.seen?.replica }, 'db: the holder did not confirm the reseed')
  }

  private schedule(): void {
    if (this.stopped) return
    const every = this.holding ? this.ttl / 3 : this.ttl / 6
    this.timer = setTimeout(() => {
      this.tick = this.check()
        .catch((err: Error) => this.opts.logger.warn({ err: err.message }, 'db: lease check failed'))
        .finally(() => this.schedule())
    }, every)
    this.timer.unref()
  }

  /** One round: the holder renews; the others look, and campaign when the lease is free. */
  private async check(): Promise<void> {
    const redis = this.redis!
    if (this.mine) {
      const ok = (await redis.eval(RENEW, 1, this.keys.holder, this.mine, this.ttl)) as number
      if (ok || this.stopped) return
      const other = await redis.get(this.keys.holder)
      const taker = other ? (JSON.parse(other) as Holder) : undefined
      this.opts.logger.warn(
        { holder: taker?.replica },
        'db: this replica lost the database lease (it missed renewals): its database is closed, its rows are gone; connections go to the new holder',
      )
      this.mine = undefined
      this.see(taker)
      await this.opts.lost()
      return
    }
    const raw = await redis.get(this.keys.holder)
    if (raw) {
      this.see(JSON.parse(raw) as Holder)
      return
    }
    // Free. A lease lapses when its holder is dead, but also when its event loop was blocked
    // past the TTL (PGlite's start blocks it for seconds on a loaded machine) or Redis lost the
    // key: a holder whose listener still accepts is alive, and takes its lease back at its next
    // renewal, keeping its rows. Only a holder that no longer accepts is replaced.
    const last = this.seen
    if (last && last.instance !== this.instance && (await accepts(last.address))) return
    await this.campaign()
  }

  private async campaign(): Promise<void> {
    if (this.stopped) return
    const redis = this.redis!
    const previous = this.seen?.replica
    const address = await this.opts.listen()
    const holder: Holder = {
      instance: this.instance,
      replica: this.opts.replica,
      ...(address ? { address } : {}),
    }
    const value = JSON.stringify(holder)
    const epoch = (await redis.eval(ACQUIRE, 2, this.keys.holder, this.keys.epoch, value, this.ttl)) as number
    if (!epoch) {
      // Another replica was quicker: route to it.
      await this.opts.lost()
      const raw = await redis.get(this.keys.holder)
      this.see(raw ? (JSON.parse(raw) as Holder) : undefined)
      return
    }
    this.mine = value
    this.see(holder)
    this.opts.acquired(epoch > 1 ? { previous } : undefined)
  }

  private see(holder: Holder | undefined): void {
    if (holder && this.seen?.instance !== holder.instance)
      this.opts.logger.info(
        { holder: holder.replica, here: holder.instance === this.instance },
        'db: database holder',
      )
    this.seen = holder
    if (holder) for (const w of [...this.waiters]) w()
  }

  /** Stops renewing and hands the lease back (another replica takes over within a round). */
  async close(): Promise<void> {
    this.stopped = true
    if (this.timer) clearTimeout(this.timer)
    // A round waiting for an unreachable Redis is not waited for.
    await Promise.race([this.tick, new Promise((r) => setTimeout(r, 1000).unref())])
    const redis = this.redis
    if (!redis) return
    if (this.mine) {
      // Closed before the lease is handed back: the next holder's probe finds the listener gone.
      await this.opts.lost()
      if (redis.status === 'ready')
        await redis.eval(RELEASE, 1, this.keys.holder, this.mine).catch(() => undefined)
    }
    this.mine = undefined
    if (redis.status === 'ready') await redis.quit().catch(() => redis.disconnect())
    else redis.disconnect()
  }
}

/** Whether a listener accepts a TCP connection within a second (the kernel accepts for a blocked process too). */
function accepts(address: Upstream | undefined): Promise<boolean> {
  if (!address) return Promise.resolve(false)
  return new Promise((resolve) => {
    const socket = connect(address.port, address.host)
    const done = (ok: boolean) => {
      socket.destroy()
      resolve(ok)
    }
    socket.setTimeout(1000, () => done(false))
    socket.once('connect', () => done(true))
    socket.once('error', () => done(false))
  })
}
