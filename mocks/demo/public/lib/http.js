// One way to call any service: every request carries X-Request-ID and a W3C traceparent (the
// matrix's "No request IDs" gap), has an explicit timeout (its "No timeouts" gap), and never
// throws: the caller gets an outcome it can map to a message. In the `current` behaviour
// (lib/behavior.js) it sends neither header and sets no timeout, as family-hub does today.

import { CURRENT } from './behavior.js'

function hex(bytes) {
  const a = new Uint8Array(bytes)
  crypto.getRandomValues(a)
  return Array.from(a, (b) => b.toString(16).padStart(2, '0')).join('')
}

/** A UUID v4 (crypto.randomUUID needs a secure context; this works on plain http too). */
export function requestId() {
  if (typeof crypto.randomUUID === 'function' && globalThis.isSecureContext) return crypto.randomUUID()
  const h = hex(16)
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-${((Number.parseInt(h[16], 16) & 3) | 8).toString(16)}${h.slice(17, 20)}-${h.slice(20, 32)}`
}

// The tenant this page is in (issue 16), when the demo server names one: carried as a W3C
// baggage member beside traceparent, as a page propagating trace context would. Calls that
// carry cookies are placed by the `mocks_tenant` cookie already; V01T is called without
// credentials, so baggage is what places it.
let tenantBaggage = ''

/** @param {string | undefined | null} tenant */
export function setTenant(tenant) {
  tenantBaggage = tenant ? `mocks.tenant=${encodeURIComponent(tenant)}` : ''
}

export function traceparent() {
  return `00-${hex(16)}-${hex(8)}-01`
}

/** `{message, code}` from any of the four envelopes: chat/media `{error, code}`, better-auth `{message, code}`, V01T `{success:false, error, code}`. */
export function errorFields(body) {
  if (body && typeof body === 'object') {
    const message =
      typeof body.error === 'string' ? body.error : typeof body.message === 'string' ? body.message : ''
    return { message, code: typeof body.code === 'string' ? body.code : '' }
  }
  return { message: typeof body === 'string' ? body.slice(0, 200) : '', code: '' }
}

/**
 * @typedef {{ kind: 'ok', status: number, data: any, ms: number, requestId: string }
 *   | { kind: 'http', status: number, code: string, message: string, data: any, ms: number, requestId: string }
 *   | { kind: 'network', message: string, ms: number, requestId: string }
 *   | { kind: 'timeout', timeoutMs: number, ms: number, requestId: string }
 *   | { kind: 'aborted', ms: number, requestId: string }} Outcome
 */

/**
 * @param {string} url
 * @param {{ method?: string, body?: BodyInit, json?: unknown, headers?: Record<string, string>,
 *   credentials?: RequestCredentials, timeoutMs: number, signal?: AbortSignal, blob?: boolean }} opts
 *   (`blob`: a successful body is returned as a Blob instead of parsed JSON)
 * @returns {Promise<Outcome>}
 */
export async function call(url, opts) {
  const id = requestId()
  const headers = new Headers(opts.headers ?? {})
  if (!CURRENT) {
    headers.set('X-Request-ID', id)
    headers.set('traceparent', traceparent())
  }
  if (tenantBaggage && !headers.has('baggage')) headers.set('baggage', tenantBaggage)
  let body = opts.body
  if (opts.json !== undefined) {
    headers.set('content-type', 'application/json')
    body = JSON.stringify(opts.json)
  }
  // Today's family-hub: no timeout at all (a hung call stays open until the server answers).
  const timeout = CURRENT ? undefined : AbortSignal.timeout(opts.timeoutMs)
  const signals = [timeout, opts.signal].filter((s) => s !== undefined)
  const signal = signals.length > 1 ? AbortSignal.any(signals) : signals[0]
  const started = performance.now()
  const ms = () => Math.round(performance.now() - started)
  try {
    const res = await fetch(url, {
      method: opts.method ?? 'GET',
      headers,
      body,
      credentials: opts.credentials ?? 'omit',
      signal,
    })
    if (res.ok && opts.blob)
      return { kind: 'ok', status: res.status, data: await res.blob(), ms: ms(), requestId: id }
    const text = await res.text()
    let data = null
    try {
      data = text ? JSON.parse(text) : null
    } catch {
      data = text
    }
    if (res.ok) return { kind: 'ok', status: res.status, data, ms: ms(), requestId: id }
    return { kind: 'http', status: res.status, ...errorFields(data), data, ms: ms(), requestId: id }
  } catch (err) {
    if (timeout?.aborted) return { kind: 'timeout', timeoutMs: opts.timeoutMs, ms: ms(), requestId: id }
    if (opts.signal?.aborted) return { kind: 'aborted', ms: ms(), requestId: id }
    return {
      kind: 'network',
      message: err instanceof Error ? err.message : String(err),
      ms: ms(),
      requestId: id,
    }
  }
}

/** A short human description of a failed outcome, for logs and banners. */
export function describeOutcome(o) {
  switch (o.kind) {
    case 'ok':
      return `HTTP ${o.status}`
    case 'http':
      return `HTTP ${o.status}${o.code ? ` ${o.code}` : ''}${o.message ? `: ${o.message}` : ''}`
    case 'timeout':
      return `timed out after ${formatSeconds(o.timeoutMs)}`
    case 'aborted':
      return 'cancelled'
    default:
      return 'unreachable (network error)'
  }
}

/** 30000 → "30 s", 2500 → "2.5 s". */
export function formatSeconds(ms) {
  return `${Number((ms / 1000).toFixed(1))} s`
}
