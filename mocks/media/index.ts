import type { FakeDeps, FakeService } from '../core/fake.ts'
import type { Scenario } from '../core/scenario/schema.ts'
import { CurrentState } from '../core/state.ts'
import { createMediaApp } from './app.ts'
import { effectiveLimits, type UploadStats } from './routes.ts'
import { createMediaState } from './state.ts'
import { sweepStorage } from './storage.ts'
import type { MediaState } from './store.ts'
import type { UploadLimits } from './upload.ts'

export { ALLOWED_TYPES } from './sniff.ts'
export { createMediaState, MediaState } from './state.ts'
export { THUMB_MAX, THUMB_TYPE } from './thumbnail.ts'
export { MULTIPART_OVERHEAD } from './upload.ts'

export interface MediaFakeOptions {
  /** get-session transport (in-process tests); defaults to global fetch. */
  fetch?: typeof fetch
  /** Root that scenario `fixture` paths are relative to; defaults to the repo's fixtures/. */
  fixturesDir?: string
}

/** What tests can observe beyond HTTP: stored ids, limits in force, upload bookkeeping. */
export interface MediaInspection {
  fileIds: string[]
  limits: UploadLimits
  storagePath: string | undefined
  /** The state's own folder under STORAGE_PATH (undefined: in memory). */
  stateDir: string | undefined
  uploads: UploadStats
}

export interface MediaFake extends FakeService {
  /** The state in force (tests, tooling); replaced whole on every scenario switch. */
  state(): MediaState
  inspect(): MediaInspection
}

/** Fake media-service (Go/Gin), port 8081 by default. */
export function createMediaFake(deps: FakeDeps, opts: MediaFakeOptions = {}): MediaFake {
  const current = new CurrentState<MediaState>('media')
  const stats: UploadStats = { inFlight: 0 }
  const app = createMediaApp(deps, current.stateOf, { stats, ...(opts.fetch ? { fetch: opts.fetch } : {}) })
  let swept = false
  return {
    name: 'media',
    app,
    state: () => current.get(),
    async applyScenario(scenario: Scenario) {
      if (!swept) {
        await sweepStorage(deps.config.storagePath)
        swept = true
      }
      const next = await createMediaState(scenario, {
        storagePath: deps.config.storagePath,
        ...(opts.fixturesDir ? { fixturesDir: opts.fixturesDir } : {}),
      })
      // Runtime uploads of the old state go with it (they are not part of any scenario).
      await current.replace(next)?.dispose()
    },
    async close() {
      await current.peek()?.dispose()
    },
    inspect() {
      const s = current.get()
      return {
        fileIds: s.files.all().map((f) => f.id),
        limits: effectiveLimits(s, deps),
        storagePath: deps.config.storagePath,
        stateDir: s.storage.dir,
        uploads: { ...stats, ...(stats.last ? { last: { ...stats.last } } : {}) },
      }
    },
  }
}
