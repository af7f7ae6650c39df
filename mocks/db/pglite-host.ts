import { existsSync } from 'node:fs'
import { createServer, type Server, type Socket } from 'node:net'
import { join } from 'node:path'
import { openPglite } from './pglite-open.ts'
import { type PgliteLike, PgliteThread } from './pglite-thread.ts'
import {
  BackendScanner,
  COPY_FAIL,
  closeStatement,
  errorResponse,
  type FrontendMessage,
  FrontendReader,
  renameStatement,
  SYNC,
} from './wire.ts'

// PGlite is one Postgres session in WASM. Every client of the db service is multiplexed onto it,
// so a client owns PGlite from its first message until it is idle outside a transaction (the
// ReadyForQuery status byte is `I`); others queue. Transactions, portals and the unnamed
// statement therefore never mix; named statements are renamed per client (wire.ts). A client
// that goes away mid-transaction or mid-batch is rolled back and its statements closed before
// the next client gets PGlite.

export interface HostLogger {
  info(obj: object, msg: string): void
  warn(obj: object, msg: string): void
  error(obj: object, msg: string): void
}

export interface PgliteHostOptions {
  /** A directory to keep the database in; in memory when undefined. */
  dataDir?: string | undefined
  logger?: HostLogger | undefined
  /**
   * PGlite runs in a worker thread, so its start, seeds and queries never stop this thread's
   * other servers; `false` runs it in this thread (tests that reach into PGlite's own calls).
   */
  worker?: boolean | undefined
}

type Waiter = { owner: object; grant: () => void }

/** Drops every schema a user made (and so their tables, sequences, types, extensions), then public again. */
export const WIPE_SQL = `DO $$ DECLARE s text; BEGIN
  FOR s IN SELECT nspname FROM pg_namespace
    WHERE nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
      AND nspname NOT LIKE 'pg\\_temp\\_%' AND nspname NOT LIKE 'pg\\_toast\\_temp\\_%'
  LOOP EXECUTE format('DROP SCHEMA %I CASCADE', s); END LOOP;
  CREATE SCHEMA public AUTHORIZATION pg_database_owner;
  GRANT USAGE ON SCHEMA public TO PUBLIC;
END $$;`

const noopLogger: HostLogger = { info() {}, warn() {}, error() {} }

export class PgliteHost {
  private db: PgliteLike | undefined
  private starting: Promise<PgliteLike> | undefined
  /** Ends the start in progress (close() while a PGlite in memory starts). */
  private abortStart: AbortController | undefined
  private owner: object | undefined
  private waiting: Waiter[] = []
  private readonly sessions = new Set<Session>()
  private seedSql: string | undefined
  private nextId = 1
  private server: Server | undefined
  /**
   * Bumped by close(): sessions of an earlier PGlite (replicated mode stops it when this replica
   * hands the database over, and may start a fresh one later) never touch the next one.
   */
  generation = 0
  private readonly logger: HostLogger
  /**
   * PGlite's answer to the first startup packet (AuthenticationOk, ParameterStatus, BackendKeyData,
   * ReadyForQuery 'I'), replayed to later clients: connecting never waits for another client's
   * transaction, as with a real server.
   */
  startupAnswer: Buffer | undefined

  constructor(private readonly opts: PgliteHostOptions = {}) {
    this.logger = opts.logger ?? noopLogger
  }

  /** True once PGlite has been created (on the first connection or query). */
  get started(): boolean {
    return this.db !== undefined
  }

  /** True while PGlite exists or is starting (replicated mode: only on the holder). */
  get active(): boolean {
    return this.db !== undefined || this.starting !== undefined
  }

  /** Clients connected now (for tests: nothing may leak after they leave). */
  get connections(): number {
    return this.sessions.size
  }

  /** True when no client owns PGlite and none waits for it. */
  get idle(): boolean {
    return this.owner === undefined && this.waiting.length === 0
  }

