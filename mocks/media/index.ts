import { fileURLToPath } from 'node:url'
import { createFakeApp } from '../fake/app.ts'
import { defineFake, type FakeDeps, type FakeService } from '../fake/descriptor.ts'
import { mediaSection, type Scenario } from '../fake/scenario.ts'
import { effectiveLimits, mediaCors, registerMediaRoutes, type UploadStats } from './routes.ts'
import { configureMedia } from './settings.ts'
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
  const app = createFakeApp(media, deps, { cors: mediaCors(deps) })
  const storage = createStorage(deps.config.storagePath)
  const stats: UploadStats = { inFlight: 0 }
  const fixturesDir = opts.fixturesDir ?? DEFAULT_FIXTURES_DIR
  let state: MediaState | undefined
  let swept = false
  const current = (): MediaState => {
    if (!state) throw new Error('media fake used before a scenario was applied')
    return state
  }
  registerMediaRoutes(app, deps, {
    state: current,
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

/** Fake media-service: its descriptor (mocks/fake/descriptor.ts), listed in mocks/registry.ts. */
export const media = defineFake({
  name: 'media',
  title: 'media-service',
  port: 8081,
  portEnv: 'MOCKS_MEDIA_PORT',
  transport: 'http',
  scenario: {
    key: 'media',
    schema: mediaSection,
    // File ids unique; owners must be seeded users (auth.users).
    check(s, add) {
      const users = new Set(s.auth.users.map((u) => u.id))
      const fileIds = new Set<string>()
      s.media.files.forEach((f, i) => {
        if (fileIds.has(f.id)) add(`media.files.${i}.id`, `duplicate file id "${f.id}"`)
        fileIds.add(f.id)
        if (!users.has(f.owner)) add(`media.files.${i}.owner`, `"${f.owner}" is not a user in auth.users`)
      })
    },
  },
  frontend: { urls: ['MEDIA_SERVICE_URL'] },
  publicUrlEnv: 'BASE_URL',
  configure: configureMedia,
  // The URLs media advertises (BASE_URL) follow its port, unless set by env.
  derive(config, origin) {
    if (origin) config.mediaBaseUrl = origin
    else if (!config.explicit.mediaBaseUrl) config.mediaBaseUrl = `http://localhost:${config.ports.media}`
  },
  create: (deps) => createMediaFake(deps),
})
