import type { ChainableCommander, Redis } from 'ioredis'
import {
  type Journal,
  type JournalEntry,
  type JournalFilter,
  matchesFilter,
  type OpenRequest,
} from '../core/journal.ts'
import type { Logger } from '../core/logger.ts'

// The merged journal of replicated mode: each replica stamps its entries with its name and
// publishes them to one capped stream (`<prefix>journal`), in batches off the request path
// (a timer flushes what was recorded since, in one pipeline). GET /__mocks/journal on any
// replica reads the stream back: every replica's entries of the tenant's current journal, its
// own unflushed ones from memory, ordered by time.
//
// - An entry names the process instance that recorded it (a restarted replica is a new one):
//   the merge skips only this run's own entries (they are in memory), never a previous run's.
// - "The current journal" is named by its epoch: the id of the log entry that last cleared it
//   (a reset, DELETE /journal) or created its tenant, '0' for the default tenant never cleared.
//   Every replica applies the same log, so every replica names it alike, however it got there
//   (replay from the start or from a snapshot).
// - Each merged entry carries `cursor`, its id in the journal stream: one order for the whole
//   cluster (verdicts' `since`), where `seq` is each replica's own count.
// - Live streams follow the stream (one blocking reader, only while a live stream is open),
//   and requests still open are published every OPEN_MS while there are any (the verdicts'
//   timeout rule on any replica sees requests held on every replica).

const FLUSH_MS = 50
/** Entries kept in the stream (approximately: MAXLEN ~). */
const MAX_LEN = 20_000
/** How often a replica publishes its open requests, and how long a published list counts. */
const OPEN_MS = 250
const OPEN_STALE_MS = 1500

interface Queued {
  tenant: string
  epoch: string
  entry: JournalEntry
}

interface Watched {
  journal: Journal
  generation: number
  epoch: string
  /** Open requests were published last tick (so an empty list is published once). */
  hadOpen: boolean
}

export type EntryListener = (entry: JournalEntry) => void