  /**
   * Listens on a port of its own (loopback unless `host` is given: in replicated mode the other
   * replicas connect to it): the fault proxy (or a test) connects here.
   */
  async listen(host = '127.0.0.1'): Promise<{ host: string; port: number }> {
    if (!this.server) {
      const server = createServer((socket) => this.serve(socket))
      this.server = server
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject)
        server.listen(0, host, () => resolve())
      })
    }
    const address = this.server.address()
    if (!address || typeof address === 'string') throw new Error('PGlite host has no TCP address')
    return { host, port: address.port }
  }

  /** Serves one client socket speaking the Postgres wire protocol. */
  serve(socket: Socket): void {
    const session = new Session(this, socket, this.nextId++)
    this.sessions.add(session)
    socket.once('close', () => this.sessions.delete(session))
  }

  /** The PGlite instance, created on first use (and seeded then when the database is new). */
  instance(): Promise<PgliteLike> {
    if (this.db) return Promise.resolve(this.db)
    if (!this.starting) {
      const abort = new AbortController()
      const starting = this.create(abort.signal)
      this.starting = starting
      this.abortStart = abort
      // A failed start is said, and the next connection tries again (never a database that
      // stays failed with nothing in the log). One ended by close() is no failure.
      starting.catch((err: Error) => {
        if (this.starting === starting) this.starting = undefined
        if (!abort.signal.aborted)
          this.logger.error({ err: err.message }, 'PGlite failed to start; the next connection tries again')
      })
    }
    return this.starting
  }

  private async create(abort: AbortSignal): Promise<PgliteLike> {
    const started = performance.now()
    const dir = this.opts.dataDir
    const fresh = !dir || !existsSync(join(dir, 'PG_VERSION'))
    const db =
      this.opts.worker === false
        ? await openPglite(dir)
        : await PgliteThread.start(dir, (thread, err) => this.lost(thread, err), abort)
    if (fresh && this.seedSql) {
      try {
        await db.exec(this.seedSql)
      } catch (err) {
        // Ended by close() mid-seed: the database is going away, nothing failed.
        if (!abort.aborted)
          this.logger.error({ err: (err as Error).message }, 'db seed SQL failed; the database starts empty')
      }
    }
    if (db instanceof PgliteThread && db.failure) throw db.failure
    this.db = db
    this.logger.info(
      { ms: Math.round(performance.now() - started), dataDir: dir ?? '(memory)' },
      'PGlite started',
    )
    return db
  }

  // ---- the lock: one owner at a time ----

  lock(owner: object, first = false): Promise<void> {
    if (this.owner === undefined) {
      this.owner = owner
      return Promise.resolve()
    }
    return new Promise((grant) => {
      const w = { owner, grant }
      if (first) this.waiting.unshift(w)
      else this.waiting.push(w)
    })
  }

  unlock(owner: object): void {
    if (this.owner !== owner) return
    const next = this.waiting.shift()
    this.owner = next?.owner
    next?.grant()
  }

  /**
   * Back to the seed: a client in a transaction is cut (as a reset cuts held HTTP requests),
   * then, holding PGlite, every user schema is dropped and the seed run again. Before PGlite
   * has started, only the seed is remembered (it runs at start).
   */
  async reset(seedSql: string | undefined): Promise<void> {
    this.seedSql = seedSql
    // Starting: create() may have run the previous seed already; the reset waits for the start
    // and reseeds (its caller, the holder in replicated mode, confirms only after it).
    if (!this.db && this.starting) await this.starting.catch(() => undefined)
    if (!this.db || this.seedSql !== seedSql) return
    for (const s of this.sessions) if (s.inTransaction) s.cut()
    const token = {}
    await this.lock(token, true)
    try {
      await this.db.exec(WIPE_SQL)
      if (seedSql) await this.db.exec(seedSql)
    } finally {
      this.unlock(token)
    }
  }

  /**
   * Closes the listener, every session and PGlite. The host may start again afterwards (a fresh
   * PGlite from the remembered seed, on the next `listen` and connection): replicated mode does
   * when this replica holds the database again.
   */
  async close(): Promise<void> {
    this.forget()
    const server = this.server
    this.server = undefined
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()))
    // A start in progress: one in memory is ended at once (nothing in it would be kept; a
    // replica stopping must hand its lease back now, not after a start of seconds); one on a
    // data directory finishes writing it, then closes. (In this thread, `worker: false`, a
    // start cannot be ended: it is waited for.)
    if (!this.db && this.starting && !this.opts.dataDir) this.abortStart?.abort()
    const db = this.db ?? (await this.starting?.catch(() => undefined))
    this.db = undefined
    this.starting = undefined
    await db?.close()
    if (db instanceof PgliteThread && db.terminated)
      this.logger.warn(
        {},
        "PGlite's worker thread had not ended when closing's grace ran out: it was terminated",
      )
  }

  /** Every session of the current PGlite cut, and those queued for it let go (each sees it is stale). */
  private forget(): void {
    this.generation++
    for (const s of this.sessions) s.cut()
    const waiting = this.waiting
    this.waiting = []
    this.owner = undefined
    for (const w of waiting) w.grant()
    this.startupAnswer = undefined
  }

  /** PGlite's thread ended unasked (a crash): its sessions are cut and the next connection starts a new one. */
  private lost(thread: PgliteThread, err: Error): void {
    if (this.db !== thread) return
    this.logger.error(
      { err: err.message },
      "PGlite's worker thread ended unexpectedly; the next connection starts the database again",
    )
    this.forget()
    this.db = undefined
    this.starting = undefined
  }
}

