import type { Env, MocksConfig } from '../core/config.ts'

// The db service's own settings, read from env into the shared config by its descriptor's
// `configure` (declared on MocksConfig here, as media does).

declare module '../core/config.ts' {
  interface MocksConfig {
    db: {
      /** `MOCKS_DB_UPSTREAM`: a real Postgres instead of the embedded PGlite. */
      upstreamUrl: string | undefined
      /** `MOCKS_DB_DATA_DIR`: keep PGlite's database in a directory (memory when unset). */
      dataDir: string | undefined
      /** `MOCKS_DB_JOURNAL_QUERIES=1`: journal query text. */
      journalQueries: boolean
      /** `MOCKS_DB_PEER_HOST`: replicated mode, where other replicas reach this one's database. */
      peerHost: string | undefined
    }
  }
}

export function configureDb(config: MocksConfig, env: Env): void {
  config.db = {
    upstreamUrl: env.MOCKS_DB_UPSTREAM || undefined,
    dataDir: env.MOCKS_DB_DATA_DIR || undefined,
    journalQueries: env.MOCKS_DB_JOURNAL_QUERIES === '1',
    peerHost: env.MOCKS_DB_PEER_HOST || undefined,
  }
}

/** DATABASE_URL for a db service reached at host:port (your upstream's user, password and database). */
export function databaseUrl(host: string, port: number, upstreamUrl: string | undefined): string {
  // Node may resolve localhost to ::1 first while the mocks listen on 127.0.0.1.
  const h = host === 'localhost' || host === '0.0.0.0' || host === '' ? '127.0.0.1' : host
  if (upstreamUrl) {
    try {
      const u = new URL(upstreamUrl)
      u.hostname = h
      u.port = String(port)
      return u.href
    } catch {
      // An invalid upstream is reported when the service starts; print the default meanwhile.
    }
  }
  return `postgres://postgres:postgres@${h}:${port}/postgres`
}
