import { fileURLToPath } from 'node:url'
import { createFakeApp } from '../core/app.ts'
import type { FakeDeps, FakeService } from '../core/fake.ts'
import type { RoleMap } from '../core/roles.ts'
import type { Scenario } from '../core/scenario/schema.ts'
import { effectiveLimits, mediaCors, registerMediaRoutes, type UploadStats } from './routes.ts'
import { createStorage } from './storage.ts'
import { buildMediaState, type MediaState } from './store.ts'
import type { UploadLimits } from './upload.ts'

export { ALLOWED_TYPES } from './sniff.ts'
export { THUMB_MAX, THUMB_TYPE } from './thumbnail.ts'
export { MULTIPART_OVERHEAD } from './upload.ts'

const DEFAULT_FIXTURES_DIR = fileURLToPath(new URL('../../fixtures/', import.meta.url))

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
  uploads: UploadStats
}

export interface MediaFake extends FakeService {
  inspect(): MediaInspection
}

/** Fake media-service (Go/Gin), port 8081 by default. */
export function createMediaFake(deps: FakeDeps, opts: MediaFakeOptions = {}): MediaFake {
  // CORS in front of the fault engine, so injected errors carry it too (see mediaCors).
  const app = createFakeApp('media', deps, { cors: mediaCors(deps) })
  const storage = createStorage(deps.config.storagePath)
  const stats: UploadStats = { inFlight: 0 }
  const fixturesDir = opts.fixturesDir ?? DEFAULT_FIXTURES_DIR
  let state: MediaState | undefined
  let swept = false
  const current = (): MediaState => {
    if (!state) throw new Error('media fake used before a scenario was applied')
    return state
  }
  // The scenario's role names over MOCKS_AUTH_ROLE_MAP's (config).
  let roleMap: RoleMap = deps.config.authRoleMap
  registerMediaRoutes(app, deps, {
    state: current,
    roleMap: () => roleMap,
    storage,
    stats,
    ...(opts.fetch ? { fetch: opts.fetch } : {}),
  })
  return {
    name: 'media',
    app,
    async applyScenario(scenario: Scenario) {
      if (!swept) {
        await storage.sweepTemp()
        swept = true
      }
      const next = await buildMediaState(scenario, fixturesDir, storage)
      const previous = state
      state = next
      roleMap = { ...deps.config.authRoleMap, ...scenario.auth.roleMap }
      // Runtime uploads of the old state go with it (they are not part of any scenario).
      await previous?.retire()
    },
    async close() {
      await state?.retire()
    },
    inspect() {
      const s = current()
      return {
        fileIds: s.files.all().map((f) => f.id),
        limits: effectiveLimits(s, deps),
        storagePath: storage.dir,
        uploads: { ...stats, ...(stats.last ? { last: { ...stats.last } } : {}) },
      }
    },
  }
}
