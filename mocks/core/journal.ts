import type { ServiceName } from './config.ts'
import { isoTime } from './iso-time.ts'

// Every request and WS frame the fakes see, in a bounded ring buffer (oldest dropped first),
// filterable, streamable, and able to report which calls lacked request-ID headers.

export interface JournalEntry {
  seq: number
  time: string
  service: ServiceName
  kind: 'http' | 'ws-in' | 'ws-out' | 'ws-open' | 'ws-close' | 'tcp-open' | 'tcp-close' | 'tcp-query'
  method: string
  path: string
  /** Route pattern that handled it (`/api/v1/files/:id`), for the request-ID report. */
  route: string
  query: string
  status: number | null
  durationMs: number | null
  requestHeaders: Record<string, string>
  fault: { id: string; type: string } | null
  /** WS frame text (truncated) or close code. */
  frame?: string
  code?: number
  /** A `ws-close`: who ended the socket (the server, or a fault acting for it; or the client). */
  closedBy?: 'client' | 'server'
  userId?: string
  /** TCP services: the connection's number and the bytes each way so far. */
  connection?: number
  bytesIn?: number
  bytesOut?: number
  /** Replicated mode only: the replica that answered (MOCKS_REPLICA). */
  replica?: string
  /**
   * Replicated mode only, in the merged journal: the entry's id in the shared journal stream,
   * a cursor with one meaning on every replica (verdicts' `since`). Absent while unpublished.
   */
  cursor?: string
}

export interface JournalFilter {
  service?: string
  method?: string
  path?: string
  kind?: string
}

/** Whether an entry passes `list`'s filter (a path matches itself, its route, or what is under it). */
export function matchesFilter(
  e: Pick<JournalEntry, 'service' | 'method' | 'path' | 'route' | 'kind'>,
  filter: JournalFilter,
): boolean {
  const method = filter.method?.toUpperCase()
  return (
    (!filter.service || e.service === filter.service) &&
    (!method || e.method === method) &&
    (!filter.path ||
      e.path === filter.path ||
      e.route === filter.path ||
      e.path.startsWith(filter.path.endsWith('/') ? filter.path : `${filter.path}/`)) &&
    (!filter.kind || e.kind === filter.kind)
  )
}

/** The kinds of a WebSocket entry. */
export type WsEvent = 'ws-in' | 'ws-out' | 'ws-open' | 'ws-close'

export type JournalListener = (entry: JournalEntry) => void

const HIDDEN_HEADERS = new Set(['cookie', 'authorization'])

/** WS entries carry no request headers (the handshake's are on the upgrade's entry). */
const NO_HEADERS: Readonly<Record<string, string>> = Object.freeze({})

/**
 * A request's headers as the journal receives them, read only if an entry is read: an HTTP
 * entry's `requestHeaders` record is built from them then (sorted names, cookie and
 * authorization shortened), not on every request. Must not change after the request.
 */
export interface HeaderSource {
  entries(): [string, string][]
}

/** Headers as recorded: cookie and authorization values are shortened, never stored whole. */
export function recordHeaders(headers: Iterable<[string, string]>): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [key, value] of headers) {
    out[key] = HIDDEN_HEADERS.has(key) ? `${value.slice(0, 24)}${value.length > 24 ? '…' : ''}` : value
  }
  return out
}

let isoMs = Number.NaN
let isoText = ''

/** `new Date().toISOString()`, formatted once per millisecond: a broadcast journals a frame per socket. */
function nowIso(): string {
  const ms = Date.now()
  if (ms !== isoMs) {
    isoMs = ms
    isoText = isoTime(ms)
  }
  return isoText
}

/** A request being answered (journaled when it ends): the verdicts' timeout rule reads these. */
export interface OpenRequest {
  service: ServiceName
  method: string
  path: string
  startedAt: number
  /** The fault holding it, once one acts. */
  fault: string | null
}

/**
 * What the pipeline registers while a request is answered: its OpenRequest, made when read.
 * The two links belong to `OpenRequests` (an intrusive list: no allocation, no hashing).
 */
export interface OpenSource {
  openRequest(): OpenRequest
  prevOpen: OpenSource | undefined
  nextOpen: OpenSource | undefined
}

/**
 * The requests begun and not yet recorded, oldest first. Iterating gives each one's
 * `OpenRequest` as it is now. A linked list through the sources themselves: a Set's add and
 * delete per request cost ~1 µs (its table is rebuilt as deleted slots fill it).
 */
export class OpenRequests implements Iterable<OpenRequest> {
  private head: OpenSource | undefined = undefined
  private tail: OpenSource | undefined = undefined
  private count = 0