class Session {
  private readonly reader = new FrontendReader()
  private readonly scanner = new BackendScanner()
  private readonly pending: FrontendMessage[] = []
  private readonly statements = new Set<string>()
  private readonly prefix: string
  private busy = false
  private holds = false
  private closed = false
  private cleaned = false
  /** The host's PGlite this session was served by (a later one is not its own). */
  private readonly generation: number

  constructor(
    private readonly host: PgliteHost,
    private readonly socket: Socket,
    id: number,
  ) {
    this.prefix = `c${id}_`
    this.generation = host.generation
    socket.setNoDelay(true)
    socket.on('data', (chunk: Buffer) => {
      for (const m of this.reader.push(chunk)) this.pending.push(m)
      void this.pump()
    })
    socket.on('error', () => {})
    socket.once('close', () => {
      this.closed = true
      // A client still queued for PGlite is granted it and lets go at once (pump sees closed).
      if (!this.busy) void this.cleanup()
    })
  }

  /** Owns PGlite and is not idle: in a transaction, a failed one, or mid-batch. */
  get inTransaction(): boolean {
    return this.holds && this.scanner.status !== 'I'
  }

  cut(): void {
    if (!this.socket.destroyed) this.socket.resetAndDestroy()
  }

  /** Its client left, or its PGlite was closed (the socket's 'close' comes a tick later). */
  private get stale(): boolean {
    return this.closed || this.host.generation !== this.generation
  }

