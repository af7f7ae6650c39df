import type { Hono } from 'hono'
import { createFakeApp } from '../core/app.ts'
import type { FakeDeps } from '../core/fake.ts'
import type { StateOf } from '../core/state.ts'
import { mediaCors, registerMediaRoutes, type UploadStats } from './routes.ts'
import type { MediaState } from './store.ts'

export interface MediaAppOptions {
  /** Upload bookkeeping for inspection (per app, across states). */
  stats?: UploadStats
  /** get-session transport (in-process tests); defaults to global fetch. */
  fetch?: typeof fetch
}

/** media-service's app, created once: every route finds its files and storage through `stateOf`. */
export function createMediaApp(
  deps: FakeDeps,
  stateOf: StateOf<MediaState>,
  options: MediaAppOptions = {},
): Hono {
  // CORS in front of the fault engine, so injected errors carry it too (see mediaCors).
  const app = createFakeApp('media', deps, { cors: mediaCors(deps) })
  registerMediaRoutes(app, deps, {
    stateOf,
    stats: options.stats ?? { inFlight: 0 },
    ...(options.fetch ? { fetch: options.fetch } : {}),
  })
  return app
}
