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
  /** Wipes and seeds run one after another (a reset during the first holder's seed queues). */
  private resets: Promise<void> = Promise.resolve()
  /**
   * Replicated with a real upstream: connections wait for the lease's start (the world's first
   * holder seeds it before anyone is served).
   */
  private gate: Promise<void> | undefined

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
      upstream: async (kind) => {
        if (this.gate) await this.gate
        return kind === 'http' ? this.neonAddress() : this.postgresAddress()
      },
    })
  }

  /** Listens on the configured port, or on `port` when given (0: a free one). */
  async start(port?: number): Promise<void> {
    let open = () => {}
    if (this.lease && this.upstream) this.gate = new Promise<void>((resolve) => (open = resolve))
    try {
      await this.proxy.start(port)
      await this.lease?.start()
    } finally {
      open()
      this.gate = undefined
    }
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
          // one process does at its start (the replicas kept the seed while none held it), and
          // start() waits for it. A holder after another (`db:last` in Redis) never wipes it.
          if (cause !== 'first') return
          return this.resetHere(this.seed).catch((err: Error) =>
            this.logger.error({ err: err.message }, 'db: seeding MOCKS_DB_UPSTREAM failed'),
          )
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
        // Not awaited: a pool's active query (an open transaction) must not stall the lease.
        void this.dropPool()
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

  private resetHere(seedSql: string | undefined): Promise<void> {
    const run = this.resets.then(() => this.wipeAndSeed(seedSql))
    this.resets = run.catch(() => undefined)
    return run
  }

  private async wipeAndSeed(seedSql: string | undefined): Promise<void> {
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
    await this.dropPool(true)
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

  /**
   * Retires the Neon HTTP pool (the database moved, or stopping). pg-pool neither serves nor
   * rejects requests queued on a pool being ended, so it is ended only once none waits (those
   * get a connection, or fail to reach the old holder within `connectionTimeoutMillis`).
   */
  private async dropPool(now = false): Promise<void> {
    const pool = this.neonPool
    this.neonPool = undefined
    this.neonPoolAt = undefined
    if (!pool) return
    while (!now && pool.waitingCount > 0) await new Promise((r) => setTimeout(r, 50).unref())
    await pool.end().catch(() => undefined)
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
        wss.handleUpgrade(req, socket, head, (ws) =>
          // No holder reachable (none elected in time, or it publishes no address): the
          // WebSocket is closed, never an unhandled rejection.
          this.bridge(ws).catch((err: Error) => {
            this.logger.warn({ err: err.message }, 'db: Neon WebSocket closed: no database to bridge to')
            ws.terminate()
          }),
        )
      })
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()))
    }
    const address = this.neonServer.address() as AddressInfo
    return { host: '127.0.0.1', port: address.port }
  }

  private async bridge(ws: WebSocket): Promise<void> {
    // Frames that arrive while the holder is looked up are kept for the upstream.
    const early: Buffer[] = []
    let up: ReturnType<typeof connect> | undefined
    ws.on('message', (data: Buffer) => (!up || up.connecting ? early.push(data) : up.write(data)))
    ws.on('error', () => {})
    ws.on('close', () => up?.destroy())
    const target = await this.postgresAddress()
    if (ws.readyState !== ws.OPEN) return
    const socket = connect(target.port, target.host)
    up = socket
    socket.setNoDelay(true)
    socket.setKeepAlive(true, 5000)
    socket.on('connect', () => {
      for (const d of early) socket.write(d)
      early.length = 0
    })
    socket.on('data', (d) => ws.send(d))
    socket.on('error', () => {})
    socket.on('close', () => ws.terminate())
  }

  private async pool(): Promise<pg.Pool> {
    const connectionString = this.upstream
      ? this.upstream.href
      : await this.postgresAddress().then((a) => `postgres://postgres@${a.host}:${a.port}/postgres`)
    // Replicated: the database moved to another replica; the old pool's connections go with it.
    if (this.neonPool && this.neonPoolAt !== connectionString) void this.dropPool()
    if (!this.neonPool) {
      // A connection never waits forever (PGlite's start, 2 to 9 s, happens inside one).
      this.neonPool = new pg.Pool({ connectionString, max: 4, connectionTimeoutMillis: 30_000 })
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
