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

/** An entry's headers as stored: recorded, or still their source (see `HeaderSource`). */
type StoredHeaders = Record<string, string> | HeaderSource

/**
 * A recorded header named `entries` holds a string, never a function, so a record and a
 * source cannot be confused.
 */
const isSource = (h: StoredHeaders): h is HeaderSource => typeof (h as HeaderSource).entries === 'function'

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

type Kind = JournalEntry['kind']

/**
 * The window as columns: slot `i` of every array is one entry. Recording writes into the
 * arrays, no object per entry: the journal keeps thousands of entries, and an object per
 * request or per WebSocket frame (500 of them for one chat message fanned out) lived long
 * enough for the garbage collector to copy and promote each (BENCHMARKS.md's perf parts).
 * The arrays grow as entries come, up to `limit`, then slots are reused oldest first.
 */
class Columns {
  readonly seq: number[] = []
  readonly time: string[] = []
  readonly service: ServiceName[] = []
  readonly kind: Kind[] = []
  readonly method: string[] = []
  readonly path: string[] = []
  readonly route: string[] = []
  readonly query: string[] = []
  readonly status: (number | null)[] = []
  readonly durationMs: (number | null)[] = []
  readonly headers: StoredHeaders[] = []
  readonly fault: JournalEntry['fault'][] = []
  readonly frame: (string | undefined)[] = []
  readonly code: (number | undefined)[] = []
  readonly userId: (string | undefined)[] = []
  readonly closedBy: JournalEntry['closedBy'][] = []
  readonly connection: (number | undefined)[] = []
  readonly bytesIn: (number | undefined)[] = []
  readonly bytesOut: (number | undefined)[] = []
  readonly replica: (string | undefined)[] = []
  /** The entry object, once one was built (a read, a subscriber): later reads get the same. */
  readonly built: (JournalEntry | undefined)[] = []
}

export class Journal {
  private cols = new Columns()
  /** The slot the next entry goes to, and how many slots hold an entry. */
  private next = 0
  private filled = 0
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

  /** Any entry, as given (the hot paths have their own: `recordHttp`, `recordWs`). */
  record(entry: Omit<JournalEntry, 'seq' | 'time'>): JournalEntry {
    const i = this.slot(
      entry.service,
      entry.kind,
      entry.method,
      entry.path,
      entry.route,
      entry.query,
      entry.status,
      entry.durationMs,
      entry.requestHeaders,
      entry.fault,
      entry.frame,
      entry.code,
      entry.userId,
      entry.closedBy,
    )
    if (i < 0) return this.build(-1, this.seq, nowIso(), entry)
    const c = this.cols
    c.connection[i] = entry.connection
    c.bytesIn[i] = entry.bytesIn
    c.bytesOut[i] = entry.bytesOut
    this.publish(i)
    return this.entryAt(i)
  }

  /**
   * An HTTP request: its `requestHeaders` are recorded from `headers` only when the entry is
   * read (listed, streamed, reported). Building a sorted copy of every request's headers was
   * a visible share of a request's CPU and of the garbage collector's work.
   */
  recordHttp(r: HttpRecord): void {
    const i = this.slot(
      r.service,
      'http',
      r.method,
      r.path,
      r.route,
      r.query,
      r.status,
      r.durationMs,
      r.headers,
      r.fault,
      undefined,
      undefined,
      r.userId,
      undefined,
    )
    if (i >= 0) this.publish(i)
  }

  /** A WebSocket event: called for every socket's copy of a broadcast. */
  recordWs(
    service: ServiceName,
    kind: 'ws-in' | 'ws-out' | 'ws-open' | 'ws-close',
    path: string,
    frame: string | undefined,
    code: number | undefined,
    userId: string | undefined,
    fault: JournalEntry['fault'],
    closedBy?: 'client' | 'server',
  ): void {
    const i = this.slot(
      service,
      kind,
      'WS',
      path,
      path,
      '',
      null,
      null,
      NO_HEADERS,
      fault,
      frame,
      code,
      userId,
      closedBy,
    )
    if (i >= 0) this.publish(i)
  }

