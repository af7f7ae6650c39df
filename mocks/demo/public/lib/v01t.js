// A V01T list as devarno-landing should load it (matrix "V01T CMS Integration", Error Handling):
// a 10 s timeout; 5xx retried (1 s, 2 s) since the call is idempotent; 400 retried once with
// default parameters; 404 shown as such; anything else (500 after retries, timeout, unreachable)
// falls back to the last good copy or the bundled static data, flagged as stale, and retries in
// the background after 5 s (then 10, 20 ... 60 s).

// A background retry is one call (no burst of fast retries each time): the retries of one
// failure stay an exponential series, 1 s, 2 s, then 5, 10, 20 ... 60 s.
// `?behavior=current` (lib/behavior.js): devarno-landing today, `try { fetch } catch { return
// MOCK_ARTICLES }`: one call, no timeout, no retry, the bundled copy on any failure.

import { backoffDelay, retrying } from './backoff.js'
import { CURRENT } from './behavior.js'
import { call, describeOutcome, formatSeconds } from './http.js'

export const V01T_TIMEOUT_MS = 10_000
/** The matrix's alert threshold for V01T response time. */
export const SLOW_MS = 2000
export const FAST_RETRY = { attempts: 3, baseMs: 1000 }
export const BACKGROUND_RETRY = { baseMs: 5000, capMs: 60_000 }

/**
 * @typedef {{ status: 'loading' }
 *   | { status: 'live', items: any[], ms: number, slow: boolean, note?: string }
 *   | { status: 'stale', items: any[], source: 'cache' | 'static', cachedAt?: string, reason: string, retryAt: number }
 *   | { status: 'not-found', reason: string }} ListState
 */

export class ListLoader extends EventTarget {
  /**
   * @param {{ label: string, baseUrl: string, path: string, query: string, timeoutMs?: number,
   *   map: (row: any) => any, staticItems: any[], cacheKey: string,
   *   log: (text: string, level?: 'info' | 'warn' | 'error') => void }} opts
   */
  constructor(opts) {
    super()
    this.opts = opts
    /** @type {ListState} */
    this.state = { status: 'loading' }
    this.gen = 0
    this.background = 0
    this.timer = undefined
  }

  /** A fresh load (page start, Reload button). */
  load() {
    this.background = 0
    return this.run(false)
  }

  /** @param {boolean} background a background retry: one call */
  async run(background) {
    const gen = ++this.gen
    clearTimeout(this.timer)
    if (this.state.status !== 'stale') this.set({ status: 'loading' })
    const o = this.opts
    const timeoutMs = o.timeoutMs ?? V01T_TIMEOUT_MS
    const get = (query) =>
      retrying(() => call(`${o.baseUrl}${o.path}${query ? `?${query}` : ''}`, { timeoutMs }), {
        ...FAST_RETRY,
        attempts: background || CURRENT ? 1 : FAST_RETRY.attempts,
        shouldRetry: (r) => r.kind === 'http' && r.status >= 500,
        onRetry: ({ attempt, delayMs, result }) =>
          o.log(`${o.label}: ${describeOutcome(result)}; retry ${attempt} in ${delayMs} ms`, 'warn'),
      })
    let { result } = await get(o.query)
    let note
    if (result.kind === 'http' && result.status === 400 && o.query) {
      o.log(`${o.label}: ${describeOutcome(result)}; retrying with default parameters`, 'error')
      ;({ result } = await get(''))
      note = 'loaded with default parameters'
    }
    if (gen !== this.gen) return
    if (result.kind === 'ok' && result.data?.success === true && Array.isArray(result.data.data)) {
      const items = result.data.data.map(o.map)
      const slow = result.ms > SLOW_MS
      if (slow)
        o.log(
          `${o.label}: slow response ${formatSeconds(result.ms)} (alert threshold ${formatSeconds(SLOW_MS)})`,
          'warn',
        )
      else o.log(`${o.label}: ${items.length} items in ${result.ms} ms`)
      try {
        localStorage.setItem(o.cacheKey, JSON.stringify({ items, at: new Date().toISOString() }))
      } catch {
        // Storage full or disabled: the bundled copy remains the fallback.
      }
      this.background = 0
      this.set({ status: 'live', items, ms: result.ms, slow, ...(note ? { note } : {}) })
      return
    }
    if (result.kind === 'http' && result.status === 404) {
      o.log(`${o.label}: ${describeOutcome(result)} (not falling back: the content does not exist)`, 'error')
      this.set({ status: 'not-found', reason: describeOutcome(result) })
      return
    }
    const reason = result.kind === 'ok' ? 'unexpected response shape' : describeOutcome(result)
    o.log(`${o.label}: ${reason}; showing cached data`, 'error')
    this.background++
    const { delayMs } = backoffDelay(this.background, BACKGROUND_RETRY)
    this.set({
      status: 'stale',
      ...this.fallback(),
      reason,
      retryAt: CURRENT ? Number.POSITIVE_INFINITY : Date.now() + delayMs,
    })
    if (!CURRENT) this.timer = setTimeout(() => void this.run(true), delayMs)
  }

  fallback() {
    try {
      const cached = JSON.parse(localStorage.getItem(this.opts.cacheKey) ?? 'null')
      if (cached && Array.isArray(cached.items))
        return { items: cached.items, source: /** @type {const} */ ('cache'), cachedAt: cached.at }
    } catch {
      // A corrupt cache entry: use the bundled copy.
    }
    return { items: this.opts.staticItems, source: /** @type {const} */ ('static') }
  }

  set(state) {
    this.state = state
    this.dispatchEvent(new Event('state'))
  }

  stop() {
    this.gen++
    clearTimeout(this.timer)
  }
}

/** Article fields, read from the top level (the matrix's client reads raw_data.*: drift). */
export function mapArticle(a) {
  return {
    title: a.title,
    slug: a.slug,
    excerpt: a.excerpt ?? '',
    publishedAt: a.publishedAt ?? '',
    readTime: a.readTime ?? '',
    status: a.status ?? '',
  }
}

export function mapOrg(o) {
  return { title: o.title, slug: o.slug, status: o.status ?? '', description: o.description ?? '' }
}
