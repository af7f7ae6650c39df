import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it, vi } from 'vitest'
import { createDbFake, DbSectionSchema, seedSql } from '../mocks/db/index.ts'
import { withPg } from './db-helpers.ts'

// Scenario seed SQL (inline or a file), run when PGlite starts and again on every reset, which
// restores the scenario's first state quickly.

const dir = mkdtempSync(join(tmpdir(), 'db-seed-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const SEED = `CREATE TABLE households (id serial PRIMARY KEY, name text NOT NULL);
INSERT INTO households (name) VALUES ('Okafor'), ('Lindqvist');`

describe('db: scenario seed', () => {
  it('the section takes inline SQL or a file, not both', () => {
    writeFileSync(join(dir, 'seed.sql'), SEED)
    expect(seedSql(DbSectionSchema.parse({ seed: 'SELECT 1' }), dir)).toBe('SELECT 1')
    expect(seedSql(DbSectionSchema.parse({ seedFile: 'seed.sql' }), dir)).toBe(SEED)
    expect(seedSql(DbSectionSchema.parse(undefined), dir)).toBeUndefined()
    expect(DbSectionSchema.safeParse({ seed: 'x', seedFile: 'y' }).success).toBe(false)
    expect(() => seedSql({ seedFile: 'missing.sql' }, dir)).toThrow(/db.seedFile missing.sql: cannot read/)
  })

  it('runs at the lazy start and again on reset; reset is fast', async () => {
    const fake = createDbFake({
      host: '127.0.0.1',
      port: 0,
      env: {},
      scenariosDir: dir,
      decide: () => [],
    })
    await fake.service.start()
    // Applied before PGlite started: kept for its start, nothing created yet.
    await fake.applyScenario({ seedFile: 'seed.sql' })
    expect(fake.service.pglite!.started).toBe(false)
    await withPg(fake.service.url, async (c) => {
      expect((await c.query('SELECT name FROM households ORDER BY id')).rows).toEqual([
        { name: 'Okafor' },
        { name: 'Lindqvist' },
      ])
      await c.query("INSERT INTO households (name) VALUES ('extra')")
    })
    const times: number[] = []
    for (let i = 0; i < 7; i++) {
      const t = performance.now()
      await fake.applyScenario({ seedFile: 'seed.sql' })
      times.push(performance.now() - t)
    }
    times.sort((a, b) => a - b)
    console.info(
      `db reset with a small seed: median ${times[3]!.toFixed(1)} ms, max ${times[6]!.toFixed(1)} ms`,
    )
    const rows = await withPg(fake.service.url, (c) => c.query('SELECT id, name FROM households ORDER BY id'))
    expect(rows.rows).toEqual([
      { id: 1, name: 'Okafor' },
      { id: 2, name: 'Lindqvist' },
    ])
    // Target 200 ms; generous here, where other suites share two cores.
    expect(times[3]).toBeLessThan(600)
    // A seed that fails is reported to whoever applied the scenario.
    await expect(fake.applyScenario({ seed: 'CREATE TABLE broken (' })).rejects.toThrow(/syntax error/)
    await fake.close()
  }, 120_000)

  it('a reset while PGlite runs its start seed waits for the start and leaves the new seed', async () => {
    const { PgliteHost } = await import('../mocks/db/pglite-host.ts')
    const { PGlite } = await import('@electric-sql/pglite')
    // In this thread: the spy reaches PGlite's own exec.
    const host = new PgliteHost({ worker: false })
    const exec = PGlite.prototype.exec
    let reset: Promise<void> | undefined
    // The start's seed is running (the old one) when the switch to a new seed comes.
    const spy = vi.spyOn(PGlite.prototype, 'exec').mockImplementation(function (
      this: InstanceType<typeof PGlite>,
      sql,
      opts,
    ) {
      reset ??= host.reset(`CREATE TABLE seeded (v text); INSERT INTO seeded VALUES ('new')`)
      return exec.call(this, sql, opts)
    })
    try {
      await host.reset(`CREATE TABLE seeded (v text); INSERT INTO seeded VALUES ('old')`)
      // In this thread, the host's database is PGlite itself.
      const db = (await host.instance()) as InstanceType<typeof PGlite>
      await reset
      spy.mockRestore()
      expect((await db.query('SELECT v FROM seeded')).rows).toEqual([{ v: 'new' }])
    } finally {
      spy.mockRestore()
      await host.close()
    }
  }, 60_000)
})
