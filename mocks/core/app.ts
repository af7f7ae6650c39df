import { Hono } from 'hono'
import { HTTPException } from 'hono/http-exception'
import { isControlPath, type ServiceName } from './config.ts'
import { type CorsOptions, corsMiddleware } from './cors.ts'
import { codeForStatus, errorEnvelope, reasonFor } from './envelope.ts'
import type { FakeDeps } from './fake.ts'

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
  // The one place that keeps faults (and their journaling) off the control API: it is mounted
  // on every fake under /__mocks and must answer whatever faults are installed.
  const faults = deps.faults.http(service)
  app.use('*', (c, next) => (isControlPath(c.req.path) ? next() : faults(c, next)))
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
