import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startTestMocks, type TestMocks } from '../tests/helpers.ts'
import { measureDbReset } from './db-reset.ts'

// The db-reset benchmark's measuring function against real mocks (auth and db), in small: it
// times resets before and after PGlite starts, and checks each reset restored the seed. The
// figures are not judged here (`pnpm bench --only db-reset` does, against its 200 ms target).

let t: TestMocks

beforeAll(async () => {
  t = await startTestMocks({ services: ['auth', 'db'] })
})
afterAll(async () => {
  await t?.close()
})

describe('bench: db reset', () => {
  it('times resets with and without the db and finds the seed restored each time', async () => {
    const r = await measureDbReset({ control: t.controlUrl, dbUrl: t.url('db'), runs: 3, warmup: 1 })
    expect(r.withoutDb).toHaveLength(3)
    expect(r.withDb).toHaveLength(3)
    for (const ms of [...r.withoutDb, ...r.withDb, r.startMs]) expect(ms).toBeGreaterThan(0)
    expect(r.restored).toBe(true)
    // Left on default, PGlite started.
    expect(t.mocks.scenario.name).toBe('default')
  }, 120_000)
})
