import { readFileSync } from 'node:fs'
import { isAbsolute, resolve } from 'node:path'
import { z } from 'zod'
import type { HostLogger } from './pglite-host.ts'
import type { ConnectionEvent, Decide } from './proxy.ts'
import { DbService } from './service.ts'

// The db fake: family-hub's Postgres (DATABASE_URL), a real Postgres behind a TCP fault proxy.
// It is TCP, not a Hono app: it binds its own listener, and its faults reach it through a
// decision function the engine provides (see README "How a TCP service fits the engine").

export const DB_DEFAULT_PORT = 5433
export const DB_PORT_ENV = 'MOCKS_DB_PORT'
export const DB_FRONTEND_ENV = 'DATABASE_URL'

/** The scenario's `db:` section. */
export const DbSectionSchema = z
  .strictObject({
    seed: z
      .string()
      .min(1)
      .optional()
      .describe('SQL run when the scenario is applied and again on every reset (inline)'),
    seedFile: z
      .string()
      .min(1)
      .optional()
      .describe('A .sql file with the seed, relative to the scenarios folder (or absolute)'),
  })
  .refine((s) => !(s.seed && s.seedFile), { message: 'give seed or seedFile, not both' })
  .default({})
  .describe('The Postgres behind DATABASE_URL: its seed SQL')

export type DbSection = z.infer<typeof DbSectionSchema>

/** The seed SQL a section names, read from its file when it gives one. */
export function seedSql(section: DbSection | undefined, scenariosDir: string): string | undefined {
  if (!section) return undefined
  if (section.seed) return section.seed
  if (!section.seedFile) return undefined
  const path = isAbsolute(section.seedFile) ? section.seedFile : resolve(scenariosDir, section.seedFile)
  try {
    return readFileSync(path, 'utf8')
  } catch (err) {
    throw new Error(
      `db.seedFile ${section.seedFile}: cannot read ${path} (${(err as NodeJS.ErrnoException).code})`,
    )
  }
}

export type Env = Record<string, string | undefined>

export interface DbFakeOptions {
  host: string
  port: number
  env: Env
  scenariosDir: string
  decide: Decide
  record?: ((e: ConnectionEvent) => void) | undefined
  logger?: HostLogger | undefined
}

/** A db service configured from env: `MOCKS_DB_UPSTREAM`, `MOCKS_DB_DATA_DIR`, `MOCKS_DB_JOURNAL_QUERIES`. */
export function createDbFake(opts: DbFakeOptions) {
  const service = new DbService({
    host: opts.host,
    port: opts.port,
    upstreamUrl: opts.env.MOCKS_DB_UPSTREAM || undefined,
    dataDir: opts.env.MOCKS_DB_DATA_DIR || undefined,
    journalQueries: opts.env.MOCKS_DB_JOURNAL_QUERIES === '1',
    decide: opts.decide,
    record: opts.record,
    logger: opts.logger,
  })
  return {
    service,
    /** Reseed from the scenario's `db` section (PGlite not started yet: at its start). */
    async applyScenario(section: DbSection | undefined): Promise<void> {
      await service.reset(seedSql(section, opts.scenariosDir))
    },
    close: () => service.close(),
  }
}
