import type { Server } from 'node:http'
import { type AddressInfo, connect } from 'node:net'
import { createAdaptorServer } from '@hono/node-server'
import pg from 'pg'
import { type WebSocket, WebSocketServer } from 'ws'
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
}

export class DbService {
  readonly pglite: PgliteHost | undefined
  readonly proxy: TcpFaultProxy
  private neonServer: Server | undefined
  private neonPool: pg.Pool | undefined
  private pgliteAddress: Promise<Upstream> | undefined
  private readonly upstream: URL | undefined

  constructor(private readonly opts: DbServiceOptions) {
    this.upstream = opts.upstreamUrl ? parseUpstream(opts.upstreamUrl) : undefined
    this.pglite = this.upstream ? undefined : new PgliteHost({ dataDir: opts.dataDir, logger: opts.logger })
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
  async reset(seedSql: string | undefined): Promise<void> {
    this.proxy.cutHeld()
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
    await this.proxy.close()
    await this.neonPool?.end().catch(() => undefined)
    this.neonPool = undefined
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
    this.pgliteAddress ??= this.pglite!.listen()
    return this.pgliteAddress
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
    if (!this.neonPool) {
      const connectionString = this.upstream
        ? this.upstream.href
        : await this.postgresAddress().then((a) => `postgres://postgres@${a.host}:${a.port}/postgres`)
      this.neonPool ??= new pg.Pool({ connectionString, max: 4 })
      this.neonPool.on('error', () => {})
    }
    return this.neonPool
  }
}

function urlHost(host: string): string {
  if (host === '0.0.0.0' || host === '::' || host === '') return '127.0.0.1'
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
