import { readFileSync } from 'node:fs'
import { isAbsolute, resolve } from 'node:path'
import { z } from 'zod'
import type { ServiceListener } from '../fake/descriptor.ts'
import { defineFake, type FakeDeps, sectionOf, type TcpFakeService } from '../fake/descriptor.ts'
import type { HostLogger } from './pglite-host.ts'
import type { ConnectionEvent, Decide } from './proxy.ts'
import { type DbClusterOptions, DbService, type ResetAt } from './service.ts'
import { configureDb, databaseUrl } from './settings.ts'

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
  /** Replicated mode: one database for every replica (mocks/db/README.md "Replicated mode"). */
  cluster?: DbClusterOptions | undefined
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
    cluster: opts.cluster,
  })
  return {
    service,
    /**
     * Reseed from the scenario's `db` section (PGlite not started yet: at its start). Replicated,
     * `at` is the log entry being applied: the holder alone reseeds.
     */
    async applyScenario(section: DbSection | undefined, at?: ResetAt): Promise<void> {
      await service.reset(seedSql(section, opts.scenariosDir), at)
    },
    close: () => service.close(),
  }
}

const dbSection = {
  key: 'db',
  schema: DbSectionSchema,
}

/**
 * The db service as the runtime takes a 'tcp' fake: `listen` binds the fault proxy. Faults come
 * from the shared engine (`faults.tcp('db')`: the faults whose effect acts on `tcp`, with
 * windows, times and seeded probability), `down` closes the listener, and connections are journaled
 * as `tcp-open` / `tcp-close` / `tcp-query` entries.
 */
export function createDbService(deps: FakeDeps): TcpFakeService {
  const { config, faults, replication } = deps
  const fake = createDbFake({
    host: config.host,
    port: config.ports.db ?? DB_DEFAULT_PORT,
    env: {
      MOCKS_DB_UPSTREAM: config.db?.upstreamUrl,
      MOCKS_DB_DATA_DIR: config.db?.dataDir,
      MOCKS_DB_JOURNAL_QUERIES: config.db?.journalQueries ? '1' : undefined,
    },
    scenariosDir: config.scenariosDir,
    decide: faults.tcp('db'),
    record: (e) =>
      faults.journal.record({
        service: 'db',
        kind: `tcp-${e.event}`,
        method: 'TCP',
        path: e.kind === 'http' ? 'neon-http' : (e.kind ?? ''),
        route: '',
        query: '',
        status: null,
        durationMs: e.event === 'close' ? e.durationMs : null,
        requestHeaders: {},
        fault: e.fault,
        connection: e.id,
        bytesIn: e.bytesIn,
        bytesOut: e.bytesOut,
        ...(e.text === undefined ? {} : { frame: e.text }),
      }),
    logger: deps.logger,
    ...(config.replication
      ? {
          cluster: {
            url: config.replication.url,
            prefix: config.replication.prefix,
            replica: config.replication.name,
            peerHost: config.db?.peerHost,
          },
        }
      : {}),
  })
  const { service } = fake
  return {
    name: 'db',
    // Read when called: the log entry being applied (undefined at start-up and in one process).
    applyScenario: (scenario) => {
      const at = replication?.applying
      return fake.applyScenario(
        sectionOf(dbSection, scenario),
        at ? { entry: at.entry, mine: at.mine } : undefined,
      )
    },
    async listen({ port, host }): Promise<ServiceListener> {
      await service.start(port)
      return {
        get port() {
          return service.port
        },
        host,
        // Health shows the postgres:// URL a client connects with.
        get url() {
          return service.url
        },
        get listening() {
          return service.proxy.listening
        },
        stopListening: () => service.proxy.stopListening(),
        resumeListening: () => service.proxy.resumeListening(),
        close: () => service.proxy.close(),
      }
    },
    close: () => fake.close(),
  }
}

/** The db fake: its descriptor (mocks/fake/descriptor.ts), listed in mocks/registry.ts. */
export const db = defineFake({
  name: 'db',
  title: "Postgres (family-hub's DATABASE_URL)",
  port: DB_DEFAULT_PORT,
  portEnv: DB_PORT_ENV,
  transport: 'tcp',
  scenario: dbSection,
  configure: configureDb,
  frontend: {
    extra: ({ host, port, env }) => ({ [DB_FRONTEND_ENV]: databaseUrl(host, port, env.MOCKS_DB_UPSTREAM) }),
  },
  create: createDbService,
})
