import { type Context, type ErrorHandler, Hono, type MiddlewareHandler, type Next } from 'hono'
import { HTTPException } from 'hono/http-exception'
import type { ServiceName } from '../core/config.ts'
import { type CorsOptions, corsMiddleware } from '../core/cors.ts'
import { type ErrorEnvelope, reasonFor } from '../core/envelope.ts'
import type { FakeDeps } from './descriptor.ts'
import { chainRouter } from './sync-compose.ts'

// The Hono app every HTTP fake starts from, in the one order that keeps the control API apart:
// first its `/__mocks` slice (a catch-all answers every control path, so nothing registered
// after it ever sees one: this is where faults, journal and CORS are kept off `/__mocks/*`),
// then CORS if the service has it, then the fault engine (which also journals) in front of
// every route, then HEAD's Content-Length; unknown routes, bad methods and thrown errors
// answered in the service's own envelope. A stack trace never reaches a client.

export interface FakeAppOptions {
  /** CORS for browsers calling the service directly; runs first, in front of the fault engine. */
  cors?: CorsOptions
}

/** Who the app serves: a descriptor fits (its name and its error envelope). */
export interface FakeIdentity {
  readonly name: ServiceName
  readonly envelope: ErrorEnvelope
}

/**
 * A HEAD answer's Content-Length is its GET body's, as Django, Axum and Node's own servers
 * send it (Hono drops the body, and the length with it). Inside the fault engine: a fault's own
 * answer to a HEAD is left as the fault made it. Any other method goes straight on.
 */
const headLength: MiddlewareHandler = (c, next) => (c.req.method === 'HEAD' ? withLength(c, next) : next())

async function withLength(c: Context, next: Next): Promise<void> {
  await next()
  const res = c.res
  if (!res.body || res.headers.has('content-length')) return
  const body = await res.arrayBuffer()
  const headers = new Headers(res.headers)
  headers.set('content-length', String(body.byteLength))
  c.res = new Response(null, { status: res.status, statusText: res.statusText, headers })
}

export function createFakeApp(service: FakeIdentity, deps: FakeDeps, opts: FakeAppOptions = {}): Hono {
  const { name, envelope } = service
  const onError: ErrorHandler = (err, c) => {
    if (err instanceof HTTPException) {
      const status = err.status
      return c.json(envelope.body(err.message || reasonFor(status), envelope.code(status)), status)
    }
    deps.logger.error(
      { err: { message: err.message, stack: err.stack }, path: c.req.path },
      'unhandled error',
    )
    return c.json(envelope.body('Internal server error', envelope.code(500)), 500)
  }
  // Each request's chain (control slice or CORS, faults, route) as one handler: synchronous
  // whenever every step is (sync-compose.ts).
  const app = new Hono({ router: chainRouter(onError) })
  if (deps.control) app.route('/__mocks', deps.control)
  if (opts.cors) app.use('*', corsMiddleware(opts.cors))
  app.use('*', deps.faults.http(name))
  app.use('*', headLength)
  app.notFound((c) =>
    c.json(envelope.body(`No route for ${c.req.method} ${c.req.path}`, envelope.code(404)), 404),
  )
  app.onError(onError)
  return app
}
