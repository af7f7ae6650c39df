import type { ServerResponse } from 'node:http'
import type { MiddlewareHandler } from 'hono'
import { cors } from 'hono/cors'
import { requestHeaders } from './request-headers.ts'

// CORS as the first middleware of a fake's app, in front of its fault engine, as a CORS layer
// sits first in the real services: a browser can read an injected 500 or 503 too, and
// preflights are answered whatever the path (never reaching the engine or the journal). The
// headers are set on the answer after the rest of the app made it, never before (hono/cors
// sets them on a placeholder response, which makes Hono rebuild every answer and
// @hono/node-server stream it), and an in-process network error (`Response.error()`, what
// `down`/`reset` give under msw) passes through untouched. `/__mocks` never gets CORS.

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
  return async (c, next) => {
    if (!applies(c.req.path)) return next()
    const headers = requestHeaders(c)
    if (c.req.method === 'OPTIONS' && headers.get('access-control-request-method')) {
      return (await preflight(c, async () => undefined)) ?? c.res
    }
    await next()
    const res = c.res
    const origin = headers.get('origin') ?? undefined
    // `status === 0` is `Response.error()`; reading `res.type` instead would make
    // @hono/node-server build a real Response and stream it (half the CPU of a V01T list).
    if (res.status === 0 || (credentials && !(origin && allowed(origin)))) return
    const allowOrigin = credentials ? (origin as string) : '*'
    // Served by Node, the headers go on Node's response, which @hono/node-server's writeHead
    // merges with the answer's own. Setting them on the answer would turn its plain header
    // object into a WHATWG Headers, validated and then copied back out for writeHead, on
    // every request. No fake's route sets these headers or Vary itself, so nothing of the
    // answer's is replaced (tests over sockets check Vary and the rest).
    const outgoing = (c.env as { outgoing?: ServerResponse } | undefined)?.outgoing
    if (outgoing && !outgoing.headersSent) {
      outgoing.setHeader('access-control-allow-origin', allowOrigin)
      for (const [name, value] of fixed) outgoing.setHeader(name, value)
      return
    }
    // Under msw, `app.request()` and WebSocket handshakes: on the answer itself.
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
}
