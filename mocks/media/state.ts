import { fileURLToPath } from 'node:url'
import type { Scenario } from '../fake/scenario.ts'
import { createStateStorage } from './storage.ts'
import { buildMediaState, type MediaState } from './store.ts'

export { MediaState } from './store.ts'

// A media state is built from a scenario: its files collection seeded from fixtures, and its
// own storage (a folder of its own under STORAGE_PATH, so two states never see each other's
// files). `state.dispose()` removes its runtime uploads and, once nothing is in flight, its folder.

export const DEFAULT_FIXTURES_DIR = fileURLToPath(new URL('../../fixtures/', import.meta.url))

export interface MediaStateDeps {
  /** STORAGE_PATH: uploaded bytes on disk under it (undefined: in memory). */
  storagePath: string | undefined
  /** Root that scenario `fixture` paths are relative to; defaults to the repo's fixtures/. */
  fixturesDir?: string
  /** Replicated mode: the folder committed uploads go to, shared by every replica. */
  sharedDir?: string | undefined
}

/** Builds a fresh state. Throws a ScenarioError (leaving nothing on disk) when fixtures are unusable. */
export async function createMediaState(scenario: Scenario, deps: MediaStateDeps): Promise<MediaState> {
  const storage = await createStateStorage(deps.storagePath, deps.sharedDir)
  try {
    return await buildMediaState(scenario, deps.fixturesDir ?? DEFAULT_FIXTURES_DIR, storage)
  } catch (err) {
    await storage.retire()
    throw err
  }
}
