import type { Context, MiddlewareHandler, Next } from 'hono'
import { routePath } from 'hono/route'
import type { ServiceName } from '../core/config.ts'
import { type Journal, type JournalEntry, recordHeaders } from '../core/journal.ts'
import { type RequestHeaders, requestHeaders } from '../core/request-headers.ts'
import { searchOf } from '../core/url.ts'
import type { Compiled } from './registry.ts'

// Journaling, apart from the faults: every HTTP request once, whatever acted on it, and each
// WebSocket event. The fault pipeline notes on the request's trace what the journal records.

/** What one request's journal entry needs beyond the request itself; the pipeline fills it. */
export interface HttpTrace {
  readonly headers: RequestHeaders
  /** The query string as URL#search gives it. */
  readonly search: string
  /** Whether the request went on to the fake (its route pattern is then known). */
  reachedFake: boolean
  /** The answer, when there was one. */
  res: Response | undefined
  /** The fault credited with the answer, if one acted. */
  fault: Compiled | undefined
  userId: string | undefined
}

/** A middleware that is handed the request's trace to fill in. */
export type TracedHandler = (c: Context, next: Next, trace: HttpTrace) => Promise<Response | undefined>

/** Runs `inner` and journals the request when it ends, however it ends. */
export function journaled(journal: Journal, service: ServiceName, inner: TracedHandler): MiddlewareHandler {
  return async (c, next) => {
    const started = performance.now()
    const trace: HttpTrace = {
      headers: requestHeaders(c),
      search: searchOf(c.req.url),
      reachedFake: false,
      res: undefined,
      fault: undefined,
      userId: undefined,
    }
    const open = {
      service,
      method: c.req.method,
      path: c.req.path,
      startedAt: Date.now(),
      get fault() {
        return trace.fault?.fault.id ?? null
      },
    }
    journal.open.add(open)
    try {
      return await inner(c, next, trace)
    } finally {
      journal.open.delete(open)
      journal.record({
        service,
        kind: 'http',
        method: c.req.method,
        path: c.req.path,
        route: trace.reachedFake ? safeRoutePath(c) : c.req.path,
        query: trace.search,
        status: trace.res ? trace.res.status : null,
        durationMs: Math.round((performance.now() - started) * 100) / 100,
        requestHeaders: recordHeaders(trace.headers.entries()),
        fault: credit(trace.fault),
        userId: trace.userId,
      })
    }
  }
}

export type WsEvent = 'ws-in' | 'ws-out' | 'ws-open' | 'ws-close'

/**
 * Journals one socket's events. Called for every frame, each socket's copy of a broadcast
 * included: the entry is built straight from these arguments.
 */
export function wsJournal(journal: Journal, service: ServiceName, path: string, userId: string | undefined) {
  return (
    kind: WsEvent,
    frame: string | undefined,
    code: number | undefined,
    fault?: Compiled,
    closedBy?: 'client' | 'server',
  ) =>
    journal.recordWs(
      service,
      kind,
      path,
      frame === undefined ? undefined : clip(frame),
      code,
      userId,
      credit(fault),
      closedBy,
    )
}

function credit(c: Compiled | undefined): JournalEntry['fault'] {
  return c ? { id: c.fault.id, type: c.fault.spec.effect.type } : null
}

/** A frame as journaled: the first 2,000 characters. */
const clip = (text: string) => (text.length > 2000 ? `${text.slice(0, 2000)}…` : text)

function safeRoutePath(c: Parameters<typeof routePath>[0]): string {
  try {
    return routePath(c, -1)
  } catch {
    return c.req.path
  }
}
