import { isoTime } from '../core/iso-time.ts'
import type { ComponentView, Row, V01tRecord } from './store.ts'

// The list query V01T's `/trace/{app}/{component}/` takes, with Django REST framework's
// semantics where the matrix is silent (README.md lists every choice).

export const DEFAULT_PAGE_SIZE = 20
export const MAX_PAGE_SIZE = 100
/** DRF's OrderingFilter takes a comma-separated list; more keys than this is not a real query. */
export const MAX_ORDER_FIELDS = 3

export interface ListQuery {
  /** A page number, or 'last' (DRF's last_page_strings). */
  page: number | 'last'
  pageSize: number
  /** Search terms, lower-cased; each must match some field. */
  terms: string[]
  cluster: string | undefined
  /** `[field, descending]` pairs; empty = store order. */
  orderBy: [string, boolean][]
}

export interface ParamProblem {
  parameter: string
  value: string
  expected: string
  allowed?: string[]
}

/** The last value of a parameter, as Django's QueryDict.get returns; '' counts as absent. */
function param(params: URLSearchParams, name: string): string | undefined {
  const all = params.getAll(name)
  const value = all[all.length - 1]
  return value === undefined || value === '' ? undefined : value
}

function positiveInt(raw: string, max: number): number | undefined {
  if (!/^[0-9]+$/.test(raw)) return undefined
  const n = Number(raw)
  return n >= 1 && n <= max ? n : undefined
}

export function parseListQuery(
  params: URLSearchParams,
  view: ComponentView,
): { ok: true; query: ListQuery } | { ok: false; problem: ParamProblem } {
  const rawPage = param(params, 'page')
  let page: number | 'last' = 1
  if (rawPage !== undefined) {
    const n = rawPage === 'last' ? 'last' : positiveInt(rawPage, Number.MAX_SAFE_INTEGER)
    if (n === undefined) {
      return {
        ok: false,
        problem: { parameter: 'page', value: rawPage, expected: 'a whole number >= 1, or "last"' },
      }
    }
    page = n
  }

  const rawSize = param(params, 'page_size')
  let pageSize = DEFAULT_PAGE_SIZE
  if (rawSize !== undefined) {
    const n = positiveInt(rawSize, MAX_PAGE_SIZE)
    if (n === undefined) {
      return {
        ok: false,
        problem: {
          parameter: 'page_size',
          value: rawSize,
          expected: `a whole number from 1 to ${MAX_PAGE_SIZE}`,
        },
      }
    }
    pageSize = n
  }

  const rawOrder = param(params, 'order_by')
  const orderBy: [string, boolean][] = []
  if (rawOrder !== undefined) {
    const parts = rawOrder
      .split(',')
      .map((p) => p.trim())
      .filter(Boolean)
    const allowed = [...view.sortable].sort()
    if (parts.length > MAX_ORDER_FIELDS) {
      return {
        ok: false,
        problem: {
          parameter: 'order_by',
          value: rawOrder,
          expected: `at most ${MAX_ORDER_FIELDS} comma-separated fields, each optionally prefixed with "-"`,
          allowed,
        },
      }
    }
    for (const part of parts) {
      const descending = part.startsWith('-')
      const field = descending ? part.slice(1) : part
      if (!view.sortable.has(field)) {
        return {
          ok: false,
          problem: {
            parameter: 'order_by',
            value: rawOrder,
            expected: `a field of ${view.application}/${view.componentType} ("${field}" is not one), "-" for descending`,
            allowed,
          },
        }
      }
      orderBy.push([field, descending])
    }
  }

  // DRF's SearchFilter: NULs dropped, commas are separators, every term must match (AND), each
  // term may match any searched field (OR), case-insensitively.
  const search = param(params, 'search') ?? ''
  const terms = search
    .replace(/\0/g, '')
    .replace(/,/g, ' ')
    .split(/\s+/)
    .filter(Boolean)
    .map((t) => t.toLowerCase())

  return { ok: true, query: { page, pageSize, terms, cluster: param(params, 'cluster'), orderBy } }
}

function fieldValue(record: V01tRecord, field: string): unknown {
  switch (field) {
    case 'title':
    case 'slug':
    case 'cluster':
    case 'external_id':
    case 'last_synced':
      return record[field]
    default:
      return record.raw_data[field]
  }
}

// PostgreSQL's order for a jsonb key: a missing key (SQL NULL) sorts after every value going
// up and first going down; values order by type (string < number < boolean), then by value.
const typeRank = (v: unknown) => (typeof v === 'string' ? 0 : typeof v === 'number' ? 1 : 2)

function compareValues(a: unknown, b: unknown): number {
  const aNull = a === undefined || a === null || typeof a === 'object'
  const bNull = b === undefined || b === null || typeof b === 'object'
  if (aNull || bNull) return aNull === bNull ? 0 : aNull ? 1 : -1
  const ra = typeRank(a)
  const rb = typeRank(b)
  if (ra !== rb) return ra - rb
  // Code-point order for strings (PostgreSQL's "C" collation): stable across machines.
  return (a as string | number | boolean) < (b as string | number | boolean)
    ? -1
    : (a as string | number | boolean) > (b as string | number | boolean)
      ? 1
      : 0
}

