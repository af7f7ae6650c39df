import { createHmac } from 'node:crypto'
import { faker } from '@faker-js/faker/locale/en'
import { Collection } from '@msw/data'
import { z } from 'zod'
import type { Logger } from '../core/logger.ts'
import { BoundedMemo } from '../core/memo.ts'
import type { Scenario } from '../fake/scenario.ts'

// Channels and messages live in @msw/data collections (schema-checked on every write),
// with a per-channel index sorted oldest → newest built at seed time beside them. History
// pages are binary searches over that index, so they stay O(log n + limit) at 10,000
// messages; the collections are never scanned per request. A scenario switch builds a whole
// new ChatStore and swaps it in one assignment.
//
// @msw/data's create costs ~15-20 µs a record (10k: 170-270 ms), so a large seed is written
// to the messages collection in the background, in chunks that yield to the event loop,
// after the store is already serving from the index (`materialized` says when it is done).
// Small seeds (the default scenario) are written before build() resolves.
//
// What reads go through (measured with scripts/collections-timing.ts, 10,000 messages):
// channel lookups (every REST call and WS frame) read the channels collection, ~0.9 µs each.
// History pages read the per-channel index, not the messages collection: the newest 50 of a
// channel via `messages.findMany(where channelId, orderBy createdAt, take 50)` cost ~170 µs a
// call against ~0.7 µs from the index (and the history benchmark is tuned to the index and its
// memo). The messages collection stays the schema-checked write path and the record of what
// was stored (counts, tooling).

const ChannelRecord = z.object({
  id: z.string(),
  name: z.string(),
  /** `members: all`: every user with a session is a member (sign-ups included). */
  open: z.boolean(),
  members: z.array(z.string()),
})

const MessageRecord = z.object({
  id: z.string(),
  channelId: z.string(),
  senderId: z.string(),
  content: z.string(),
  /** ISO-8601 with milliseconds and `Z`, as sent on the wire. */
  createdAt: z.string(),
})

export type ChannelRow = z.infer<typeof ChannelRecord>
export type MessageRow = z.infer<typeof MessageRecord>

/** Largest content the service accepts, in Unicode code points (Rust's `chars().count()`). */
export const MAX_CONTENT_CHARS = 4000

/** A history cursor: strictly before an instant, or strictly before a message of the channel. */
export type Cursor = { kind: 'time'; ms: number } | { kind: 'message'; id: string }

