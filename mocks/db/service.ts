import type { Server } from 'node:http'
import { type AddressInfo, connect } from 'node:net'
import { hostname } from 'node:os'
import { createAdaptorServer } from '@hono/node-server'
import pg from 'pg'
import { type WebSocket, WebSocketServer } from 'ws'
import { DbLease } from './lease.ts'
import { createNeonHttpApp } from './neon-http.ts'
import { type HostLogger, PgliteHost, WIPE_SQL } from './pglite-host.ts'
import { type ConnectionEvent, type Decide, TcpFaultProxy, type Upstream } from './proxy.ts'

// The db service: one port (5433 by default) speaking the Postgres wire protocol and, on the
// same port, Neon's SQL-over-HTTP; a fault proxy in front of an upstream that is the embedded
// PGlite (started on the first connection) or a real Postgres (`MOCKS_DB_UPSTREAM`).

export interface DbServiceOptions {
  host: string
  port: number
  /** A real Postgres to use instead of PGlite (`MOCKS_DB_UPSTREAM`). */
  upstreamUrl?: string | undefined
  /** Keep PGlite's database in this directory (`MOCKS_DB_DATA_DIR`); in memory otherwise. */
  dataDir?: string | undefined
  /** Journal query text (`MOCKS_DB_JOURNAL_QUERIES=1`). */
  journalQueries?: boolean | undefined
  decide: Decide
  record?: ((e: ConnectionEvent) => void) | undefined
  logger?: HostLogger | undefined
  /** Replicated mode (MOCKS_REDIS_URL): one database for every replica, held by one of them. */
  cluster?: DbClusterOptions | undefined
}

export interface DbClusterOptions {
  url: string
  prefix: string
  /** This replica's name (MOCKS_REPLICA). */
  replica: string
  /**
   * Where the other replicas reach this one's internal database listener (MOCKS_DB_PEER_HOST);
   * default the listening host, or this machine's hostname when that is 0.0.0.0 or ::.
   */
  peerHost?: string | undefined
}

/** A log entry being applied (replicated mode): a reset reseeds once, on the holder. */
export interface ResetAt {
  entry: string
  /** This replica took the call: its answer waits for the holder's reseed. */
  mine: boolean
}

const noop: HostLogger = { info() {}, warn() {}, error() {} }

export class DbService {
  readonly pglite: PgliteHost | undefined
  readonly proxy: TcpFaultProxy
  private neonServer: Server | undefined
  private neonPool: pg.Pool | undefined
  private neonPoolAt: string | undefined
  private pgliteAddress: Promise<Upstream> | undefined
  private readonly upstream: URL | undefined
  /** Replicated mode: who holds the database (undefined in one process). */
  readonly lease: DbLease | undefined
  private readonly logger: HostLogger
  /** The scenario's seed SQL as last applied (replicated mode: for when this replica takes the lease). */
  private seed: string | undefined

  constructor(private readonly opts: DbServiceOptions) {
    this.logger = opts.logger ?? noop
    this.upstream = opts.upstreamUrl ? parseUpstream(opts.upstreamUrl) : undefined
    let dataDir = opts.dataDir
    if (opts.cluster && dataDir) {
      // A replica taking the database over would load its own, older directory.
      this.logger.warn(
        { dataDir },
        'db: MOCKS_DB_DATA_DIR is ignored in replicated mode (the database is in memory)',
      )
      dataDir = undefined
    }
    this.pglite = this.upstream ? undefined : new PgliteHost({ dataDir, logger: opts.logger })
    this.lease = opts.cluster ? this.createLease(opts.cluster) : undefined
    this.proxy = new TcpFaultProxy({
      host: opts.host,
      port: opts.port,
      decide: opts.decide,
      record: opts.record,
      journalQueries: opts.journalQueries,
      upstream: (kind) => (kind === 'http' ? this.neonAddress() : this.postgresAddress()),
    })
  }

  /** Listens on the configured port, or on `port` when given (0: a free one). */
  async start(port?: number): Promise<void> {
    await this.proxy.start(port)
    await this.lease?.start()
  }