export class JournalPublisher {
  private queue: Queued[] = []
  private timer: ReturnType<typeof setInterval> | undefined
  private flushing: Promise<void> = Promise.resolve()
  private readonly watched = new Map<string, Watched>()
  private readonly followers = new Map<string, Set<EntryListener>>()
  private tailer: Redis | undefined
  private tailing: Promise<void> | undefined
  private openTimer: ReturnType<typeof setInterval> | undefined
  private stopped = false

  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    readonly replica: string,
    readonly instance: string,
    /** The log entry being applied now (a clear happens while one is). */
    private readonly applying: () => string | undefined,
    private readonly logger: Logger,
  ) {}

  get stream(): string {
    return `${this.prefix}journal`
  }

  /** Stamps a tenant's journal with this replica's name and publishes what it records. */
  watch(tenant: string, journal: Journal): void {
    journal.replica = this.replica
    const w: Watched = {
      journal,
      generation: journal.generation,
      epoch: this.applying() ?? '0',
      hadOpen: false,
    }
    this.watched.set(tenant, w)
    journal.subscribe(
      (entry) => {
        this.sync(w)
        this.queue.push({ tenant, epoch: w.epoch, entry })
        if (!this.timer) {
          this.timer = setInterval(() => void this.flush(), FLUSH_MS)
          this.timer.unref?.()
        }
      },
      () => {
        if (this.watched.get(tenant) === w) this.watched.delete(tenant)
      },
    )
    if (!this.openTimer && !this.stopped) {
      this.openTimer = setInterval(() => void this.publishOpen(), OPEN_MS)
      this.openTimer.unref?.()
    }
  }

  /** A journal cleared since last seen starts a new epoch: the log entry clearing it. */
  private sync(w: Watched): void {
    if (w.journal.generation === w.generation) return
    w.generation = w.journal.generation
    w.epoch = this.applying() ?? w.epoch
  }

  /** After each applied log entry (a clear may have happened in it). */
  noteApplied(entry: string): void {
    for (const w of this.watched.values()) {
      if (w.journal.generation === w.generation) continue
      w.generation = w.journal.generation
      w.epoch = entry
    }
  }

  /** The tenant's current epoch here (tests). */
  epochOf(tenant: string): string | undefined {
    const w = this.watched.get(tenant)
    if (w) this.sync(w)
    return w?.epoch
  }

  /** Writes what was queued (one pipeline); the interval stops once nothing is. */
  flush(): Promise<void> {
    const batch = this.queue
    if (batch.length === 0) {
      if (this.timer) clearInterval(this.timer)
      this.timer = undefined
      return this.flushing
    }
    this.queue = []
    // One transaction: the entries, then the open lists of their tenants as of now (without the
    // requests these entries record). A reader never sees a request both recorded and still
    // open (the verdicts' timeout rule would count it twice, as open for too long).
    const pipeline = this.redis.multi()
    for (const q of batch)
      pipeline.xadd(
        this.stream,
        'MAXLEN',
        '~',
        MAX_LEN,
        '*',
        't',
        q.tenant,
        'g',
        q.epoch,
        'i',
        this.instance,
        'e',
        JSON.stringify(q.entry),
      )
    for (const tenant of new Set(batch.map((q) => q.tenant))) {
      const w = this.watched.get(tenant)
      if (w?.hadOpen) this.openInto(pipeline, tenant, w)
    }
    this.flushing = this.flushing
      .then(() => pipeline.exec())
      .then(
        (res) => {
          // Our own entries, served from memory, get their cursor too.
          batch.forEach((q, i) => {
            const id = res?.[i]?.[1]
            if (typeof id === 'string') q.entry.cursor = id
          })
        },
        (err: Error) => this.logger.warn({ err: err.message }, 'replica: journal batch not published'),
      )
    return this.flushing
  }

  /** An entry of the stream, if it belongs to the tenant's current journal and to another run. */
  private foreign(id: string, f: string[], tenant: string, epoch: string): JournalEntry | undefined {
    const m: Record<string, string> = {}
    for (let i = 0; i + 1 < f.length; i += 2) m[f[i]!] = f[i + 1]!
    if (m.t !== tenant || m.g !== epoch || m.i === this.instance || !m.e) return undefined
    const entry = JSON.parse(m.e) as JournalEntry
    entry.cursor = id
    return entry
  }

  /** Every replica's entries of the tenant's current journal, filtered, oldest first. */
  async merged(tenant: string, journal: Journal, filter: JournalFilter): Promise<JournalEntry[]> {
    await this.flush()
    const epoch = this.epochOf(tenant) ?? '0'
    const raw = (await this.redis.xrevrange(this.stream, '+', '-', 'COUNT', MAX_LEN)) as [string, string[]][]
    const others: JournalEntry[] = []
    for (const [id, f] of raw) {
      const entry = this.foreign(id, f, tenant, epoch)
      if (entry) others.push(entry)
    }
    const all = [...journal.list({}), ...others].filter((e) => matchesFilter(e, filter))
    // Same millisecond: by replica, then each replica's own order (seq), never arrival order.
    all.sort((a, b) =>
      a.time !== b.time
        ? a.time < b.time
          ? -1
          : 1
        : a.replica !== b.replica
          ? (a.replica ?? '') < (b.replica ?? '')
            ? -1
            : 1
          : a.seq - b.seq,
    )
    return all.slice(-journal.limit)
  }

  /**
   * Calls `listener` with other replicas' entries of the tenant's current journal as they are
   * published (a live stream: this replica's own come from its journal). Until unsubscribed.
   */
  follow(tenant: string, listener: EntryListener): () => void {
    const set = this.followers.get(tenant) ?? new Set<EntryListener>()
    this.followers.set(tenant, set)
    set.add(listener)
    if (!this.tailing && !this.stopped) this.tailing = this.tail()
    return () => {
      set.delete(listener)
      if (set.size === 0 && this.followers.get(tenant) === set) this.followers.delete(tenant)
    }
  }

  /** One blocking reader of the journal stream, from now on, while anyone follows. */
  private async tail(): Promise<void> {
    if (!this.tailer) {
      this.tailer = this.redis.duplicate()
      this.tailer.on('error', () => undefined) // the writer connection reports Redis being down
    }
    const reader = this.tailer
    // From the stream's latest entry as of now, then from each entry delivered: never `$` again
    // (an entry published between a BLOCK's empty reply and the next XREAD would be skipped).
    let last: string | undefined
    try {
      while (this.followers.size > 0 && !this.stopped) {
        let res: [string, [string, string[]][]][] | null
        try {
          last ??=
            ((await reader.xrevrange(this.stream, '+', '-', 'COUNT', 1)) as [string, string[]][])[0]?.[0] ??
            '0-0'
          res = (await reader.xread('COUNT', 500, 'BLOCK', 500, 'STREAMS', this.stream, last)) as
            | [string, [string, string[]][]][]
            | null
        } catch (err) {
          if (this.stopped) return
          this.logger.debug({ err: (err as Error).message }, 'replica: journal tail failed, retrying')
          await new Promise((r) => setTimeout(r, 100))
          continue
        }
        for (const [, entries] of res ?? []) {
          for (const [id, f] of entries) {
            last = id
            for (const [tenant, set] of this.followers) {
              const epoch = this.epochOf(tenant)
              const entry = epoch === undefined ? undefined : this.foreign(id, f, tenant, epoch)
              if (entry) for (const l of [...set]) l(entry)
            }
          }
        }
      }
    } finally {
      this.tailing = undefined
    }
  }

  private openKey(tenant: string): string {
    return `${this.prefix}open:${tenant}`
  }

  /** Adds the tenant's open requests here, as of now, to a pipeline or transaction. */
  private openInto(pipeline: ChainableCommander, tenant: string, w: Watched): void {
    const open = [...w.journal.open]
    w.hadOpen = open.length > 0
    this.sync(w)
    pipeline.hset(
      this.openKey(tenant),
      this.instance,
      JSON.stringify({ at: Date.now(), epoch: w.epoch, open }),
    )
    pipeline.pexpire(this.openKey(tenant), OPEN_STALE_MS * 4)
  }

  /** Publishes each tenant's open requests here (only while there are, and once when none are left). */
  private async publishOpen(): Promise<void> {
    if (this.redis.status !== 'ready') return
    const pipeline = this.redis.pipeline()
    let any = false
    for (const [tenant, w] of this.watched) {
      if (!w.hadOpen && w.journal.open.size === 0) continue
      this.openInto(pipeline, tenant, w)
      any = true
    }
    if (!any) return
    await pipeline.exec().catch(() => undefined)
  }

  /** The tenant's requests open on other replicas (as published in the last OPEN_STALE_MS). */
  async othersOpen(tenant: string): Promise<OpenRequest[]> {
    const epoch = this.epochOf(tenant)
    const all = await this.redis.hgetall(this.openKey(tenant))
    const now = Date.now()
    const out: OpenRequest[] = []
    for (const [instance, json] of Object.entries(all)) {
      if (instance === this.instance) continue
      const v = JSON.parse(json) as { at: number; epoch: string; open: OpenRequest[] }
      if (now - v.at > OPEN_STALE_MS || v.epoch !== epoch) continue
      out.push(...v.open)
    }
    return out
  }

  stop(): void {
    this.stopped = true
    if (this.timer) clearInterval(this.timer)
    this.timer = undefined
    if (this.openTimer) clearInterval(this.openTimer)
    this.openTimer = undefined
    this.tailer?.disconnect()
  }
}
