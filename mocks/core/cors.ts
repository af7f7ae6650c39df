import type { ServerResponse } from 'node:http'
import type { Context, MiddlewareHandler, Next } from 'hono'
import { cors } from 'hono/cors'
import { requestHeaders } from './request-headers.ts'

// CORS as the first middleware of a fake's app, in front of its fault engine, as a CORS layer
// sits first in the real services: a browser can read an injected 500 or 503 too, and
// preflights are answered whatever the path (never reaching the engine or the journal). The
// headers go on Node's response when there is one, else on the answer after the rest of the
// app made it; never on a placeholder response (hono/cors does that, which makes Hono rebuild
// every answer and @hono/node-server stream it). An in-process network error
// (`Response.error()`, what `down`/`reset` give under msw) passes through untouched.
// `/__mocks` never gets CORS.

export interface CorsOptions {
  /** `'*'` for a public API; otherwise a predicate over the Origin, answered with credentials. */
  origin: '*' | ((origin: string | undefined) => boolean)
  allowMethods: string[]
  allowHeaders?: string[]
  exposeHeaders?: string[]
  maxAge?: number
  /** Only paths under this prefix get CORS (e.g. `/api/`); `/__mocks` never does. */
  prefix?: string
}

export function corsMiddleware(opts: CorsOptions): MiddlewareHandler {
  const check = opts.origin
  const credentials = check !== '*'
  const allowed = (origin: string | undefined) => (check === '*' ? true : check(origin))
  const preflight = cors({
    origin: check === '*' ? '*' : (origin) => (check(origin) ? origin : null),
    credentials,
    allowMethods: opts.allowMethods,
    ...(opts.allowHeaders ? { allowHeaders: opts.allowHeaders } : {}),
    ...(opts.exposeHeaders ? { exposeHeaders: opts.exposeHeaders } : {}),
    ...(opts.maxAge ? { maxAge: opts.maxAge } : {}),
  })
  // What every allowed answer carries besides its Allow-Origin.
  const fixed: [string, string][] = []
  if (credentials) fixed.push(['access-control-allow-credentials', 'true'], ['vary', 'Origin'])
  if (opts.exposeHeaders?.length) fixed.push(['access-control-expose-headers', opts.exposeHeaders.join(',')])
  // Control paths never reach this: the fake app mounts its control slice in front (mocks/fake/app.ts).
  const applies = (path: string) => !opts.prefix || path.startsWith(opts.prefix)
  return (c, next) => {
    if (!applies(c.req.path)) return next()
    const headers = requestHeaders(c)
    if (c.req.method === 'OPTIONS' && headers.get('access-control-request-method')) {
      return preflight(c, async () => undefined).then((res) => res ?? c.res)
    }
    const origin = headers.get('origin') ?? undefined
    if (credentials && !(origin && allowed(origin))) return next()
    const allowOrigin = credentials ? (origin as string) : '*'
    // Served by Node, the headers go on Node's response before the app runs (no async layer
    // here: nearly every request is served this way), and @hono/node-server's writeHead merges
    // them with the answer's own. Setting them on the answer would turn its plain header
    // object into a WHATWG Headers, validated and then copied back out for writeHead, on
    // every request. No fake's route sets these headers or Vary itself, so nothing of the
    // answer's is replaced (tests over sockets check Vary and the rest). An answer that is
    // no HTTP answer (`down`, `reset`: the socket is cut) never writes them.
    const outgoing = (c.env as { outgoing?: ServerResponse } | undefined)?.outgoing
    if (outgoing) {
      outgoing.setHeader('access-control-allow-origin', allowOrigin)
      for (const [name, value] of fixed) outgoing.setHeader(name, value)
      return next()
    }
    return onAnswer(c, next, allowOrigin, fixed)
  }
}

/**
 * Under msw, `app.request()` and WebSocket handshakes (no Node response): on the answer itself,
 * after the rest of the app made it.
 */
async function onAnswer(
  c: Context,
  next: Next,
  allowOrigin: string,
  fixed: readonly [string, string][],
): Promise<void> {
  await next()
  const res = c.res
  // `status === 0` is `Response.error()` (what `down`/`reset` give under msw); reading
  // `res.type` instead would make @hono/node-server build a real Response and stream it.
  if (res.status === 0) return
  try {
    res.headers.set('access-control-allow-origin', allowOrigin)
    for (const [name, value] of fixed) {
      if (name === 'vary') res.headers.append(name, value)
      else res.headers.set(name, value)
    }
  } catch {
    // Immutable headers (a Response passed through from elsewhere): served as it is.
  }
}