  private createLease(cluster: DbClusterOptions): DbLease {
    const wildcard = isWildcard(this.opts.host)
    const peerHost = cluster.peerHost || (wildcard ? hostname() : this.opts.host)
    return new DbLease({
      url: cluster.url,
      prefix: cluster.prefix,
      replica: cluster.replica,
      logger: this.logger,
      listen: async () => {
        if (!this.pglite) return undefined
        const { port } = await this.pglite.listen(this.opts.host || '0.0.0.0')
        return { host: peerHost, port }
      },
      acquired: ({ cause, previous }) => {
        if (!this.pglite) {
          // A real upstream outlives its holders: only the world's first holder seeds it, as
          // one process does at its start (the replicas kept the seed while none held it). A
          // holder after another (`db:last` in Redis) never wipes it.
          if (cause !== 'first') return
          this.resetHere(this.seed).catch((err: Error) =>
            this.logger.error({ err: err.message }, 'db: seeding MOCKS_DB_UPSTREAM failed'),
          )
          return
        }
        if (cause === 'first') return
        if (cause === 'handover')
          this.logger.info(
            { previous },
            "db: this replica took the database over (its holder handed it back on stopping): it starts again from the scenario's seed; rows written since the last reset are gone with it",
          )
        else
          this.logger.warn(
            { previous },
            "db: this replica took the database over (its holder stopped renewing its lease): it starts again from the scenario's seed; rows written since the last reset are lost, as after a database restart",
          )
        // It existed before: started now rather than at the next client's connection.
        void this.pglite.instance().catch(() => undefined)
      },
      lost: async () => {
        await this.pglite?.close()
        await this.dropPool()
      },
      // A lost campaign: only the listener was bound; the Neon pool (to the holder) stays.
      unlisten: async () => {
        await this.pglite?.close()
      },
    })
  }

  get port(): number {
    return this.proxy.port
  }

  /** What the frontend sets as DATABASE_URL. */
  get url(): string {
    const host = urlHost(this.opts.host)
    if (this.upstream) {
      const u = new URL(this.upstream.href)
      u.hostname = host
      u.port = String(this.port)
      return u.href
    }
    return `postgres://postgres:postgres@${host}:${this.port}/postgres`
  }

  /** Neon's `fetchEndpoint` for `neon()`. */
  get neonEndpoint(): string {
    return `http://${urlHost(this.opts.host)}:${this.port}/sql`
  }

  /** 'embedded' (PGlite, started or not yet) or 'upstream'. */
  get backend(): { kind: 'pglite'; started: boolean } | { kind: 'upstream'; host: string } {
    return this.pglite
      ? { kind: 'pglite', started: this.pglite.started }
      : { kind: 'upstream', host: `${this.upstream!.hostname}:${this.upstream!.port || 5432}` }
  }

  /**
   * Back to the scenario's first state. PGlite: every user schema dropped and the seed run again
   * (before PGlite starts, the seed is kept for its start). A real upstream is wiped and reseeded
   * only when the scenario gives seed SQL: without one, the mocks never touch your database.
   * Connections held by a fault are cut first, as held HTTP requests are.
   */
  async reset(seedSql: string | undefined, at?: ResetAt): Promise<void> {
    this.proxy.cutHeld()
    this.seed = seedSql
    if (this.lease && !this.lease.holding) {
      // Replicated, not the holder: the seed is kept for a takeover (PGlite is not started here).
      await this.pglite?.reset(seedSql)
      if (at?.mine) await this.lease.waitSeeded(at.entry)
      return
    }
    await this.resetHere(seedSql)
    if (this.lease && at) {
      this.logger.info({ entry: at.entry }, 'db: reseeded (this replica holds the database)')
      await this.lease.markSeeded(at.entry)
    }
  }

  private async resetHere(seedSql: string | undefined): Promise<void> {
    if (this.pglite) return this.pglite.reset(seedSql)
    if (!seedSql) return
    const client = new pg.Client({ connectionString: this.upstream!.href })
    client.on('error', () => {})
    await client.connect()
    try {
      await client.query(WIPE_SQL)
      await client.query(seedSql)
    } finally {
      await client.end()
    }
  }

  async close(): Promise<void> {
    // The lease first: another replica takes the database over within a round.
    await this.lease?.close()
    await this.proxy.close()
    await this.dropPool()
    const server = this.neonServer
    this.neonServer = undefined
    if (server) {
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    }
    await this.pglite?.close()
  }

