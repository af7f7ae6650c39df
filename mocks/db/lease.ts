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
  /**
   * This replica holds the database now. `first`: no replica held it before (in this Redis, as
   * far as this replica knows); `handover`: the last holder handed it back (stopped cleanly);
   * `takeover`: the last holder stopped renewing and its listener is gone. A promise returned is
   * awaited by start() (the first holder's seed of a real upstream), never by a later round.
   */
  acquired(event: Acquired): void | Promise<void>
  /** This replica no longer holds it (lost to another, or stopping): close what it served. */
  lost(): Promise<void>
  /** A campaign lost to a quicker replica: close the listener `listen` bound (nothing was served). */
  unlisten(): Promise<void>
  logger: HostLogger
  /** Lease lifetime; renewed every `ttlMs / 3`, others look every `ttlMs / 6`. */
  ttlMs?: number
  /**
   * How long a free lease whose last holder's listener neither accepts nor refuses (timeouts,
   * DNS errors: a container gone) is left alone before it is taken. Default 10 s.
   */
  unknownMs?: number
  /** Tests: the liveness probe and the clock. */
  probe?: (address: Upstream | undefined) => Promise<Liveness>
  now?: () => number
}

export interface Acquired {
  cause: 'first' | 'handover' | 'takeover'
  /** The last holder's replica name (handover, takeover). */
  previous?: string | undefined
}

export interface Holder {
  /** The holding process (its replica name and a start nonce). */
  instance: string
  replica: string
  /** Its internal listener (absent with a real upstream). */
  address?: Upstream
  /** Only in `db:last`: the holder handed the lease back (a clean stop). */
  released?: true
}

/** What a TCP probe of a listener says: only a refusal proves nobody listens there. */
export type Liveness = 'accepted' | 'refused' | 'unknown'

const DEFAULT_TTL_MS = 3000
const DEFAULT_UNKNOWN_MS = 10_000

// KEYS[1] is the lease (`db:holder`, expires), KEYS[2] the last holder (`db:last`, never
// expires): whoever finds the lease free decides from it whether a holder may still be alive
// (probe it) and whether the database existed before (a takeover never seeds a real upstream).

// Renewal: the holder's own value gets a new lifetime; a lapsed lease (Redis restarted without
// the key, or down longer than the TTL) is taken back when nobody took it meanwhile.
const RENEW = `local v = redis.call('GET', KEYS[1])
if v == ARGV[1] then redis.call('PEXPIRE', KEYS[1], ARGV[2]) redis.call('SET', KEYS[2], ARGV[1]) return 1 end
if not v then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) redis.call('SET', KEYS[2], ARGV[1]) return 1 end
return 0`

// Taking a free lease answers the last holder ('' when none) and becomes it.
const ACQUIRE = `if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  local last = redis.call('GET', KEYS[2])
  redis.call('SET', KEYS[2], ARGV[1])
  return last or '' end
return false`

// Handing back: the last holder is marked released (the next holder need not probe it).
const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[2], ARGV[2])
  return redis.call('DEL', KEYS[1]) end