  private async pump(): Promise<void> {
    if (this.busy) return
    this.busy = true
    try {
      while (this.pending.length && !this.stale) {
        const m = this.pending.shift()!
        if (m.kind === 'ssl' || m.kind === 'gssenc') {
          // No TLS on loopback: 'N' tells the client to go on in plain text.
          this.socket.write('N')
          continue
        }
        if (m.kind === 'cancel') {
          // PGlite cannot interrupt a query; Postgres closes a cancel connection either way.
          this.socket.end()
          return
        }
        if (m.kind === 'invalid') {
          this.socket.end(errorResponse('FATAL', '08P01', m.reason))
          return
        }
        if (m.kind === 'message' && m.type === 'X') {
          // Terminate ends this client, not the one PGlite session everyone shares.
          this.socket.end()
          return
        }
        if (m.kind === 'startup' && this.host.startupAnswer) {
          this.scanner.status = 'I'
          this.socket.write(this.host.startupAnswer)
          continue
        }
        const parts: Buffer[] = [this.rewrite(m)]
        // The rest of an extended-protocol batch goes to PGlite in the same call.
        while (this.pending[0]?.kind === 'message' && this.pending[0].type !== 'X') {
          parts.push(this.rewrite(this.pending.shift() as Extract<FrontendMessage, { kind: 'message' }>))
        }
        if (!this.holds) {
          await this.host.lock(this)
          this.holds = true
          if (this.stale) return
        }
        const db = await this.host.instance()
        if (m.kind === 'startup') {
          const answer: Buffer[] = []
          await this.exec(db, m.bytes, true, answer)
          this.host.startupAnswer ??= idleAnswer(Buffer.concat(answer))
          parts.shift()
          if (parts.length) await this.exec(db, Buffer.concat(parts), true)
        } else await this.exec(db, Buffer.concat(parts), true)
        if (this.scanner.status === 'I' && this.pending.length === 0) this.release()
      }
    } catch (err) {
      this.socket.destroy(err as Error)
    } finally {
      this.busy = false
      if (this.stale) void this.cleanup()
    }
  }

  private rewrite(m: Extract<FrontendMessage, { kind: 'startup' | 'message' }>): Buffer {
    if (m.kind === 'startup') return m.bytes
    const out = renameStatement(m, this.prefix)
    if (out.parsed) this.statements.add(out.parsed)
    if (out.closed) this.statements.delete(out.closed)
    return out.bytes
  }

  private async exec(db: PgliteLike, bytes: Uint8Array, forward: boolean, copy?: Buffer[]): Promise<void> {
    this.scanner.expect()
    await db.execProtocolRawStream(bytes, {
      onRawData: (data) => {
        this.scanner.feed(data)
        // In this thread `data` is a view of PGlite's memory, reused next: copied, once for both uses.
        const bytes = Buffer.from(data)
        copy?.push(bytes)
        if (forward && !this.closed && this.socket.writable) this.socket.write(bytes)
      },
    })
  }

  private release(): void {
    if (!this.holds) return
    this.holds = false
    this.host.unlock(this)
  }

  /** After the client left: leave no transaction, batch or statement of its own behind. */
  private async cleanup(): Promise<void> {
    if (this.cleaned) return
    this.cleaned = true
    // Its PGlite is gone: nothing of its own is left anywhere.
    if (this.host.generation !== this.generation) return
    if (!this.holds && this.statements.size === 0) return
    try {
      if (!this.holds) {
        await this.host.lock(this)
        this.holds = true
        if (this.host.generation !== this.generation) return
      }
      const db = await this.host.instance()
      if (this.scanner.status !== 'I') {
        await this.exec(db, Buffer.concat([COPY_FAIL, SYNC]), false)
        // exec() changed the status (the type checker cannot see through the call).
        const after = this.scanner.status as BackendScanner['status']
        if (after !== 'I') await db.exec('ROLLBACK')
      }
      if (this.statements.size) {
        const closes = [...this.statements].map((s) => closeStatement(`${this.prefix}${s}`))
        await this.exec(db, Buffer.concat([...closes, SYNC]), false)
      }
    } catch {
      // PGlite itself failed; nothing more to undo for this client.
    } finally {
      this.release()
    }
  }
}

/** The startup answer as a client gets it when PGlite is idle: its ReadyForQuery says 'I'. */
function idleAnswer(answer: Buffer): Buffer {
  const out = Buffer.from(answer)
  if (out.length >= 6 && out[out.length - 6] === 0x5a) out[out.length - 1] = 0x49
  return out
}
