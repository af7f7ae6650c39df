import { Hono } from 'hono'
import { cors } from 'hono/cors'
import { isControlPath } from './config.ts'
import { requestHeaders } from './request-headers.ts'

// CORS in front of a fake's whole app (and so in front of its fault engine), as a CORS layer
// sits first in the real services: a browser can read an injected 500 or 503 too. The headers
// are set on the inner app's answer itself rather than by wrapping hono/cors around it: a
// wrapping middleware makes Hono rebuild every response (and @hono/node-server stream it,
// a third of a fake's CPU per request), and cannot carry an in-process network error
// (`Response.error()`, what `down`/`reset` give under msw) through.

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

export function withCors(inner: Hono, opts: CorsOptions): Hono {
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
  const applies = (path: string) => !isControlPath(path) && (!opts.prefix || path.startsWith(opts.prefix))
  const app = new Hono()
  app.all('*', async (c, next) => {
    const path = c.req.path
    // The control slice is mounted on this app by the runtime, after this route.
    if (isControlPath(path)) return next()
    const headers = requestHeaders(c)
    if (applies(path) && c.req.method === 'OPTIONS' && headers.get('access-control-request-method')) {
      return (await preflight(c, async () => undefined)) ?? c.res
    }
    // The same env object goes through: the WebSocket upgrade helper keys its handshake on it.
    const res = await inner.fetch(c.req.raw, c.env)
    const origin = headers.get('origin') ?? undefined
    // `status === 0` is `Response.error()`; reading `res.type` instead would make
    // @hono/node-server build a real Response and stream it (half the CPU of a V01T list).
    if (!applies(path) || res.status === 0 || (credentials && !(origin && allowed(origin)))) return res
    try {
      res.headers.set('access-control-allow-origin', credentials ? (origin as string) : '*')
      if (credentials) {
        res.headers.set('access-control-allow-credentials', 'true')
        res.headers.append('vary', 'Origin')
      }
      if (opts.exposeHeaders?.length)
        res.headers.set('access-control-expose-headers', opts.exposeHeaders.join(','))
    } catch {
      // Immutable headers (a Response passed through from elsewhere): served as it is.
    }
    return res
  })
  return app
}