return 0`

export class DbLease {
  private redis: Redis | undefined
  readonly instance: string
  private readonly ttl: number
  private readonly unknownMs: number
  private readonly keys: { holder: string; last: string }
  private readonly probe: (address: Upstream | undefined) => Promise<Liveness>
  private readonly now: () => number
  /** The lease's value while this replica holds it. */
  private mine: string | undefined
  /** The holder last seen (another replica's, or this one's); never forgotten once known. */
  private seen: Holder | undefined
  /** Since when the last holder's probe has been neither accepted nor refused. */
  private unknownSince: number | undefined
  private timer: NodeJS.Timeout | undefined
  private stopped = false
  private tick: Promise<void> = Promise.resolve()
  /** What `acquired` returned at start (the first holder's seed of a real upstream). */
  private ready: Promise<void> = Promise.resolve()
  private readonly waiters = new Set<() => void>()

  constructor(private readonly opts: LeaseOptions) {
    this.instance = `${opts.replica}~${randomBytes(6).toString('base64url')}`
    this.ttl = opts.ttlMs ?? DEFAULT_TTL_MS
    this.unknownMs = opts.unknownMs ?? DEFAULT_UNKNOWN_MS
    this.keys = { holder: `${opts.prefix}db:holder`, last: `${opts.prefix}db:last` }
    this.probe = opts.probe ?? probeListener
    this.now = opts.now ?? Date.now
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
    await this.ready
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
      timer.unref()
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
   * when another holder took over (it starts from the current seed), or when the lease is free
   * and the holder's listener refuses (gone: the next holder starts from the current seed). A
   * free lease alone is not the end: a holder stuck starting PGlite lets it lapse, and still
   * reseeds.
   */
  async waitSeeded(entry: string, ms = 20_000): Promise<void> {
    const redis = this.redis
    if (!redis) return
    const key = `${this.opts.prefix}db:seeded:${entry}`
    let expected = this.seen
    const until = this.now() + ms
    while (this.now() < until) {
      const [done, raw] = await Promise.all([redis.exists(key), redis.get(this.keys.holder)])
      if (done) return
      if (raw) {
        const current = JSON.parse(raw) as Holder
        if (!expected) expected = current
        else if (current.instance !== expected.instance) return
      } else if (expected && (await this.probe(expected.address)) === 'refused') return
      await new Promise((r) => setTimeout(r, 20))
    }
    this.opts.logger.warn({ entry, holder: expected?.replica }, 'db: the holder did not confirm the reseed')
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
  async check(): Promise<void> {
    const redis = this.redis!
    if (this.mine) {
      const ok = (await redis.eval(RENEW, 2, this.keys.holder, this.keys.last, this.mine, this.ttl)) as number
      if (ok || this.stopped) return
      const other = await redis.get(this.keys.holder)
      const taker = other ? (JSON.parse(other) as Holder) : undefined
      this.opts.logger.warn(
        { holder: taker?.replica },
        'db: this replica lost the database lease (it missed renewals): its database is closed, its rows are gone; connections go to the new holder',
      )
      this.mine = undefined
      if (taker) this.see(taker)
      await this.opts.lost()
      return
    }
    const [raw, lastRaw] = await redis.mget(this.keys.holder, this.keys.last)
    if (raw) {
      this.unknownSince = undefined
      this.see(JSON.parse(raw) as Holder)
      return
    }
    // Free. A lease lapses when its holder is dead, but also when its event loop was blocked
    // past the TTL (PGlite's start blocks it for seconds on a loaded machine) or Redis lost the
    // key: a holder whose listener still accepts is alive, and takes its lease back at its next
    // renewal, keeping its rows. The last holder comes from `db:last` (a replica that just
    // started knows it too), else from this replica's memory (Redis lost its keys).
    const last = lastRaw ? (JSON.parse(lastRaw) as Holder) : this.seen
    if (last && !last.released && last.instance !== this.instance && !(await this.gone(last))) return
    this.unknownSince = undefined
    await this.campaign(last)
  }

  /** Whether the last holder is gone: its listener refuses, or has answered nothing for `unknownMs`. */
  private async gone(last: Holder): Promise<boolean> {
    const state = await this.probe(last.address)
    if (state === 'refused') return true
    if (state === 'accepted') {
      this.unknownSince = undefined
      return false
    }
    const now = this.now()
    this.unknownSince ??= now
    if (now - this.unknownSince < this.unknownMs) return false
    this.opts.logger.warn(
      { holder: last.replica, address: last.address, ms: now - this.unknownSince },
      'db: the last holder has not answered a probe for a while (no refusal either): taken as gone',
    )
    return true
  }

  private async campaign(last: Holder | undefined): Promise<void> {
    if (this.stopped) return
    const redis = this.redis!
    const address = await this.opts.listen()
    const holder: Holder = {
      instance: this.instance,
      replica: this.opts.replica,
      ...(address ? { address } : {}),
    }
    const value = JSON.stringify(holder)
    const previousRaw = (await redis.eval(ACQUIRE, 2, this.keys.holder, this.keys.last, value, this.ttl)) as
      | string
      | null
    if (previousRaw === null) {
      // Another replica was quicker: route to it.
      await this.opts.unlisten()
      const raw = await redis.get(this.keys.holder)
      if (raw) this.see(JSON.parse(raw) as Holder)
      return
    }
    this.mine = value
    // No `db:last` in Redis but a holder known here: Redis lost its keys, the database existed.
    const previous = previousRaw ? (JSON.parse(previousRaw) as Holder) : last
    this.see(holder)
    const event: Acquired = !previous
      ? { cause: 'first' }
      : { cause: previous.released ? 'handover' : 'takeover', previous: previous.replica }
    this.ready = Promise.resolve(this.opts.acquired(event)).catch((err: Error) =>
      this.opts.logger.error({ err: err.message }, 'db: starting the database on this replica failed'),
    )
  }

  private see(holder: Holder): void {
    if (this.seen?.instance !== holder.instance)
      this.opts.logger.info(
        { holder: holder.replica, here: holder.instance === this.instance },
        'db: database holder',
      )
    this.seen = holder
    for (const w of [...this.waiters]) w()
  }

  /** Stops renewing and hands the lease back (another replica takes over within a round). */
  async close(): Promise<void> {
    this.stopped = true
    if (this.timer) clearTimeout(this.timer)
    // A round waiting for an unreachable Redis is not waited for.
    await Promise.race([this.tick, new Promise((r) => setTimeout(r, 1000).unref())])
    const redis = this.redis
    if (!redis) return
    const mine = this.mine
    this.mine = undefined
    if (mine) {
      // Closed before the lease is handed back: the next holder's probe finds the listener gone.
      await this.opts.lost()
      const released = JSON.stringify({ ...(JSON.parse(mine) as Holder), released: true })
      if (redis.status === 'ready')
        await redis.eval(RELEASE, 2, this.keys.holder, this.keys.last, mine, released).catch(() => undefined)
    }
    if (redis.status === 'ready') await redis.quit().catch(() => redis.disconnect())
    else redis.disconnect()
  }
}

/**
 * Probes a listener with a TCP connect (the kernel accepts for a blocked process too). Only
 * ECONNREFUSED proves it gone: a timeout (this process's own event loop may have been blocked
 * past it) or another error (DNS, EMFILE, an unreachable host) says nothing.
 */
export function probeListener(address: Upstream | undefined): Promise<Liveness> {
  // A real upstream's holder publishes nothing: the database outlives it, a lapse is enough.
  if (!address) return Promise.resolve('refused')
  return new Promise((resolve) => {
    const socket = connect(address.port, address.host)
    const done = (state: Liveness) => {
      socket.destroy()
      resolve(state)
    }
    socket.setTimeout(1000, () => done('unknown'))
    socket.once('connect', () => done('accepted'))
    socket.once('error', (err: NodeJS.ErrnoException) =>
      done(err.code === 'ECONNREFUSED' ? 'refused' : 'unknown'),
    )
  })
}