  add(source: OpenSource): void {
    if (source.prevOpen !== undefined || this.head === source) return
    source.prevOpen = this.tail
    source.nextOpen = undefined
    if (this.tail) this.tail.nextOpen = source
    else this.head = source
    this.tail = source
    this.count++
  }

  delete(source: OpenSource): void {
    if (source.prevOpen === undefined && this.head !== source) return
    if (source.prevOpen) source.prevOpen.nextOpen = source.nextOpen
    else this.head = source.nextOpen
    if (source.nextOpen) source.nextOpen.prevOpen = source.prevOpen
    else this.tail = source.prevOpen
    source.prevOpen = undefined
    source.nextOpen = undefined
    this.count--
  }

  get size(): number {
    return this.count
  }

  *[Symbol.iterator](): Iterator<OpenRequest> {
    for (let s = this.head; s; s = s.nextOpen) yield s.openRequest()
  }
}

/**
 * A stored entry: an HTTP entry's headers may still be their source (see `HeaderSource`),
 * kept as it is (no wrapper object per request). A recorded header named `entries` holds a
 * string, never a function, so the two cannot be confused.
 */
type Stored = Omit<JournalEntry, 'requestHeaders'> & { requestHeaders: Record<string, string> | HeaderSource }

const isSource = (h: Stored['requestHeaders']): h is HeaderSource =>
  typeof (h as HeaderSource).entries === 'function'

/** The entry with its headers recorded (in place: later reads get the same object). */
function materialize(e: Stored): JournalEntry {
  if (isSource(e.requestHeaders)) e.requestHeaders = recordHeaders(e.requestHeaders.entries())
  return e as JournalEntry
}

/** What `recordHttp` takes: an HTTP request's facts, its headers as a source. */
export interface HttpRecord {
  service: ServiceName
  method: string
  path: string
  route: string
  query: string
  status: number | null
  durationMs: number
  headers: HeaderSource
  fault: JournalEntry['fault']
  userId: string | undefined
}

/**
 * A WebSocket entry, built straight from its fields: one object shape for every WS entry
 * (`recordWs`, and the copies a `FrameRun` gives back when read).
 */
function wsEntry(
  seq: number,
  time: string,
  service: ServiceName,
  kind: WsEvent,
  path: string,
  frame: string | undefined,
  code: number | undefined,
  userId: string | undefined,
  fault: JournalEntry['fault'],
  closedBy: 'client' | 'server' | undefined,
): JournalEntry {
  const full: JournalEntry = {
    seq,
    time,
    service,
    kind,
    method: 'WS',
    path,
    route: path,
    query: '',
    status: null,
    durationMs: null,
    requestHeaders: NO_HEADERS,
    fault,
  }
  if (frame !== undefined) full.frame = frame
  if (code !== undefined) full.code = code
  if (userId !== undefined) full.userId = userId
  if (closedBy !== undefined) full.closedBy = closedBy
  return full
}

/**
 * Copies of one server frame sent to several sockets one after another, in the same
 * millisecond, with no fault acting: the first copy's entry and each later copy's user. A
 * broadcast journals one copy per socket, and keeping a whole entry per copy was most of the
 * garbage collector's work in a fan-out (BENCHMARKS.md). Read as the entries it stands for.
 */
class FrameRun {
  /** The user of each copy after the first (the entry's seq follows the head's). */
  readonly users: (string | undefined)[] = []
  constructor(readonly head: JournalEntry) {}

  get size(): number {
    return 1 + this.users.length
  }

  expandInto(out: Stored[]): void {
    const h = this.head
    out.push(h)
    for (let i = 0; i < this.users.length; i++) {
      const e = wsEntry(
        h.seq + 1 + i,
        h.time,
        h.service,
        'ws-out',
        h.path,
        h.frame,
        undefined,
        this.users[i],
        null,
        undefined,
      )
      if (h.replica !== undefined) e.replica = h.replica
      out.push(e)
    }
  }
}

/**
 * Whether the next entry, a copy of `frame` at `time`, continues the run of `size` copies that
 * `head` starts (checked before a run is made for it: an unlike neighbour costs nothing).
 */
function continues(
  head: JournalEntry,
  size: number,
  seq: number,
  time: string,
  service: ServiceName,
  path: string,
  frame: string,
  replica: string | undefined,
): boolean {
  return (
    head.seq + size === seq &&
    head.frame === frame &&
    head.time === time &&
    head.service === service &&
    head.path === path &&
    head.replica === replica
  )
}