  private postgresAddress(): Promise<Upstream> {
    if (this.upstream) {
      return Promise.resolve({ host: this.upstream.hostname, port: Number(this.upstream.port || 5432) })
    }
    if (this.lease) return this.holderAddress(this.lease)
    this.pgliteAddress ??= this.pglite!.listen()
    return this.pgliteAddress
  }

  /** Replicated: this replica's own PGlite while it holds the database, else the holder's. */
  private async holderAddress(lease: DbLease): Promise<Upstream> {
    if (!lease.holding) {
      const { address } = await lease.holder()
      if (!address) throw new Error('db: the holder publishes no address')
      // Taken over by this replica meanwhile: its own listener.
      if (!lease.holding) return address
    }
    // Bound where the public port is (other replicas reach it there); reached here on loopback.
    const { port } = await this.pglite!.listen(this.opts.host || '0.0.0.0')
    return { host: isWildcard(this.opts.host) ? '127.0.0.1' : this.opts.host, port }
  }

  private async dropPool(): Promise<void> {
    const pool = this.neonPool
    this.neonPool = undefined
    this.neonPoolAt = undefined
    await pool?.end().catch(() => undefined)
  }

  private async neonAddress(): Promise<Upstream> {
    if (!this.neonServer) {
      const app = createNeonHttpApp(async (fn) => {
        const pool = await this.pool()
        const client = await pool.connect()
        try {
          return await fn(client)
        } finally {
          // A request that leaves its connection inside a transaction ({"query": "BEGIN"}) must
          // not hand it to the next request, nor keep holding the one PGlite session everyone
          // shares: the connection is discarded (its session is rolled back), as Neon's proxy does.
          client.release(client.getTransactionStatus() !== 'I')
        }
      })
      const server = createAdaptorServer({ fetch: app.fetch }) as Server
      this.neonServer = server
      // Neon's WebSocket Pool/Client (its `wsProxy` protocol): binary frames carry raw Postgres
      // bytes both ways. Here the frames are bridged to the same upstream as the wire protocol.
      const wss = new WebSocketServer({ noServer: true })
      server.on('upgrade', (req, socket, head) => {
        if (!req.url?.startsWith('/v2')) return socket.destroy()
        wss.handleUpgrade(req, socket, head, (ws) => void this.bridge(ws))
      })
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()))
    }
    const address = this.neonServer.address() as AddressInfo
    return { host: '127.0.0.1', port: address.port }
  }

  private async bridge(ws: WebSocket): Promise<void> {
    const target = await this.postgresAddress()
    const up = connect(target.port, target.host)
    up.setNoDelay(true)
    const early: Buffer[] = []
    ws.on('message', (data: Buffer) => (up.connecting ? early.push(data) : up.write(data)))
    up.on('connect', () => {
      for (const d of early) up.write(d)
    })
    up.on('data', (d) => ws.send(d))
    up.on('error', () => {})
    up.on('close', () => ws.terminate())
    ws.on('error', () => {})
    ws.on('close', () => up.destroy())
  }

  private async pool(): Promise<pg.Pool> {
    const connectionString = this.upstream
      ? this.upstream.href
      : await this.postgresAddress().then((a) => `postgres://postgres@${a.host}:${a.port}/postgres`)
    // Replicated: the database moved to another replica; the old pool's connections go with it.
    if (this.neonPool && this.neonPoolAt !== connectionString) void this.dropPool()
    if (!this.neonPool) {
      this.neonPool = new pg.Pool({ connectionString, max: 4 })
      this.neonPoolAt = connectionString
      this.neonPool.on('error', () => {})
    }
    return this.neonPool
  }
}

function isWildcard(host: string): boolean {
  return host === '0.0.0.0' || host === '::' || host === ''
}

function urlHost(host: string): string {
  if (isWildcard(host)) return '127.0.0.1'
  return host.includes(':') ? `[${host}]` : host
}

function parseUpstream(raw: string): URL {
  let u: URL
  try {
    u = new URL(raw)
  } catch {
    throw new Error(`MOCKS_DB_UPSTREAM=${raw} is not a URL: give postgres://user:password@host:port/database`)
  }
  if (u.protocol !== 'postgres:' && u.protocol !== 'postgresql:') {
    throw new Error(`MOCKS_DB_UPSTREAM must be a postgres:// URL, not ${u.protocol}//`)
  }
  return u
}
