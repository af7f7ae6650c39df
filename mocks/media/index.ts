import { rm } from 'node:fs/promises'
import { join } from 'node:path'
import type { Replication } from '../core/replication.ts'
import { TenantStates } from '../core/state.ts'
import { DEFAULT_TENANT, tenantOf } from '../core/tenant.ts'
import { defineFake, type FakeDeps, type FakeService, scopeOf, type TenantScope } from '../fake/descriptor.ts'
import { mediaSection, type Scenario } from '../fake/scenario.ts'
import { createMediaApp } from './app.ts'
import { effectiveLimits, type MediaReplication, type UploadStats } from './routes.ts'
import { configureMedia } from './settings.ts'
import { createMediaState } from './state.ts'
import { type BlobRef, sweepStorage } from './storage.ts'
import type { FileRow, MediaState } from './store.ts'
import type { Thumbnail } from './thumbnail.ts'
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
  // Per tenant, across its states (a reset keeps the count of uploads still being read).
  const stats = new Map<string, UploadStats>()
  const statsOf = (tenant: string): UploadStats => {
    const known = stats.get(tenant)
    if (known) return known
    const fresh: UploadStats = { inFlight: 0 }
    stats.set(tenant, fresh)
    return fresh
  }
  // Replicated mode shares uploads only through a shared STORAGE_PATH (README "Replicas").
  const { replication } = deps
  const sharedDir =
    replication && deps.config.storagePath ? join(deps.config.storagePath, 'replicated') : undefined
  if (replication && !sharedDir)
    deps.logger.warn('replicated mode without STORAGE_PATH: uploads stay on the replica that took them')
  const replicate = replication && sharedDir ? replicateMedia(replication, states) : undefined
  const app = createMediaApp(media, deps, states.stateOf, {
    statsOf: (c) => statsOf(tenantOf(c)),
    ...(opts.fetch ? { fetch: opts.fetch } : {}),
    ...(replicate ? { replicate } : {}),
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
        sharedDir,
        ...(opts.fixturesDir ? { fixturesDir: opts.fixturesDir } : {}),
      })
      // Replicated: the entry applying this switch names the state on every replica.
      next.epoch = replication?.applying?.entry ?? 'start'
      // Runtime uploads of the old state go with it (they are not part of any scenario).
      await states.replace(scopeOf(deps, tenant).id, next)?.dispose()
    },
    async dropTenant(tenant) {
      // Its folder (seeded and uploaded files) goes with it.
      await states.remove(tenant)?.dispose()
      stats.delete(tenant)
    },
    async close() {
      await Promise.all([...states.values()].map((s) => s.dispose()))
    },
    inspect(tenant) {
      const s = states.get(tenant)
      const stats = statsOf(tenant ?? DEFAULT_TENANT)
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

interface ReplicatedUpload {
  tenant: string
  /** The state the upload started in (its epoch): a reset in between drops the upload. */
  epoch: string
  row: FileRow
  path: string
  thumb: (Omit<Thumbnail, 'bytes'> & { bytes: string }) | null
}

/**
 * Replicated mode with a shared STORAGE_PATH: the replica taking an upload commits its bytes
 * to the shared folder, then submits the file row (and thumbnail) to the log; every replica
 * adds it to the tenant's state in force, so reads and downloads work on any replica. A
 * deletion goes through the log likewise (each replica removes the row; the bytes' removal is
 * idempotent), and resets and tenant deletions are log entries already.
 */
function replicateMedia(log: Replication, states: TenantStates<MediaState>): MediaReplication {
  log.handle('media.file.add', async (p: ReplicatedUpload) => {
    const state = states.peek(p.tenant)
    const blob: BlobRef = { kind: 'disk', path: p.path }
    // Started in a state a reset has since replaced: its bytes go, as in one process.
    if (!state || state.epoch !== p.epoch) return void (await rm(p.path, { force: true }))
    const thumb = p.thumb ? { ...p.thumb, bytes: Buffer.from(p.thumb.bytes, 'base64') } : null
    await state.add(p.row, blob, thumb)
  })
  log.handle('media.file.remove', async (p: { tenant: string; id: string }) => {
    await states.peek(p.tenant)?.remove(p.id)
  })
  return {
    async add(c, state, row, blob, thumb) {
      if (blob.kind !== 'disk') throw new Error('replicated uploads need STORAGE_PATH')
      const upload: ReplicatedUpload = {
        tenant: tenantOf(c),
        epoch: state.epoch,
        row,
        path: blob.path,
        thumb: thumb ? { ...thumb, bytes: thumb.bytes.toString('base64') } : null,
      }
      await log.submit('media.file.add', upload, { everywhere: true })
    },
    async remove(c, _state, id) {
      await log.submit('media.file.remove', { tenant: tenantOf(c), id }, { everywhere: true })
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
