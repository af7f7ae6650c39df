import { randomBytes } from 'node:crypto'
import { Redis } from 'ioredis'
import type { ReplicationSettings } from '../core/config.ts'
import type { Journal, JournalEntry, JournalFilter, OpenRequest } from '../core/journal.ts'
import type { Logger } from '../core/logger.ts'
import type { Applying, Replication } from '../core/replication.ts'
import type { ClusterCounters } from '../faults/engine.ts'
import { Compactor } from './compaction.ts'
import { countKey, tenantCounters } from './counters.ts'
import { type EntryListener, JournalPublisher } from './journal.ts'

// The world's ordered log (README "Replicas"): one Redis Stream. A write appends a command
// (XADD) and is answered once this replica's own reader has applied that entry, in stream
// order, as every replica does; so every replica applies one sequence and derives one state.
// Entries carry a nonce: a command ioredis re-sent after a reconnect (its reply lost) is
// applied once.

type Handler = (payload: never, at: Applying) => unknown

interface Pending {
  resolve(value: unknown): void
  reject(err: unknown): void
}

/** A snapshot as stored (`<prefix>snapshot`, field `body`; field `covers` its last entry). */
interface SnapshotBody {
  covers: string
  writer: string
  at: string
  nonces: string[]
  /** [id, kind, origin, nonce, payload] of each entry kept (mocks/replica/compaction.ts). */
  entries: [string, string, string, string, string][]
}

/** Stream ids compared as (ms, seq). */
export function compareIds(a: string, b: string): number {
  const [am = '0', as = '0'] = a.split('-')
  const [bm = '0', bs = '0'] = b.split('-')
  const ms = BigInt(am) - BigInt(bm)
  if (ms !== 0n) return ms < 0n ? -1 : 1
  const seq = BigInt(as) - BigInt(bs)
  return seq === 0n ? 0 : seq < 0n ? -1 : 1
}

/** How many nonces of applied entries are remembered (a resent XADD arrives soon after). */
const SEEN_NONCES = 10_000
/** Heartbeat period and lifetime of the `alive:` key (a replica is gone once it has lapsed twice). */
export const HEARTBEAT_MS = 1000
const ALIVE_TTL_MS = 3000
/** A replica's applied position counts for trimming while it was noted this recently. */
const POSITION_GRACE_MS = 15_000
/** Nonces a snapshot carries (a re-sent XADD of an entry it covers is then still applied once). */
const SNAPSHOT_NONCES = 2000
/** How long one replica may hold the snapshot lock. */
const SNAPSHOT_LOCK_MS = 30_000

