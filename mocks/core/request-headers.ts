import type { IncomingMessage } from 'node:http'
import type { Context } from 'hono'

// A request's headers for the layers every request crosses (fault engine, journal, CORS).
// Served by @hono/node-server, they are read from Node's already-parsed IncomingMessage:
// `c.req.header()` would first build a WHATWG Headers from it, validating every name and value
// again, on every request (a few % of a V01T list's CPU). Under msw and `app.request()` there
// is no IncomingMessage: the Request's own Headers are read.

/** What the engine's matchers need of headers: Headers has it, so does the Node view. */
export interface HeaderLookup {
  get(name: string): string | null
}

export interface RequestHeaders extends HeaderLookup {
  /** Every header, names lower-case, repeated ones joined as Headers joins them. */
  entries(): [string, string][]
}

const joined = (value: string | string[] | undefined, name: string): string | null =>
  value === undefined ? null : Array.isArray(value) ? value.join(name === 'cookie' ? '; ' : ', ') : value

// Classes, not closures per request: methods on a prototype cost nothing to create.
class NodeHeaders implements RequestHeaders {
  constructor(private readonly h: IncomingMessage['headers']) {}
  get(name: string): string | null {
    return joined(this.h[name.toLowerCase()], name)
  }
  /** Sorted by name, as Headers iterates: the journal reads the same under msw and Node. */
  entries(): [string, string][] {
    const out: [string, string][] = []
    for (const name of Object.keys(this.h).sort()) {
      const value = joined(this.h[name], name)
      if (value !== null) out.push([name, value])
    }
    return out
  }
}

class FetchHeaders implements RequestHeaders {
  constructor(private readonly h: Headers) {}
  get(name: string): string | null {
    return this.h.get(name)
  }
  entries(): [string, string][] {
    return [...this.h]
  }
}

/** Kept on the request object itself: no WeakMap entry (an ephemeron the GC must track) per request. */
const HEADERS = Symbol('mocks.requestHeaders')

/** The request's headers, built once per request whichever layer asks first. */
export function requestHeaders(c: Context): RequestHeaders {
  const raw = c.req.raw as Request & { [HEADERS]?: RequestHeaders }
  let found = raw[HEADERS]
  if (!found) {
    const incoming = (c.env as { incoming?: IncomingMessage } | undefined)?.incoming
    found = incoming?.headers ? new NodeHeaders(incoming.headers) : new FetchHeaders(raw.headers)
    raw[HEADERS] = found
  }
  return found
}
