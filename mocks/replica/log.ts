import { randomBytes } from 'node:crypto'
import { Redis } from 'ioredis'
import type { ReplicationSettings } from '../core/config.ts'
import type { Journal, JournalEntry, JournalFilter, OpenRequest } from '../core/journal.ts'
import type { Logger } from '../core/logger.ts'
import {
  type Applying,
  CATCH_UP_MS,
  isUntouched,
  type Replication,
  type SubmitOptions,
} from '../core/replication.ts'
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
/** Snapshots in a row held back by one unmoving position before a warning says so. */
const HELD_SNAPSHOTS = 3
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
/** Lua: compares two stream ids (a < b). */
const LESS = `
local function less(a, b)
  local am, as = string.match(a, '(%d+)-(%d+)')
  local bm, bs = string.match(b, '(%d+)-(%d+)')
  am, as, bm, bs = tonumber(am), tonumber(as), tonumber(bm), tonumber(bs)
  return am < bm or (am == bm and as < bs)
end`
/**
 * Notes this instance's applied position stamped with Redis's clock (never the replica's own:
 * a skewed one would make a live position look stale), and answers the last id trimmed away.
 */
const NOTE_POSITION = `
local t = redis.call('TIME')
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2] .. ' ' .. (t[1] * 1000 + math.floor(t[2] / 1000)))
return redis.call('GET', KEYS[2])`
/**
 * Trims the log before the snapshot's entry and before every position noted in the last
 * ARGV[2] ms (Redis's clock), dropping older positions, all at once (a position renewed meanwhile
 * is never lost). KEYS: positions, log, trimmed. Notes in `trimmed` the last id it removed (a
 * replica whose applied entry is older has missed entries); answers [the position trimmed to,
 * that id or ''].
 */
const TRIM = `${LESS}
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
local min = ARGV[1]
local pos = redis.call('HGETALL', KEYS[1])
for i = 1, #pos, 2 do
  local id, at = string.match(pos[i + 1], '^(%S+) (%d+)$')
  if not id or now - tonumber(at) > tonumber(ARGV[2]) then redis.call('HDEL', KEYS[1], pos[i])
  elseif less(id, min) then min = id end
end
if min == '0-0' then return {min, ''} end
local gone = redis.call('XREVRANGE', KEYS[2], '(' .. min, '-', 'COUNT', 1)
if #gone == 0 then return {min, ''} end
redis.call('XTRIM', KEYS[2], 'MINID', min)
local cur = redis.call('GET', KEYS[3])
if not cur or less(cur, gone[1][1]) then redis.call('SET', KEYS[3], gone[1][1]) end
return {min, gone[1][1]}`
/**
 * The instances, other than ARGV[3], whose noted position (KEYS[1]) is before entry ARGV[2] and
 * whose heartbeat key (ARGV[1] .. instance) is live: what a write waits for. One round trip,
 * whatever else the Redis holds.
 */