/** Writes a snapshot only if it covers more of the log than the one stored (writers may race). */
const PUT_SNAPSHOT = `
local cur = redis.call('HGET', KEYS[1], 'covers')
if cur then
  local cm, cs = string.match(cur, '(%d+)-(%d+)')
  local nm, ns = string.match(ARGV[1], '(%d+)-(%d+)')
  cm, cs, nm, ns = tonumber(cm), tonumber(cs), tonumber(nm), tonumber(ns)
  if cm > nm or (cm == nm and cs >= ns) then return 0 end
end
redis.call('HSET', KEYS[1], 'covers', ARGV[1], 'body', ARGV[2])
return 1`
/** Deletes the lock only if this instance still holds it. */
const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`

export class RedisLog implements Replication {
  readonly replica: string
  readonly instance: string
  readonly stream: string
  /** Commands (XADD, INCR, journal writes). Offline commands wait for Redis to come back. */
  readonly writer: Redis
  /** The blocking XREAD loop alone. */
  private readonly reader: Redis
  private readonly handlers = new Map<string, Handler>()
  private readonly pending = new Map<string, Pending>()
  private readonly seen = new Set<string>()
  /** The last entry applied here. */
  last = '0-0'
  /** The entry being applied (its id keys the counters of faults it installs). */
  applying: Applying | undefined
  private running = false
  private loop: Promise<void> | undefined
  private readonly listeners = new Set<() => void>()
  private readonly journals: JournalPublisher
  /** Instances watched for their heartbeat: their `gone` callbacks and how many checks missed them. */
  private readonly watched = new Map<string, { gone: (() => void)[]; missed: number }>()
  private heartbeat: NodeJS.Timeout | undefined
  /** The entries a snapshot holds (what the world still needs), kept as they are applied. */
  readonly compactor = new Compactor()
  /** Entries applied since this replica last tried a snapshot; one is in progress. */
  private sinceSnapshot = 0
  private snapshotting: Promise<void> | undefined
  /** A trim went past this replica's position (cut off from Redis too long): said once. */
  private behindTrim = false

  constructor(
    readonly settings: ReplicationSettings,
    private readonly logger: Logger,
  ) {
    this.replica = settings.name
    this.instance = `${settings.name}~${randomBytes(6).toString('base64url')}`
    this.stream = `${settings.prefix}log`
    const options = {
      // Wait for Redis (restarts included) rather than fail a write: an answer means applied.
      maxRetriesPerRequest: null,
      // Connecting at once, retrying for ever: a replica started before Redis (dev:cluster) waits.
      retryStrategy: () => 100,
    }
    this.writer = new Redis(settings.url, options)
    this.reader = new Redis(settings.url, options)
    this.journals = new JournalPublisher(
      this.writer,
      settings.prefix,
      this.replica,
      this.instance,
      () => this.applying?.entry,
      logger,
    )
    let down = false
    for (const r of [this.writer, this.reader]) {
      r.on('error', (err: Error) => {
        if (!down)
          logger.warn({ err: err.message, redis: settings.url }, 'replica: Redis unreachable, retrying')
        down = true
      })
      r.on('ready', () => {
        if (down) logger.info({ redis: settings.url }, 'replica: Redis back')
        down = false
      })
    }
  }

  handle(kind: string, apply: Handler): void {
    if (this.handlers.has(kind)) throw new Error(`replica: a handler for "${kind}" exists`)
    this.handlers.set(kind, apply)
  }

  submit<T>(kind: string, payload: unknown): Promise<T> {
    const nonce = randomBytes(9).toString('base64url')
    return new Promise<T>((resolve, reject) => {
      this.pending.set(nonce, { resolve: resolve as (v: unknown) => void, reject })
      this.writer
        .xadd(
          this.stream,
          '*',
          'k',
          kind,
          'o',
          this.replica,
          'n',
          nonce,
          'p',
          JSON.stringify(payload ?? null),
        )
        .catch((err: unknown) => {
          this.pending.delete(nonce)
          reject(err)
        })
    })
  }

  count(key: string): Promise<number> {
    return countKey(this.writer, `${this.settings.prefix}count:${key}`)
  }

  watch(instance: string, gone: () => void): void {
    if (instance === this.instance) return
    const w = this.watched.get(instance)
    if (w) w.gone.push(gone)
    else this.watched.set(instance, { gone: [gone], missed: 0 })
  }

  private alive(instance: string): string {
    return `${this.settings.prefix}alive:${instance}`
  }

  /** One beat: this instance's key renewed; watched instances whose key lapsed twice are gone. */
  private async beat(): Promise<void> {
    // Sent before anything this instance submits (same connection): others see it alive first.
    // With it, where this replica is in the log (trims never pass it) and how far the log was trimmed.
    const [, , trimmed] =
      (await this.writer
        .pipeline()
        .set(this.alive(this.instance), '1', 'PX', ALIVE_TTL_MS)
        .hset(this.key('applied'), this.instance, `${this.last} ${Date.now()}`)
        .get(this.key('trimmed'))
        .exec()) ?? []
    const cut = trimmed?.[1]
    if (typeof cut === 'string' && compareIds(cut, this.last) > 0 && !this.behindTrim) {
      this.behindTrim = true
      this.logger.error(
        { trimmedTo: cut, applied: this.last },
        'replica: the log was trimmed past this replica (cut off from Redis too long): restart it to load the snapshot',
      )
    }
    const ids = [...this.watched.keys()]
    if (!ids.length) return
    const pipeline = this.writer.pipeline()
    for (const id of ids) pipeline.exists(this.alive(id))
    const res = (await pipeline.exec()) ?? []
    ids.forEach((id, i) => {
      const [err, n] = res[i] ?? [null, 1]
      const w = this.watched.get(id)
      if (err || !w) return
      // Twice absent: a Redis restarted without the keys gets a beat's time to see them renewed.
      w.missed = n === 0 ? w.missed + 1 : 0
      if (w.missed < 2) return
      this.watched.delete(id)
      this.logger.info({ instance: id }, 'replica: another replica stopped heartbeating')
      for (const g of w.gone) g()
    })
  }

  async tenantSeen(tenant: string, seenAt: number, keepMs: number): Promise<number> {
    const key = `${this.settings.prefix}seen:${tenant}`
    const res = await this.writer
      .pipeline()
      .hset(key, this.instance, String(seenAt))
      .pexpire(key, keepMs)
      .hvals(key)
      .exec()
    const values = (res?.[2]?.[1] as string[] | undefined) ?? []
    return Math.max(seenAt, ...values.map(Number).filter(Number.isFinite))
  }

  /** A tenant's cluster-wide fault counters: keyed by tenant, the installing entry and the fault. */
  counters(tenant: string): ClusterCounters {
    return tenantCounters(
      {
        writer: this.writer,
        prefix: this.settings.prefix,
        replica: this.replica,
        logger: this.logger,
        applying: () => this.applying,
      },
      tenant,
    )
  }

  /** Stamps a tenant's journal with this replica's name and publishes its entries (merged journal). */
  watchJournal(tenant: string, journal: Journal): void {
    this.journals.watch(tenant, journal)
  }

  /** Every replica's journal entries of a tenant, oldest first. */
  mergedJournal(tenant: string, journal: Journal, filter: JournalFilter): Promise<JournalEntry[]> {
    return this.journals.merged(tenant, journal, filter)
  }

  /** Other replicas' entries of the tenant's current journal as they are published (live streams). */
  followJournal(tenant: string, listener: EntryListener): () => void {
    return this.journals.follow(tenant, listener)
  }

  /** The tenant's requests open on other replicas (the verdicts' timeout rule). */
  othersOpen(tenant: string): Promise<OpenRequest[]> {
    return this.journals.othersOpen(tenant)
  }

  /** Called after each applied entry (tests, the bench: "has this replica caught up?"). */
  onApplied(listener: () => void): () => void {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }

  /**
   * Connects and replays the log from the start up to its end as of now (a late or restarted
   * replica catches up before it listens); then keeps reading.
   */
  async start(): Promise<void> {
    // Noted as having applied nothing yet: no trim passes this replica while it loads a snapshot.
    await this.writer.hset(this.key('applied'), this.instance, `0-0 ${Date.now()}`)
    await this.loadSnapshot()
    const tail = (
      (await this.writer.xrevrange(this.stream, '+', '-', 'COUNT', 1)) as [string, string[]][]
    )[0]?.[0]
    this.running = true
    await this.beat()
    this.heartbeat = setInterval(() => {
      this.beat().catch((err: Error) => this.logger.debug({ err: err.message }, 'replica: heartbeat failed'))
    }, HEARTBEAT_MS)
    this.heartbeat.unref()
    this.loop = this.read()
    if (tail) await this.until(tail)
    this.logger.info({ replica: this.replica, replayedTo: this.last }, 'replica: caught up with the log')
  }

  private key(name: string): string {
    return `${this.settings.prefix}${name}`
  }

  /** Snapshot every this many entries applied (MOCKS_SNAPSHOT_EVERY). */
  get snapshotEvery(): number {
    return this.settings.snapshotEvery ?? 1000
  }

  /** The latest snapshot's entries applied, as the log's would be; reading goes on after it. */
  private async loadSnapshot(): Promise<void> {
    const snap = await this.writer.hgetall(this.key('snapshot'))
    if (!snap.covers || !snap.body) return
    const body = JSON.parse(snap.body) as SnapshotBody
    for (const [id, kind, origin, nonce, payload] of body.entries) {
      await this.apply(id, ['k', kind, 'o', origin, 'n', nonce, 'p', payload])
      this.journals.noteApplied(id)
    }
    for (const n of body.nonces) this.seen.add(n)
    this.last = snap.covers
    this.logger.info(
      { covers: snap.covers, entries: body.entries.length, writer: body.writer },
      'replica: loaded the log snapshot',
    )
  }

  /**
   * Writes a snapshot of the world as of the entry just applied (its body is built now,
   * synchronously), if no other replica is writing one, then trims the log up to it.
   */
  private async snapshot(): Promise<void> {
    const covers = this.last
    const body: SnapshotBody = {
      covers,
      writer: this.instance,
      at: new Date().toISOString(),
      nonces: [...this.seen].slice(-SNAPSHOT_NONCES),
      entries: this.compactor.entries().map((e) => [e.id, e.kind, e.origin, e.nonce, e.payload]),
    }
    const json = JSON.stringify(body)
    const lock = this.key('snapshot:lock')
    try {
      if ((await this.writer.set(lock, this.instance, 'PX', SNAPSHOT_LOCK_MS, 'NX')) !== 'OK') return
      try {
        if ((await this.writer.eval(PUT_SNAPSHOT, 1, this.key('snapshot'), covers, json)) === 1)
          await this.trim(covers)
      } finally {
        await this.writer.eval(RELEASE, 1, lock, this.instance)
      }
    } catch (err) {
      this.logger.debug({ err: (err as Error).message }, 'replica: snapshot not written (Redis?)')
    }
  }

  /**
   * Trims the log before the snapshot's entry, and before the position of any replica noted in
   * the last POSITION_GRACE_MS (one still reading, one loading a snapshot): none misses an entry.
   */
  private async trim(covers: string): Promise<void> {
    const key = this.key('applied')
    const positions = await this.writer.hgetall(key)
    const now = Date.now()
    let min = covers
    const stale: string[] = []
    for (const [instance, value] of Object.entries(positions)) {
      const [id = '0-0', at = '0'] = value.split(' ')
      if (now - Number(at) > POSITION_GRACE_MS) stale.push(instance)
      else if (compareIds(id, min) < 0) min = id
    }
    const pipeline = this.writer.pipeline()
    if (stale.length) pipeline.hdel(key, ...stale)
    if (min !== '0-0') pipeline.xtrim(this.stream, 'MINID', min).set(this.key('trimmed'), min)
    await pipeline.exec()
    this.logger.debug({ covers, trimmedTo: min }, 'replica: snapshot written, log trimmed')
  }

  async caughtUp(): Promise<void> {
    const tail = (
      (await this.writer.xrevrange(this.stream, '+', '-', 'COUNT', 1)) as [string, string[]][]
    )[0]?.[0]
    if (tail) await this.until(tail)
  }

  /** Resolves once this replica has applied the entry `id` (or a later one). */
  until(id: string): Promise<void> {
    if (compareIds(this.last, id) >= 0) return Promise.resolve()
    return new Promise((resolve) => {
      const off = this.onApplied(() => {
        if (compareIds(this.last, id) < 0) return
        off()
        resolve()
      })
    })
  }

  private async read(): Promise<void> {
    while (this.running) {
      let res: [string, [string, string[]][]][] | null
      try {
        res = (await this.reader.xread('COUNT', 500, 'BLOCK', 1000, 'STREAMS', this.stream, this.last)) as
          | [string, [string, string[]][]][]
          | null
      } catch (err) {
        if (!this.running) return
        this.logger.debug({ err: (err as Error).message }, 'replica: log read failed, retrying')
        await new Promise((r) => setTimeout(r, 100))
        continue
      }
      for (const [, entries] of res ?? []) {
        for (const [id, fields] of entries) {
          await this.apply(id, fields)
          this.last = id
          this.journals.noteApplied(id)
          if (++this.sinceSnapshot >= this.snapshotEvery && !this.snapshotting) {
            this.sinceSnapshot = 0
            // Its body is taken now (this point of the log); writing it goes on meanwhile.
            this.snapshotting = this.snapshot().finally(() => {
              this.snapshotting = undefined
            })
          }
          for (const l of [...this.listeners]) l()
        }
      }
    }
  }

  private async apply(id: string, fields: string[]): Promise<void> {
    const f: Record<string, string> = {}
    for (let i = 0; i + 1 < fields.length; i += 2) f[fields[i]!] = fields[i + 1]!
    const { k: kind = '', o: origin = '', n: nonce = '', p = 'null' } = f
    if (this.seen.has(nonce)) return
    this.seen.add(nonce)
    if (this.seen.size > SEEN_NONCES) this.seen.delete(this.seen.values().next().value as string)
    const mine = origin === this.replica ? this.pending.get(nonce) : undefined
    if (mine) this.pending.delete(nonce)
    const handler = this.handlers.get(kind)
    if (!handler) {
      this.logger.warn({ kind, entry: id }, 'replica: no handler for a log entry (a newer replica wrote it?)')
      mine?.reject(new Error(`no handler for ${kind}`))
      this.compactor.note({ id, kind, origin, nonce, payload: p }, null, true)
      return
    }
    this.applying = { entry: id, origin, mine: mine !== undefined }
    const payload = JSON.parse(p) as unknown
    let ok = true
    try {
      const result = await handler(payload as never, this.applying)
      mine?.resolve(result)
    } catch (err) {
      ok = false
      if (mine) mine.reject(err)
      else
        this.logger.debug({ kind, entry: id, err: (err as Error).message }, 'replica: entry refused here too')
    } finally {
      this.applying = undefined
    }
    this.compactor.note({ id, kind, origin, nonce, payload: p }, payload, ok)
  }

  async close(): Promise<void> {
    if (this.heartbeat) clearInterval(this.heartbeat)
    this.journals.stop()
    // Redis gone (shutting a cluster down): what is unpublished is dropped rather than waited for.
    if (this.writer.status === 'ready')
      await Promise.race([this.journals.flush(), new Promise((r) => setTimeout(r, 1000).unref())])
    this.running = false
    this.reader.disconnect()
    await this.loop?.catch(() => undefined)
    for (const p of this.pending.values()) p.reject(new Error('replica closed'))
    this.pending.clear()
    // Gone at once for the others (its sockets close with it; their presence goes there too),
    // and its position no longer holds trims back.
    if (this.writer.status === 'ready')
      await this.writer
        .pipeline()
        .del(this.alive(this.instance))
        .hdel(this.key('applied'), this.instance)
        .exec()
        .catch(() => undefined)
    if (this.writer.status === 'ready') await this.writer.quit().catch(() => this.writer.disconnect())
    else this.writer.disconnect()
  }
}
