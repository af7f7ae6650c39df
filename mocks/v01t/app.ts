import type { Hono } from 'hono'
import type { CorsOptions } from '../core/cors.ts'
import type { StateOf } from '../core/state.ts'
import { createFakeApp, type FakeIdentity } from '../fake/app.ts'
import type { FakeDeps } from '../fake/descriptor.ts'
import { registerV01tRoutes } from './routes.ts'
import type { V01tState } from './state.ts'

// CORS in front of the fault engine, as django-cors-headers sits in front of V01T's views:
// browsers (NEXT_PUBLIC_V01T_API_URL) can read every answer, an injected 500 included, and
// preflights are answered whatever the path. The control slice stays same-origin.
export const V01T_CORS: CorsOptions = { origin: '*', allowMethods: ['GET', 'HEAD', 'OPTIONS'], maxAge: 86400 }

/**
 * V01T's app, created once: every route finds its records through `stateOf`. `service` is
 * the descriptor (its name and envelope), passed in so this module never imports index.ts.
 */
export function createV01tApp(service: FakeIdentity, deps: FakeDeps, stateOf: StateOf<V01tState>): Hono {
  const app = createFakeApp(service, deps, { cors: V01T_CORS })
  registerV01tRoutes(app, stateOf)
  return app
}
