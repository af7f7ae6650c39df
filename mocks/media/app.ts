import type { Context, Hono } from 'hono'
import type { StateOf } from '../core/state.ts'
import { createFakeApp, type FakeIdentity } from '../fake/app.ts'
import type { FakeDeps } from '../fake/descriptor.ts'
import { type MediaReplication, mediaCors, registerMediaRoutes, type UploadStats } from './routes.ts'
import type { MediaState } from './store.ts'

export interface MediaAppOptions {
  /** Upload bookkeeping for inspection: the request's tenant's (across its states). */
  statsOf?: (c: Context) => UploadStats
  /** get-session transport (in-process tests); defaults to global fetch. */
  fetch?: typeof fetch
  /** Replicated mode: uploads and deletions through the world's log. */
  replicate?: MediaReplication
}

/** One bookkeeping for every request (an app built alone, in tests). */
function oneStats(): (c: Context) => UploadStats {
  const stats: UploadStats = { inFlight: 0 }
  return () => stats
}

/** media-service's app, created once: every route finds its files and storage through `stateOf`. */
/** `service` is the descriptor (its name and envelope), passed in so this module never imports index.ts. */
export function createMediaApp(
  service: FakeIdentity,
  deps: FakeDeps,
  stateOf: StateOf<MediaState>,
  options: MediaAppOptions = {},
): Hono {
  // CORS in front of the fault engine, so injected errors carry it too (see mediaCors).
  const app = createFakeApp(service, deps, { cors: mediaCors(deps) })
  registerMediaRoutes(app, deps, {
    stateOf,
    statsOf: options.statsOf ?? oneStats(),
    ...(options.fetch ? { fetch: options.fetch } : {}),
    ...(options.replicate ? { replicate: options.replicate } : {}),
  })
  return app
}
