import type { Context, MiddlewareHandler, Next } from 'hono'
import { routePath } from 'hono/route'
import type { ServiceName } from '../core/config.ts'
import type { Journal, JournalEntry, OpenRequest, OpenSource } from '../core/journal.ts'
import { isThenable } from '../core/promises.ts'
import { type RequestHeaders, requestHeaders } from '../core/request-headers.ts'
import { searchOf } from '../core/url.ts'
import type { Compiled } from './registry.ts'

// Journaling, apart from the faults: every HTTP request once, whatever acted on it, and each
// WebSocket event. The fault pipeline notes on the request's trace what the journal records.

/**
 * One request's trace: what its journal entry needs beyond the request itself (the pipeline
 * fills it in) and, while it is answered, its entry in the journal's open requests. One
 * object per request, its methods on the prototype: no closure or getter made per request.
 */
export class HttpTrace implements OpenSource {
  /** Whether the request went on to the fake (its route pattern is then known). */
  reachedFake = false
  /** The answer, when there was one. */
  res: Response | undefined = undefined
  /** The fault credited with the answer, if one acted. */
  fault: Compiled | undefined = undefined
  userId: string | undefined = undefined
  prevOpen: OpenSource | undefined = undefined
  nextOpen: OpenSource | undefined = undefined

  constructor(
    readonly service: ServiceName,
    readonly method: string,
    readonly path: string,
    readonly headers: RequestHeaders,
    /** The query string as URL#search gives it. */
    readonly search: string,
    readonly startedAt: number,
    /** performance.now() when it began. */
    readonly started: number,
  ) {}

  openRequest(): OpenRequest {
    return {
      service: this.service,
      method: this.method,
      path: this.path,
      startedAt: this.startedAt,
      fault: this.fault?.fault.id ?? null,
    }
  }
}

/**
 * The fault pipeline's part of a request: `null` when no fault acts on it (nearly every
 * request: the caller then goes straight on to the fake, one async step fewer; a promise of
 * `null` when that is known only later, as with replicated mode's counted faults), else the
 * promise of the answer it decided (`undefined`: the fake's answer stands).
 */
export type TracedHandler = (
  c: Context,
  next: Next,
  trace: HttpTrace,
) => Promise<Response | undefined | null> | null

/**
 * Runs `inner` and journals the request when it ends, however it ends. Not an async function:
 * when no fault acts and the fake answers synchronously (nearly every request), the request is
 * answered and journaled with no promise at all (see mocks/fake/sync-compose.ts).
 */
export function journaled(journal: Journal, service: ServiceName, inner: TracedHandler): MiddlewareHandler {
  // The last path and query string seen, reused when the next request's are equal: each is a
  // slice of the request's URL, and an entry keeping it keeps the whole URL string alive for as
  // long as the journal keeps the entry (thousands of them: garbage collector work per request).
  let lastPath = ''
  let lastSearch = ''
  const done = (c: Context, trace: HttpTrace) => {
    journal.open.delete(trace)
    journal.recordHttp({
      service,
      method: trace.method,
      path: trace.path,
      route: trace.reachedFake ? safeRoutePath(c) : trace.path,
      query: trace.search,
      status: trace.res ? trace.res.status : null,
      durationMs: Math.round((performance.now() - trace.started) * 100) / 100,
      // Recorded (sorted, cookie and authorization shortened) only if the entry is read.
      headers: trace.headers,
      fault: credit(trace.fault),
      userId: trace.userId,
    })
  }
  /** The fake's turn: its answer is the request's. */
  const toFake = (c: Context, next: Next, trace: HttpTrace): void | Promise<void> => {
    trace.reachedFake = true
    const ran = next() as unknown
    // Hono's next() gives a real promise when it gives one (sync-compose.ts: a ChainRun's).
    if (isThenable(ran)) {
      return (ran as Promise<unknown>).then(() => {
        trace.res = c.res
      })
    }
    trace.res = c.res
  }
  /** A fault acts, or may (known only once `acting` settles). */
  const withFault = async (
    c: Context,
    next: Next,
    trace: HttpTrace,
    acting: Promise<Response | undefined | null>,
  ): Promise<Response | undefined> => {
    try {
      const res = await acting
      if (res !== null) return res
      await toFake(c, next, trace)
      return undefined
    } finally {
      done(c, trace)
    }
  }
  // Hono's type wants a promise back; its compose and sync-compose's take a plain value too.
  const middleware = (c: Context, next: Next): Promise<Response | undefined> | Promise<void> | undefined => {
    const path = c.req.path
    if (path !== lastPath) lastPath = path
    const search = searchOf(c.req.url)
    if (search !== lastSearch) lastSearch = search
    const trace = new HttpTrace(
      service,
      c.req.method,
      lastPath,
      requestHeaders(c),
      lastSearch,
      Date.now(),
      performance.now(),
    )
    journal.open.add(trace)
    let ran: void | Promise<void>
    try {
      const acting = inner(c, next, trace)
      if (acting !== null) return withFault(c, next, trace, acting)
      ran = toFake(c, next, trace)
    } catch (err) {
      done(c, trace)
      throw err
    }
    if (!ran) {
      done(c, trace)
      return undefined
    }
    // Not `finally`: it makes more promises, and every asynchronous request takes this path.
    return ran.then(
      () => done(c, trace),
      (err: unknown) => {
        done(c, trace)
        throw err
      },
    )
  }
  return middleware as unknown as MiddlewareHandler
}

/** How an entry names the fault that acted. */
export function credit(c: Compiled | undefined): JournalEntry['fault'] {
  return c ? { id: c.fault.id, type: c.fault.spec.effect.type } : null
}

let clippedFrom = ''
let clipped = ''

/**
 * A frame as journaled: the first 2,000 characters. A broadcast journals the same string for
 * every socket: the last one clipped is remembered, so a long frame is cut once, not once per
 * socket, and every copy holds the same string (the journal's run check compares them, which
 * V8 answers at once for the same string and character by character for equal ones).
 */
export function clip(text: string): string {
  if (text.length <= 2000) return text
  if (text !== clippedFrom) {
    clippedFrom = text
    clipped = `${text.slice(0, 2000)}…`
  }
  return clipped
}

function safeRoutePath(c: Parameters<typeof routePath>[0]): string {
  try {
    return routePath(c, -1)
  } catch {
    return c.req.path
  }
}
