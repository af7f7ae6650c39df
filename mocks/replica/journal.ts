import type { Redis } from 'ioredis'
import { type Journal, type JournalEntry, type JournalFilter, matchesFilter } from '../core/journal.ts'
import type { Logger } from '../core/logger.ts'

// The merged journal of replicated mode: each replica stamps its entries with its name and
// publishes them to one capped stream (`<prefix>journal`), in batches off the request path
// (a timer flushes what was recorded since, in one pipeline). GET /__mocks/journal on any
// replica reads the stream back: every replica's entries of the tenant's current journal
// generation (resets and clears go through the log, so generations agree), its own unflushed
// ones from memory, ordered by time.

const FLUSH_MS = 50
/** Entries kept in the stream (approximately: MAXLEN ~). */
const MAX_LEN = 20_000

interface Queued {
  tenant: string
  generation: number
  json: string
}

export class JournalPublisher {
  private queue: Queued[] = []
  private timer: ReturnType<typeof setInterval> | undefined
  private flushing: Promise<void> = Promise.resolve()

  constructor(
    private readonly redis: Redis,
    readonly stream: string,
    readonly replica: string,
    private readonly logger: Logger,
  ) {}

  /** Stamps a tenant's journal with this replica's name and publishes what it records. */
  watch(tenant: string, journal: Journal): void {
    journal.replica = this.replica
    journal.subscribe((entry) => {
      this.queue.push({ tenant, generation: journal.generation, json: JSON.stringify(entry) })
      if (!this.timer) {
        this.timer = setInterval(() => void this.flush(), FLUSH_MS)
        this.timer.unref?.()
      }
    })
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
    const pipeline = this.redis.pipeline()
    for (const q of batch)
      pipeline.xadd(this.stream, 'MAXLEN', '~', MAX_LEN, '*', 't', q.tenant, 'g', q.generation, 'e', q.json)
    this.flushing = this.flushing
      .then(() => pipeline.exec())
      .then(
        () => undefined,
        (err: Error) => this.logger.warn({ err: err.message }, 'replica: journal batch not published'),
      )
    return this.flushing
  }

  /** Every replica's entries of the tenant's current journal, filtered, oldest first. */
  async merged(tenant: string, journal: Journal, filter: JournalFilter): Promise<JournalEntry[]> {
    await this.flush()
    const raw = (await this.redis.xrevrange(this.stream, '+', '-', 'COUNT', MAX_LEN)) as [string, string[]][]
    const generation = String(journal.generation)
    const others: JournalEntry[] = []
    for (const [, f] of raw) {
      // Fields: t, tenant, g, generation, e, entry.
      if (f[1] !== tenant || f[3] !== generation || !f[5]) continue
      const entry = JSON.parse(f[5]) as JournalEntry
      if (entry.replica !== this.replica) others.push(entry)
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

  stop(): void {
    if (this.timer) clearInterval(this.timer)
    this.timer = undefined
  }
}