/** Whether an entry can start a run: a server frame no fault acted on. */
const runnable = (e: Stored | FrameRun | undefined): e is JournalEntry =>
  e !== undefined &&
  !(e instanceof FrameRun) &&
  e.kind === 'ws-out' &&
  e.fault === null &&
  e.code === undefined

export class Journal {
  /** Oldest first; `count` entries in all, a `FrameRun` standing for several. */
  private entries: (Stored | FrameRun)[] = []
  private count = 0
  /** Runs among `entries` (none: the array holds entries only). */
  private runs = 0
  /** Requests begun and not yet recorded. */
  readonly open = new OpenRequests()
  private seq = 0
  private listeners = new Set<JournalListener>()
  /** Replicated mode: stamped on every entry (mocks/replica sets it). */
  replica: string | undefined
  /** When an entry was last recorded (epoch ms; 0: never): a tenant's idleness reads it. */
  lastRecordedAt = 0
  /** Times cleared (a reset, DELETE): the merged journal of replicated mode shows the current one. */
  generation = 0

  constructor(readonly limit = 5000) {}

  record(entry: Omit<JournalEntry, 'seq' | 'time'>): JournalEntry {
    // Explicit fields, not a spread: one object shape for every entry (the journal records
    // every request and WebSocket frame; a spread cost as much as the rest of record()).
    const full: JournalEntry = {
      seq: ++this.seq,
      time: nowIso(),
      service: entry.service,
      kind: entry.kind,
      method: entry.method,
      path: entry.path,
      route: entry.route,
      query: entry.query,
      status: entry.status,
      durationMs: entry.durationMs,
      requestHeaders: entry.requestHeaders,
      fault: entry.fault,
    }
    if (entry.frame !== undefined) full.frame = entry.frame
    if (entry.code !== undefined) full.code = entry.code
    if (entry.userId !== undefined) full.userId = entry.userId
    if (entry.closedBy !== undefined) full.closedBy = entry.closedBy
    if (entry.connection !== undefined) full.connection = entry.connection
    if (entry.bytesIn !== undefined) full.bytesIn = entry.bytesIn
    if (entry.bytesOut !== undefined) full.bytesOut = entry.bytesOut
    this.add(full)
    return full
  }

  /**
   * An HTTP request, the hot path's own `record`: the same entry, but its `requestHeaders`
   * are recorded from `headers` only when the entry is read (listed, streamed, reported).
   * Building and keeping a sorted copy of every request's headers was a visible share of a
   * request's CPU and of the garbage collector's work (BENCHMARKS.md).
   */
  recordHttp(r: HttpRecord): void {
    const full: Stored = {
      seq: ++this.seq,
      time: nowIso(),
      service: r.service,
      kind: 'http',
      method: r.method,
      path: r.path,
      route: r.route,
      query: r.query,
      status: r.status,
      durationMs: r.durationMs,
      requestHeaders: r.headers,
      fault: r.fault,
    }
    if (r.userId !== undefined) full.userId = r.userId
    this.add(full)
  }

  /**
   * A WebSocket event, built straight into its entry: called for every socket's copy of a
   * broadcast, so no intermediate object (the same entry as `record` would make).
   */
  recordWs(
    service: ServiceName,
    kind: WsEvent,
    path: string,
    frame: string | undefined,
    code: number | undefined,
    userId: string | undefined,
    fault: JournalEntry['fault'],
    closedBy?: 'client' | 'server',
  ): void {
    const seq = ++this.seq
    const time = nowIso()
    // Another socket's copy of the frame just journaled: one more user on the run. Subscribers
    // get whole entries, so while there are any every copy is stored whole too.
    // A run holds at most `limit` entries: trimmed whole, a longer one would outgrow the bound.
    if (
      kind === 'ws-out' &&
      fault === null &&
      frame !== undefined &&
      code === undefined &&
      closedBy === undefined &&
      this.listeners.size === 0
    ) {
      const at = this.entries.length - 1
      const last = this.entries[at]
      const inRun = last instanceof FrameRun
      const head = inRun ? last.head : runnable(last) ? last : undefined
      const size = inRun ? last.size : 1
      if (
        head !== undefined &&
        size < this.limit &&
        continues(head, size, seq, time, service, path, frame, this.replica)
      ) {
        const run = inRun ? last : new FrameRun(head)
        run.users.push(userId)
        if (!inRun) {
          this.entries[at] = run
          this.runs++
        }
        this.added()
        return
      }
    }
    this.add(wsEntry(seq, time, service, kind, path, frame, code, userId, fault, closedBy))
  }

  private add(full: Stored): void {
    if (this.replica !== undefined) full.replica = this.replica
    this.entries.push(full)
    this.added()
    if (this.listeners.size === 0) return
    const entry = materialize(full)
    for (const l of this.listeners) {
      try {
        l(entry)
      } catch {
        // A broken subscriber (a closed SSE stream) must not break request handling.
      }
    }
  }

