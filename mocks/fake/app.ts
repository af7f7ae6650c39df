import { Hono } from 'hono'
import { HTTPException } from 'hono/http-exception'
import type { ServiceName } from '../core/config.ts'
import { type CorsOptions, corsMiddleware } from '../core/cors.ts'
import { codeForStatus, errorEnvelope, reasonFor } from '../core/envelope.ts'
import type { FakeDeps } from './descriptor.ts'

// The Hono app every fake starts from: CORS if the service has it, then the fault engine (which
// also journals) in front of every route,
// and unknown routes, bad methods and thrown errors answered in the service's own envelope.
// A stack trace never reaches a client.

export interface FakeAppOptions {
  /** CORS for browsers calling the service directly; runs first, in front of the fault engine. */
  cors?: CorsOptions
}

export function createFakeApp(service: ServiceName, deps: FakeDeps, opts: FakeAppOptions = {}): Hono {
  const app = new Hono()
  if (opts.cors) app.use('*', corsMiddleware(opts.cors))
  app.use('*', deps.faults.http(service))
  app.notFound((c) =>
    c.json(
      errorEnvelope(service, `No route for ${c.req.method} ${c.req.path}`, codeForStatus(service, 404)),
      404,
    ),
  )
  app.onError((err, c) => {
    if (err instanceof HTTPException) {
      const status = err.status
      return c.json(
        errorEnvelope(service, err.message || reasonFor(status), codeForStatus(service, status)),
        status,
      )
    }
    deps.logger.error(
      { err: { message: err.message, stack: err.stack }, path: c.req.path },
      'unhandled error',
    )
    return c.json(errorEnvelope(service, 'Internal server error', codeForStatus(service, 500)), 500)
  })
  return app
}