  /** Writes the fields every entry has into the next slot; -1 when the journal keeps nothing. */
  private slot(
    service: ServiceName,
    kind: Kind,
    method: string,
    path: string,
    route: string,
    query: string,
    status: number | null,
    durationMs: number | null,
    headers: StoredHeaders,
    fault: JournalEntry['fault'],
    frame: string | undefined,
    code: number | undefined,
    userId: string | undefined,
    closedBy: JournalEntry['closedBy'],
  ): number {
    const seq = ++this.seq
    const time = nowIso()
    // The entry's time (set by nowIso just now): when this journal last saw activity.
    this.lastRecordedAt = isoMs
    if (this.limit <= 0) return -1
    const i = this.next
    const c = this.cols
    c.seq[i] = seq
    c.time[i] = time
    c.service[i] = service
    c.kind[i] = kind
    c.method[i] = method
    c.path[i] = path
    c.route[i] = route
    c.query[i] = query
    c.status[i] = status
    c.durationMs[i] = durationMs
    c.headers[i] = headers
    c.fault[i] = fault
    c.frame[i] = frame
    c.code[i] = code
    c.userId[i] = userId
    c.closedBy[i] = closedBy
    c.connection[i] = undefined
    c.bytesIn[i] = undefined
    c.bytesOut[i] = undefined
    c.replica[i] = this.replica
    c.built[i] = undefined
    this.next = i + 1 === this.limit ? 0 : i + 1
    if (this.filled < this.limit) this.filled++
    return i
  }

  /** To live subscribers (a stream, replicated mode's publisher): the entry as an object. */
  private publish(i: number): void {
    if (this.listeners.size === 0) return
    const entry = this.entryAt(i)
    for (const l of this.listeners) {
      try {
        l(entry)
      } catch {
        // A broken subscriber (a closed SSE stream) must not break request handling.
      }
    }
  }

  /** Slot `i` as an entry object, its headers recorded: built once, then the same object. */
  private entryAt(i: number): JournalEntry {
    const c = this.cols
    const built = c.built[i]
    if (built) return built
    let headers = c.headers[i]!
    if (isSource(headers)) {
      headers = recordHeaders(headers.entries())
      c.headers[i] = headers
    }
    const entry = this.build(i, c.seq[i]!, c.time[i]!, {
      service: c.service[i]!,
      kind: c.kind[i]!,
      method: c.method[i]!,
      path: c.path[i]!,
      route: c.route[i]!,
      query: c.query[i]!,
      status: c.status[i]!,
      durationMs: c.durationMs[i]!,
      requestHeaders: headers,
      fault: c.fault[i]!,
      frame: c.frame[i],
      code: c.code[i],
      userId: c.userId[i],
      closedBy: c.closedBy[i],
      connection: c.connection[i],
      bytesIn: c.bytesIn[i],
      bytesOut: c.bytesOut[i],
    })
    c.built[i] = entry
    return entry
  }

  /** One key order for every entry; absent optional fields are left out, not undefined. */
  private build(i: number, seq: number, time: string, e: Omit<JournalEntry, 'seq' | 'time'>): JournalEntry {
    const full: JournalEntry = {
      seq,
      time,
      service: e.service,
      kind: e.kind,
      method: e.method,
      path: e.path,
      route: e.route,
      query: e.query,
      status: e.status,
      durationMs: e.durationMs,
      requestHeaders: e.requestHeaders,
      fault: e.fault,
    }
    if (e.frame !== undefined) full.frame = e.frame
    if (e.code !== undefined) full.code = e.code
    if (e.userId !== undefined) full.userId = e.userId
    if (e.closedBy !== undefined) full.closedBy = e.closedBy
    if (e.connection !== undefined) full.connection = e.connection
    if (e.bytesIn !== undefined) full.bytesIn = e.bytesIn
    if (e.bytesOut !== undefined) full.bytesOut = e.bytesOut
    const replica = i >= 0 ? this.cols.replica[i] : this.replica
    if (replica !== undefined) full.replica = replica
    return full
  }

  /** The newest `limit` entries, oldest first, their headers recorded. */
  private current(): JournalEntry[] {
    const out: JournalEntry[] = []
    const first = this.filled < this.limit ? 0 : this.next
    for (let n = 0; n < this.filled; n++) {
      const i = first + n
      out.push(this.entryAt(i < this.limit ? i : i - this.limit))
    }
    return out
  }

  list(filter: JournalFilter = {}): JournalEntry[] {
    return this.current().filter((e) => matchesFilter(e, filter))
  }

  get size(): number {
    return this.filled
  }

  clear(): void {
    this.drop()
    this.generation++
  }

  private drop(): void {
    this.cols = new Columns()
    this.next = 0
    this.filled = 0
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