/** Rows in `order_by` order; ties keep store order (Array.prototype.sort is stable). */
function ordered(view: ComponentView, orderBy: [string, boolean][]): Row[] {
  if (orderBy.length === 0) return view.rows
  const key = orderBy.map(([f, d]) => (d ? `-${f}` : f)).join(',')
  return view.orders.getOrSet(key, () =>
    [...view.rows].sort((x, y) => {
      for (const [field, descending] of orderBy) {
        const c = compareValues(fieldValue(x.record, field), fieldValue(y.record, field))
        if (c !== 0) return descending ? -c : c
      }
      return 0
    }),
  )
}

function matches(row: Row, query: ListQuery): boolean {
  if (query.cluster !== undefined && row.record.cluster !== query.cluster) return false
  return query.terms.every((term) => row.haystack.includes(term))
}

export interface ListPage {
  items: Record<string, unknown>[]
  metadata: {
    application: string
    component_type: string
    total_count: number
    filtered_count: number
    page: number
    page_size: number
    total_pages: number
    has_next: boolean
    has_previous: boolean
  }
}

/**
 * One page of a component: a single pass over the (memoised) order, counting matches and
 * keeping those that fall on the page. A page past the end is empty, with true metadata.
 */
export function listPage(view: ComponentView, query: ListQuery): ListPage {
  const rows = ordered(view, query.orderBy)
  const filtering = query.cluster !== undefined || query.terms.length > 0
  let filtered = rows.length
  let matched: Row[] = rows
  if (filtering) {
    // A numbered page keeps only its own window; 'last' needs the count first, so keeps all.
    const from = query.page === 'last' ? 0 : (query.page - 1) * query.pageSize
    const to = query.page === 'last' ? Number.POSITIVE_INFINITY : from + query.pageSize
    matched = []
    filtered = 0
    for (const row of rows) {
      if (!matches(row, query)) continue
      if (filtered >= from && filtered < to) matched.push(row)
      filtered++
    }
  }
  // Django's Paginator: an empty result is still one (empty) page.
  const totalPages = Math.max(1, Math.ceil(filtered / query.pageSize))
  const page = query.page === 'last' ? totalPages : query.page
  const start = (page - 1) * query.pageSize
  const offset = filtering && query.page !== 'last' ? 0 : start
  const slice = start < filtered ? matched.slice(offset, offset + query.pageSize) : []
  return {
    items: slice.map((r) => r.item),
    metadata: {
      application: view.application,
      component_type: view.componentType,
      total_count: rows.length,
      filtered_count: filtered,
      page,
      page_size: query.pageSize,
      total_pages: totalPages,
      has_next: page < totalPages,
      has_previous: page > 1,
    },
  }
}

const utf8 = new TextEncoder()

/** A memoised list answer: the bytes before the timestamp, and the last whole body made. */
export interface MemoBody {
  head: Uint8Array
  /** The millisecond `body` carries as its timestamp. */
  ms: number
  body: Uint8Array<ArrayBuffer>
}

/**
 * The list answer's JSON body, `{success, data, metadata, timestamp}` with the current
 * timestamp, as UTF-8 bytes. Stringifying a page per request was most of a V01T list's CPU
 * (BENCHMARKS.md), so the bytes before the timestamp are memoised per view and normalised
 * query, and a whole body is made at most once per millisecond: requests within the same
 * millisecond share it (bodies are never written to once made).
 */
export function listBody(view: ComponentView, query: ListQuery): Uint8Array<ArrayBuffer> {
  return bodyNow(memoFor(view, query))
}

/**
 * The list answer for a raw query string (`URL#search`), or the parameter it refuses. Raw
 * query strings already answered go straight to their memoised body: parsing the query on
 * every request cost more than the rest of the route. Refusals are not memoised.
 */
export function listAnswer(
  view: ComponentView,
  search: string,
): { ok: true; body: Uint8Array<ArrayBuffer> } | { ok: false; problem: ParamProblem } {
  let memo = view.searches.get(search)
  if (memo === undefined) {
    const parsed = parseListQuery(new URLSearchParams(search), view)
    if (!parsed.ok) return parsed
    memo = view.searches.set(search, memoFor(view, parsed.query))
  }
  return { ok: true, body: bodyNow(memo) }
}

function memoFor(view: ComponentView, query: ListQuery): MemoBody {
  const key = JSON.stringify([query.page, query.pageSize, query.cluster ?? null, query.orderBy, query.terms])
  return view.bodies.getOrSet(key, () => {
    const page = listPage(view, query)
    const json = JSON.stringify({ success: true, data: page.items, metadata: page.metadata, timestamp: '' })
    // The timestamp is the last key and was serialised as `""`: keep what precedes its value.
    return { head: utf8.encode(json.slice(0, -3)), ms: Number.NaN, body: new Uint8Array(0) }
  })
}

function bodyNow(memo: MemoBody): Uint8Array<ArrayBuffer> {
  const ms = Date.now()
  if (memo.ms !== ms) {
    const tail = utf8.encode(`"${isoTime(ms)}"}`)
    const body = new Uint8Array(memo.head.length + tail.length)
    body.set(memo.head)
    body.set(tail, memo.head.length)
    memo.ms = ms
    memo.body = body
  }
  return memo.body
}