const BEHIND = `${LESS}
local behind = {}
local pos = redis.call('HGETALL', KEYS[1])
for i = 1, #pos, 2 do
  local id = string.match(pos[i + 1], '^(%S+)')
  if pos[i] ~= ARGV[3] and id and less(id, ARGV[2]) and redis.call('EXISTS', ARGV[1] .. pos[i]) == 1 then
    behind[#behind + 1] = pos[i]
  end
end
return behind`
/** Deletes the lock only if this instance still holds it. */
const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`

export interface RedisLogTuning {
  /** How long a noted position holds trims back without being renewed (default 15 s; tests). */
  positionGraceMs?: number
}

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
  /** A trim went past this replica's position (cut off from Redis too long): it stopped reading. */
  private behindTrim = false
  /** A position that held this replica's trims back, and for how many snapshots in a row. */
  private held: { at: string; times: number } | undefined
  /** The snapshot is loaded (before, `last` is not yet a position that a trim can pass). */
  private loaded = false
  /**
   * What a replica trimmed past does once it has stopped (README "Replicas"): exit with status
   * 1, so its supervisor (compose's restart policy, concurrently, systemd) starts it again,
   * and the new process loads the snapshot. Tests replace it.
   */
  onTrimmedPast: () => void = () => process.exit(1)

  constructor(
    readonly settings: ReplicationSettings,
    private readonly logger: Logger,
    private readonly tuning: RedisLogTuning = {},
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

  submit<T>(kind: string, payload: unknown, opts: SubmitOptions = {}): Promise<T> {
    const nonce = randomBytes(9).toString('base64url')
    const fields = ['k', kind, 'o', this.replica, 'n', nonce, 'p', JSON.stringify(payload ?? null)]
    // Every replica applying an entry marked `w` notes its position at once (its heartbeat
    // would take up to a second): what the submitter waits for.
    if (opts.everywhere) fields.push('w', '1')
    let added: Promise<string | null> | undefined
    const applied = new Promise<T>((resolve, reject) => {
      this.pending.set(nonce, { resolve: resolve as (v: unknown) => void, reject })
      added = this.writer.xadd(this.stream, '*', ...fields)
      added.catch((err: unknown) => {
        this.pending.delete(nonce)
        reject(err)
      })
    })
    if (!opts.everywhere) return applied
    return applied.then(async (result) => {
      const id = await added
      if (id) await this.appliedEverywhere(id)
      return result
    })
  }

  /**
   * Resolves once every other live instance has noted a position at or past `id`, or after `ms`:
   * one that is cut off from Redis, or frozen, delays an answer by the bound at most, never
   * fails it. An instance counts while it heartbeats and has a position noted (both go when it
   * stops, and its position when a trim cuts it off).
   */
  async appliedEverywhere(id: string, ms = CATCH_UP_MS): Promise<void> {
    let timer: NodeJS.Timeout | undefined
    let done = false
    let waiting: string[] = []
    const bound = new Promise<'late'>((resolve) => {
      timer = setTimeout(() => resolve('late'), ms)
    })
    const wait = async () => {
      // Most answers come within a few milliseconds; a slow replica is polled less often.
      for (let pause = 2; !done; pause = Math.min(pause * 2, 50)) {
        waiting = (await this.writer.eval(
          BEHIND,
          1,
          this.key('applied'),
          this.alive(''),
          id,
          this.instance,
        )) as string[]
        if (waiting.length === 0 || done) return
        await new Promise((r) => setTimeout(r, pause))
      }
    }
    const outcome = await Promise.race([wait().catch(() => 'late' as const), bound])
    clearTimeout(timer)
    done = true
    if (outcome === 'late')
      this.logger.debug({ entry: id, waiting }, 'replica: answered before every replica applied the entry')
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

  /** Where this replica is in the log, noted now (a submitter waiting for every replica reads it). */
  private notePosition(): void {
    this.writer
      .eval(NOTE_POSITION, 2, this.key('applied'), this.key('trimmed'), this.instance, this.last)
      .catch(() => undefined)
  }

  /** One beat: this instance's key renewed; watched instances whose key lapsed twice are gone. */
  private async beat(): Promise<void> {
    // Sent before anything this instance submits (same connection): others see it alive first.
    // With it, where this replica is in the log (trims never pass it) and how far the log was trimmed.
    const [, noted] =
      (await this.writer
        .pipeline()
        .set(this.alive(this.instance), '1', 'PX', ALIVE_TTL_MS)
        .eval(NOTE_POSITION, 2, this.key('applied'), this.key('trimmed'), this.instance, this.last)
        .exec()) ?? []
    const cut = noted?.[1]
    if (this.loaded && typeof cut === 'string' && compareIds(cut, this.last) > 0) this.trimmedPast(cut)
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
    // Noted as having applied nothing yet, and renewed every beat while the snapshot loads
    // (however long that takes): no trim passes this replica meanwhile.
    await this.beat()
    this.heartbeat = setInterval(() => {
      this.beat().catch((err: Error) => this.logger.debug({ err: err.message }, 'replica: heartbeat failed'))
    }, HEARTBEAT_MS)
    this.heartbeat.unref()
    await this.loadSnapshot()
    // Trimmed past what it covers all the same (Redis unreachable for the grace meanwhile):
    // the state built so far cannot be completed, so this start fails (the process exits 1).
    const cut = await this.writer.get(this.key('trimmed'))
    if (cut && compareIds(cut, this.last) > 0) {
      this.behindTrim = true
      throw new Error(
        `replica: the log was trimmed past the snapshot this replica loaded (trimmed to ${cut}, loaded to ${this.last}): start it again`,
      )
    }
    this.loaded = true
    const tail = (
      (await this.writer.xrevrange(this.stream, '+', '-', 'COUNT', 1)) as [string, string[]][]
    )[0]?.[0]
    this.running = true
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
   * If no other replica is writing one, writes a snapshot of the world as of the last entry
   * applied (its body built once the lock is taken, synchronously, between two entries), then
   * trims the log up to it. Never from a replica trimmed past (its world has a gap).
   */
  private async snapshot(): Promise<void> {
    if (this.behindTrim) return
    const lock = this.key('snapshot:lock')
    try {
      if ((await this.writer.set(lock, this.instance, 'PX', SNAPSHOT_LOCK_MS, 'NX')) !== 'OK') return
      try {
        if (this.behindTrim) return
        const covers = this.last
        const body: SnapshotBody = {
          covers,
          writer: this.instance,
          at: new Date().toISOString(),
          nonces: [...this.seen].slice(-SNAPSHOT_NONCES),
          entries: this.compactor.entries().map((e) => [e.id, e.kind, e.origin, e.nonce, e.payload]),
        }
        const json = JSON.stringify(body)
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
   * the last POSITION_GRACE_MS by Redis's clock (one still reading, one loading a snapshot):
   * none misses an entry. One script (TRIM).
   */
  private async trim(covers: string): Promise<void> {
    const grace = this.tuning.positionGraceMs ?? POSITION_GRACE_MS
    const [min = covers, removedTo] = (await this.writer.eval(
      TRIM,
      3,
      this.key('applied'),
      this.stream,
      this.key('trimmed'),
      covers,
      grace,
    )) as string[]
    this.logger.debug({ covers, trimmedTo: min, removedTo }, 'replica: snapshot written, log trimmed')
    // A live replica whose position stays put (a handler that never resolves) holds every trim
    // back, for ever: said once it has for HELD_SNAPSHOTS snapshots in a row.
    if (compareIds(min, covers) >= 0) this.held = undefined
    else if (this.held?.at !== min) this.held = { at: min, times: 1 }
    else if (++this.held.times === HELD_SNAPSHOTS)
      this.logger.warn(
        { position: min, covers },
        'replica: a live replica has not moved past this entry for several snapshots (stuck applying it?): the log is not trimmed past it',
      )
  }

  /**
   * This replica missed entries a trim removed (cut off from Redis, or stalled, longer than the
   * grace): it stops applying (its world would have a gap), never writes a snapshot, says so,
   * and exits (onTrimmedPast) so that a restart loads the snapshot.
   */
  private trimmedPast(cut: string): void {
    if (this.behindTrim) return
    this.behindTrim = true
    this.running = false
    this.logger.error(
      { trimmedTo: cut, applied: this.last },
      'replica: the log was trimmed past this replica (cut off from Redis too long): it stopped applying the log and exits with status 1; restarted, it loads the snapshot',
    )
    for (const p of this.pending.values()) p.reject(new Error('replica: trimmed past, restarting'))
    this.pending.clear()
    // Its position no longer holds trims back (nor for the grace after it exits).
    if (this.heartbeat) clearInterval(this.heartbeat)
    void Promise.race([
      this.writer.hdel(this.key('applied'), this.instance).catch(() => undefined),
      new Promise((r) => setTimeout(r, 1000).unref()),
    ]).then(() => this.onTrimmedPast())
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
      if (!res?.length) continue
      // Entries follow `last`, unless a trim removed some in between (this replica was cut off,
      // or stalled, past the grace; a reconnected reader re-sends its XREAD at once): checked
      // before applying any. (A trim is one script: it removed entries before this reply, or
      // notes them after it and is seen here or at the next read.)
      const cut = await this.writer.get(this.key('trimmed')).catch(() => null)
      if (cut && compareIds(cut, this.last) > 0) {
        this.trimmedPast(cut)
        return
      }
      for (const [, entries] of res) {
        for (const [id, fields] of entries) {
          if (!this.running) return
          if (await this.apply(id, fields)) this.notePosition()
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

  /**
   * Applies one entry here; answers whether another replica's submitter waits for this one to
   * have applied it (`w`; the submitter never reads its own position).
   */
  private async apply(id: string, fields: string[]): Promise<boolean> {
    const f: Record<string, string> = {}
    for (let i = 0; i + 1 < fields.length; i += 2) f[fields[i]!] = fields[i + 1]!
    const { k: kind = '', o: origin = '', n: nonce = '', p = 'null' } = f
    const marked = f.w === '1' && origin !== this.replica
    if (this.seen.has(nonce)) {
      this.last = id
      return marked
    }
    this.seen.add(nonce)
    if (this.seen.size > SEEN_NONCES) this.seen.delete(this.seen.values().next().value as string)
    const mine = origin === this.replica ? this.pending.get(nonce) : undefined
    if (mine) this.pending.delete(nonce)
    const handler = this.handlers.get(kind)
    if (!handler) {
      this.logger.warn({ kind, entry: id }, 'replica: no handler for a log entry (a newer replica wrote it?)')
      mine?.reject(new Error(`no handler for ${kind}`))
      this.compactor.note({ id, kind, origin, nonce, payload: p }, null, true)
      this.last = id
      return marked
    }
    this.applying = { entry: id, origin, mine: mine !== undefined }
    const payload = JSON.parse(p) as unknown
    let ok = true
    let refusedUntouched = false
    try {
      const result = await handler(payload as never, this.applying)
      mine?.resolve(result)
    } catch (err) {
      ok = false
      refusedUntouched = isUntouched(err)
      if (mine) mine.reject(err)
      else
        this.logger.debug({ kind, entry: id, err: (err as Error).message }, 'replica: entry refused here too')
    } finally {
      this.applying = undefined
    }
    // With the entry noted, in the same synchronous step: a snapshot sees both or neither.
    this.compactor.note({ id, kind, origin, nonce, payload: p }, payload, ok, refusedUntouched)
    this.last = id
    return marked
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
    // A snapshot being written finishes (its trim, its lock released) while Redis is there.
    if (this.writer.status === 'ready')
      await Promise.race([this.snapshotting, new Promise((r) => setTimeout(r, 2000).unref())])
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
