import { TenantStates } from '../core/state.ts'
import { defineFake, type FakeDeps, type FakeService, scopeOf, type TenantScope } from '../fake/descriptor.ts'
import { mediaSection, type Scenario } from '../fake/scenario.ts'
import { createMediaApp } from './app.ts'
import { effectiveLimits, type UploadStats } from './routes.ts'
import { configureMedia } from './settings.ts'
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
  /** A tenant's state (default: the default tenant's). */
  state(tenant?: string): MediaState
  inspect(tenant?: string): MediaInspection
}

/** Fake media-service (Go/Gin), port 8081 by default. */
export function createMediaFake(deps: FakeDeps, opts: MediaFakeOptions = {}): MediaFake {
  const states = new TenantStates<MediaState>('media')
  const stats: UploadStats = { inFlight: 0 }
  const app = createMediaApp(media, deps, states.stateOf, {
    stats,
    ...(opts.fetch ? { fetch: opts.fetch } : {}),
  })
  let swept = false
  return {
    name: 'media',
    app,
    state: (tenant) => states.get(tenant),
    async applyScenario(scenario: Scenario, tenant?: TenantScope) {
      if (!swept) {
        await sweepStorage(deps.config.storagePath)
        swept = true
      }
      const next = await createMediaState(scenario, {
        storagePath: deps.config.storagePath,
        ...(opts.fixturesDir ? { fixturesDir: opts.fixturesDir } : {}),
      })
      // Runtime uploads of the old state go with it (they are not part of any scenario).
      await states.replace(scopeOf(deps, tenant).id, next)?.dispose()
    },
    async dropTenant(tenant) {
      // Its folder (seeded and uploaded files) goes with it.
      await states.remove(tenant)?.dispose()
    },
    async close() {
      await Promise.all([...states.values()].map((s) => s.dispose()))
    },
    inspect(tenant) {
      const s = states.get(tenant)
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