  /** An entry stored: the bookkeeping every record shares. */
  private added(): void {
    // The entry's time (set by nowIso just before): when this journal last saw activity.
    this.lastRecordedAt = isoMs
    this.count++
    // Trimmed in batches: dropping the oldest entry on every record (a splice at the front)
    // costs O(limit) once full, ~30 µs at 5,000 (a fifth of chat's CPU when a message fans
    // out to 500 sockets). Dropping down to `limit` at once is amortised O(1); readers see the
    // newest `limit` entries only (`current()`).
    if (this.count >= this.limit * 2) this.trim()
  }

  /** Keeps the newest items holding at least `limit` entries (a run is kept or dropped whole). */
  private trim(): void {
    let kept = 0
    let from = this.entries.length
    while (from > 0 && kept < this.limit) {
      const item = this.entries[--from] as Stored | FrameRun
      kept += item instanceof FrameRun ? item.size : 1
    }
    if (this.runs > 0) for (let i = 0; i < from; i++) if (this.entries[i] instanceof FrameRun) this.runs--
    this.entries = this.entries.slice(from)
    this.count = kept
  }

  /** The newest `limit` entries, oldest first, their headers recorded. */
  private current(): JournalEntry[] {
    // Runs are expanded for good on the first read: later reads get the same entry objects.
    // Only items a reader can see are: the older ones go now, as the next trim would drop them.
    if (this.runs > 0) {
      this.trim()
      const flat: Stored[] = []
      for (const item of this.entries) {
        if (item instanceof FrameRun) item.expandInto(flat)
        else flat.push(item)
      }
      this.entries = flat
      this.runs = 0
    }
    const all = this.entries as Stored[]
    const window = all.length > this.limit ? all.slice(all.length - this.limit) : all
    for (const e of window) materialize(e)
    return window as JournalEntry[]
  }

  list(filter: JournalFilter = {}): JournalEntry[] {
    return this.current().filter((e) => matchesFilter(e, filter))
  }

  get size(): number {
    return Math.min(this.count, this.limit)
  }

  /** Entries held, the oldest beyond `limit` included (under `2 × limit`): what memory holds. */
  get held(): number {
    return this.count
  }

  clear(): void {
    this.drop()
    this.generation++
  }

  private drop(): void {
    this.entries = []
    this.count = 0
    this.runs = 0
  }

  subscribe(listener: JournalListener, onEnd?: () => void): () => void {
    this.listeners.add(listener)
    if (onEnd) this.enders.add(onEnd)
    return () => {
      this.listeners.delete(listener)
      if (onEnd) this.enders.delete(onEnd)
    }
  }

  /** Subscribers (live streams): a tenant watched by one is not idle. */
  get watchers(): number {
    return this.listeners.size
  }

  /** The journal's owner is gone (a deleted tenant): streams end, entries are dropped. */
  end(): void {
    for (const e of this.enders) e()
    this.enders.clear()
    this.listeners.clear()
    this.drop()
  }

  private enders = new Set<() => void>()

  /** HTTP requests that lacked `X-Request-ID` or `traceparent` (the matrix's checklist), per service and route. */
  requestIdReport(): RequestIdReport {
    return requestIdReport(this.current())
  }
}

export interface RequestIdReport {
  total: number
  missing: number
  routes: {
    service: string
    method: string
    route: string
    requests: number
    missingRequestId: number
    missingTraceparent: number
  }[]
}

/** The request-ID report of some entries (one journal's, or replicated mode's merged ones). */
export function requestIdReport(entries: Iterable<JournalEntry>): RequestIdReport {
  const rows = new Map<string, RequestIdReport['routes'][number]>()
  let total = 0
  let missing = 0
  for (const e of entries) {
    if (e.kind !== 'http') continue
    total++
    const noId = !('x-request-id' in e.requestHeaders)
    const noTrace = !('traceparent' in e.requestHeaders)
    if (noId || noTrace) missing++
    const key = `${e.service} ${e.method} ${e.route}`
    let row = rows.get(key)
    if (!row) {
      row = {
        service: e.service,
        method: e.method,
        route: e.route,
        requests: 0,
        missingRequestId: 0,
        missingTraceparent: 0,
      }
      rows.set(key, row)
    }
    row.requests++
    if (noId) row.missingRequestId++
    if (noTrace) row.missingTraceparent++
  }
  return {
    total,
    missing,
    routes: [...rows.values()].filter((r) => r.missingRequestId || r.missingTraceparent),
  }
}