/** A UUID v4-shaped id derived from the seed, so seeded and runtime ids repeat run after run. */
export function seededUuid(seed: number, label: string): string {
  const b = createHmac('sha256', `devarno-mocks-chat:${seed}`).update(label).digest()
  b[6] = ((b[6] ?? 0) & 0x0f) | 0x40
  b[8] = ((b[8] ?? 0) & 0x3f) | 0x80
  const h = b.subarray(0, 16).toString('hex')
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`
}

export function codePoints(text: string): number {
  let n = 0
  for (const _ of text) n++
  return n
}

/** Seeds up to this size are written to the collection before build() resolves. */
const SYNC_MATERIALIZE = 2000
const MATERIALIZE_CHUNK = 500
/** Distinct generated lines per scenario (faker text costs 15-50 µs a line; 10k would cost 300 ms). */
const LINE_POOL = 300

// Generated chat lines: short and chatty, like a family channel, all drawn from the seeded faker.
const LINES: (() => string)[] = [
  () => faker.lorem.sentence({ min: 3, max: 12 }),
  () => faker.hacker.phrase(),
  () => `Anyone up for ${faker.food.dish().toLowerCase()} on ${faker.date.weekday()}?`,
  () => `${faker.word.interjection()}! ${faker.lorem.sentence({ min: 2, max: 6 })}`,
  () => `Running ${faker.number.int({ min: 5, max: 40 })} minutes late, sorry`,
  () => `Can someone pick up ${faker.commerce.product().toLowerCase()} on the way home?`,
  () => faker.helpers.arrayElement(['ok 👍', 'on my way', 'thanks!', 'haha', 'love it ❤️', 'sounds good']),
]

const hex = (n: number, digits: number) => n.toString(16).padStart(digits, '0')

/** A v4-shaped UUID from three seeded draws (faker.string.uuid draws 32 times: 3x slower). */
function fakerUuid(): string {
  const a = hex(faker.number.int(2 ** 48 - 1), 12)
  const b = hex(faker.number.int(2 ** 48 - 1), 12)
  const c = hex(faker.number.int(2 ** 32 - 1), 8)
  const variant = '89ab'[faker.number.int(3)]
  return `${a.slice(0, 8)}-${a.slice(8)}-4${b.slice(0, 3)}-${variant}${b.slice(3, 6)}-${b.slice(6)}${c.slice(2)}`
}

interface Seed {
  channels: ChannelRow[]
  messages: MessageRow[][]
}

/** All seeded data, generated synchronously right after faker.seed (the faker singleton is shared). */
function generate(scenario: Scenario): Seed {
  const clock = Date.parse(scenario.clock)
  faker.seed(scenario.seed)
  faker.setDefaultRefDate(scenario.clock)
  const everyone = scenario.auth.users.filter((u) => !u.banned).map((u) => u.id)
  const channels: ChannelRow[] = scenario.chat.channels.map((c) => ({
    id: c.id,
    name: c.name,
    open: c.members === 'all',
    members: c.members === 'all' ? [] : [...c.members],
  }))
  const explicit = new Map<string, MessageRow[]>(channels.map((c) => [c.id, []]))
  scenario.chat.messages.forEach((m, i) => {
    explicit.get(m.channel)?.push({
      id: m.id ?? seededUuid(scenario.seed, `seed-message:${i}`),
      channelId: m.channel,
      senderId: m.sender,
      content: m.content,
      createdAt: new Date(m.at).toISOString(),
    })
  })
  const { messagesPerChannel, spanHours } = scenario.chat.generate
  const from = clock - spanHours * 3_600_000
  const lines = Array.from({ length: Math.min(LINE_POOL, messagesPerChannel * channels.length) }, () =>
    faker.helpers.arrayElement(LINES)(),
  )
  const messages = channels.map((c) => {
    const senders = c.open ? everyone : c.members
    const rows: { row: MessageRow; ms: number; n: number }[] = (explicit.get(c.id) ?? []).map((row, n) => ({
      row,
      ms: Date.parse(row.createdAt),
      n,
    }))
    if (senders.length > 0 && lines.length > 0) {
      for (let i = 0; i < messagesPerChannel; i++) {
        const ms = faker.number.int({ min: from, max: clock })
        rows.push({
          row: {
            id: fakerUuid(),
            channelId: c.id,
            senderId: senders[faker.number.int(senders.length - 1)]!,
            content: lines[faker.number.int(lines.length - 1)]!,
            createdAt: new Date(ms).toISOString(),
          },
          ms,
          n: rows.length,
        })
      }
    }
    // Oldest first; equal instants keep scenario order (explicit messages before generated ones).
    rows.sort((a, b) => a.ms - b.ms || a.n - b.n)
    return rows.map((r) => r.row)
  })
  return { channels, messages }
}

/**
 * Seeds per scenario object. A reset applies the same scenario object again, and generating
 * (faker, one HMAC per id) was half of chat's part of a reset. Seed rows are never mutated:
 * stores copy the per-channel arrays they append to, and collections copy what they store.
 */
const seeds = new WeakMap<Scenario, Seed>()

function seedOf(scenario: Scenario): Seed {
  let seed = seeds.get(scenario)
  if (!seed) {
    seed = generate(scenario)
    seeds.set(scenario, seed)
  }
  return seed
}

/** Memoised history answers per store, bounded in pages and bytes (oldest evicted first). */
const MAX_PAGES = 256
const MAX_PAGE_BYTES = 16 * 1024 * 1024

export interface HistoryQuery {
  before?: Cursor
  limit: number
}

export class ChatStore {
  /** Per channel, oldest → newest. Runtime messages are always appended (see addMessage). */
  private readonly index: Map<string, MessageRow[]>
  /** Message id → its position in its channel's index. */
  private readonly positions = new Map<string, { channel: string; pos: number }>()
  /** Users of open channels: seeded users, then users first seen through a session (sign-ups). */
  private readonly openMembers: string[]
  private readonly seen = new Set<string>()
  private runtimeCount = 0
  /** Per channel, the instant given to the newest runtime message. */
  private readonly newest = new Map<string, number>()
  private disposed = false
  /** Serialised history answers by channel and index span (historyBody). */
  private readonly pages = new BoundedMemo<string, Uint8Array<ArrayBuffer>>({
    maxEntries: MAX_PAGES,
    maxBytes: MAX_PAGE_BYTES,
    sizeOf: (body) => body.length,
  })
  /** Resolves once every seeded message is in the messages collection. */
  materialized: Promise<void> = Promise.resolve()

  private constructor(
    readonly scenario: Scenario,
    readonly channels: Collection<typeof ChannelRecord>,
    readonly messages: Collection<typeof MessageRecord>,
    seed: Seed,
  ) {
    // Copies: runtime messages are appended here, and the seed is shared by every reset.
    this.index = new Map(seed.channels.map((c, i) => [c.id, seed.messages[i]?.slice() ?? []]))
    for (const [channel, rows] of this.index) {
      rows.forEach((row, pos) => {
        this.positions.set(row.id, { channel, pos })
      })
    }
    this.openMembers = scenario.auth.users.map((u) => u.id)
    for (const id of this.openMembers) this.seen.add(id)
  }

  static async build(scenario: Scenario, logger?: Logger): Promise<ChatStore> {
    const seed = seedOf(scenario)
    const channels = new Collection({ schema: ChannelRecord })
    const messages = new Collection({ schema: MessageRecord })
    await channels.createMany(seed.channels.length, (i) => seed.channels[i]!)
    const store = new ChatStore(scenario, channels, messages, seed)
    const rows = seed.messages.flat()
    if (rows.length <= SYNC_MATERIALIZE) await messages.createMany(rows.length, (i) => rows[i]!)
    else {
      store.materialized = store.materialize(rows).catch((err: Error) => {
        logger?.error({ err: err.message }, 'chat: writing seeded messages to the collection failed')
      })
    }
    return store
  }

  private async materialize(rows: MessageRow[]): Promise<void> {
    for (let i = 0; i < rows.length; i += MATERIALIZE_CHUNK) {
      await new Promise((resolve) => setImmediate(resolve))
      if (this.disposed) return
      const chunk = rows.slice(i, i + MATERIALIZE_CHUNK)
      await this.messages.createMany(chunk.length, (j) => chunk[j]!)
    }
  }

  /** This store was replaced: stop background writes. */
  dispose(): void {
    this.disposed = true
  }

  channel(id: string): ChannelRow | undefined {
    return this.channels.findFirst((q) => q.where({ id }))
  }

  channelIds(): string[] {
    return this.channels.findMany().map((c) => c.id)
  }

  isMember(channel: ChannelRow, userId: string): boolean {
    return channel.open || channel.members.includes(userId)
  }

  /** Members in a stable order: as listed, or (open channels) seeded users then sign-ups. */
  members(channel: ChannelRow): readonly string[] {
    return channel.open ? this.openMembers : channel.members
  }

  /** A user with a valid session: open channels include them from now on. */
  noteUser(userId: string): void {
    if (this.seen.has(userId)) return
    this.seen.add(userId)
    this.openMembers.push(userId)
  }

  /** Whether `before` names a message of this channel (a message-id cursor). */
  hasMessage(channel: string, id: string): boolean {
    return this.positions.get(id)?.channel === channel
  }

  /** The `limit` newest messages strictly before the cursor, oldest → newest. */
  history(channel: string, q: HistoryQuery): MessageRow[] {
    const { rows, start, end } = this.range(channel, q)
    return rows.slice(start, end)
  }

  /**
   * `history` as served, memoised: messages are never changed and only appended, so the
   * answer for one span of a channel's index is fixed once made (serialising 50 messages per
   * request was a sixth of a history request's CPU). Bounded; a new store starts empty.
   */
  historyBody(
    channel: string,
    q: HistoryQuery,
    serialise: (rows: MessageRow[]) => Uint8Array<ArrayBuffer>,
  ): Uint8Array<ArrayBuffer> {
    const { rows, start, end } = this.range(channel, q)
    const key = `${channel}\n${start}\n${end}`
    return this.pages.getOrSet(key, () => serialise(rows.slice(start, end)))
  }

  private range(channel: string, q: HistoryQuery): { rows: MessageRow[]; start: number; end: number } {
    const rows = this.index.get(channel) ?? []
    let end = rows.length
    if (q.before?.kind === 'message') {
      const at = this.positions.get(q.before.id)
      end = at?.channel === channel ? at.pos : 0
    } else if (q.before?.kind === 'time') {
      end = lowerBound(rows, q.before.ms)
    }
    return { rows, start: Math.max(0, end - q.limit), end }
  }

  count(channel: string): number {
    return this.index.get(channel)?.length ?? 0
  }

  /**
   * Stores a message sent now. Its timestamp is the wall clock, but never earlier than the
   * channel's newest message (+1 ms), so a new message is always last in history and the
   * index stays sorted by appending. The collection write (schema-checked) comes first.
   */
  async addMessage(
    channel: string,
    senderId: string,
    content: string,
    now = Date.now(),
  ): Promise<MessageRow> {
    const rows = this.index.get(channel)
    if (!rows) throw new Error(`unknown channel ${channel}`)
    // Reserved before the await, so concurrent sends get strictly increasing instants in call order.
    // (`now`: replicated mode passes the instant the taking replica read, so all derive one row.)
    const ms = Math.max(now, (this.newest.get(channel) ?? newestOf(rows)) + 1)
    this.newest.set(channel, ms)
    const row = await this.messages.create({
      id: seededUuid(this.scenario.seed, `runtime-message:${++this.runtimeCount}`),
      channelId: channel,
      senderId,
      content,
      createdAt: new Date(ms).toISOString(),
    })
    this.positions.set(row.id, { channel, pos: rows.push(row) - 1 })
    return row
  }
}

function newestOf(rows: MessageRow[]): number {
  const last = rows.at(-1)
  return last ? Date.parse(last.createdAt) : Number.NEGATIVE_INFINITY
}

/** First position whose timestamp is >= ms (rows sorted oldest → newest). */
function lowerBound(rows: MessageRow[], ms: number): number {
  let lo = 0
  let hi = rows.length
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (Date.parse(rows[mid]!.createdAt) < ms) lo = mid + 1
    else hi = mid
  }
  return lo
}
