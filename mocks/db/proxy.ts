import { connect, createServer, type Server, type Socket } from 'node:net'
import {
  actOnTcp,
  type ChunkStage,
  type TcpConnection,
  type TcpFiring,
  type TcpMoment,
} from '../faults/tcp.ts'
import { FrontendReader } from './wire.ts'

// A TCP proxy that applies faults to the bytes between a client and an upstream (PGlite's
// host, a real Postgres, or the Neon SQL-over-HTTP app: the first byte tells which, since a
// Postgres startup packet begins with a zero byte and HTTP with a letter). It asks an injected
// decision function which faults fire, at a new connection and at each client write after the
// first (a query on an established connection), and runs each effect's TCP behaviour (declared
// in its effect module, run by faults/tcp.ts: the proxy names no effect). `down`
// is the listener itself closing (ECONNREFUSED), driven from outside as for HTTP services.

export type Firing = TcpFiring

/** Which faults fire now: a promise while a cluster-wide count is asked (replicated mode). */
export type Decide = (
  conn: { id: number; kind: UpstreamKind | undefined },
  moment: TcpMoment,
) => Firing[] | Promise<Firing[]>

export type UpstreamKind = 'postgres' | 'http'

export interface Upstream {
  host: string
  port: number
}

export interface ConnectionEvent {
  event: 'open' | 'close' | 'query'
  id: number
  kind: UpstreamKind | undefined
  /** Client to server. */
  bytesIn: number
  /** Server to client. */
  bytesOut: number
  durationMs: number
  /** The fault applied at this event (open, query) or the last one applied (close). */
  fault: { id: string; type: string } | null
  /** Query text, only when `journalQueries` is on. */
  text?: string
}

export interface ProxyOptions {
  host: string
  port: number
  upstream(kind: UpstreamKind): Promise<Upstream>
  decide: Decide
  record?(e: ConnectionEvent): void
  /** Journal query text (Query and Parse messages): off by default, queries may hold data. */
  journalQueries?: boolean
}

/** Above this many bytes waiting in a direction, its source is paused. */
const HIGH_WATER = 1024 * 1024

export class TcpFaultProxy {
  private server: Server | undefined
  private boundPort = 0
  private nextId = 1
  private readonly conns = new Set<Proxied>()

  constructor(private readonly opts: ProxyOptions) {}

  get port(): number {
    return this.boundPort
  }

  get listening(): boolean {
    return this.server?.listening ?? false
  }

  /** Open connections (tests: nothing may leak). */
  get connections(): number {
    return this.conns.size
  }

  async start(port = this.opts.port): Promise<number> {
    await this.listen(port)
    return this.boundPort
  }

  private listen(port: number): Promise<void> {
    const server = createServer((socket) => this.accept(socket))
    this.server = server
    return new Promise((resolve, reject) => {
      const onError = (err: NodeJS.ErrnoException) =>
        reject(
          err.code === 'EADDRINUSE'
            ? new Error(
                `Port ${port} on ${this.opts.host} is already in use: stop what is using it or set MOCKS_DB_PORT`,
              )
            : err,
        )
      server.once('error', onError)
      server.listen(port, this.opts.host, () => {
        server.off('error', onError)
        const address = server.address()
        if (address && typeof address === 'object') this.boundPort = address.port
        resolve()
      })
    })
  }

  /** `down`: close the listener and every connection; clients see ECONNREFUSED. */
  async stopListening(): Promise<void> {
    const server = this.server
    this.server = undefined
    for (const c of this.conns) c.cut('close')
    if (server?.listening) await new Promise<void>((resolve) => server.close(() => resolve()))
  }

  async resumeListening(): Promise<void> {
    if (this.server?.listening) return
    await this.listen(this.boundPort)
  }

  /**
   * A reset or scenario switch: connections held by a fault (hang) or with a chunk delayed by
   * one are cut, as held HTTP requests are. Others go on under the new faults.
   */
  cutHeld(): void {
    for (const c of this.conns) if (c.faulted) c.cut('reset')
  }

  async close(): Promise<void> {
    await this.stopListening()
  }

  private accept(socket: Socket): void {
    const conn = new Proxied(this.nextId++, socket, this.opts)
    this.conns.add(conn)
    socket.once('close', () => this.conns.delete(conn))
    conn.open()
  }
}

class Proxied implements TcpConnection {
  upstream: Socket | undefined
  private kind: UpstreamKind | undefined
  private stages: ChunkStage[] = []
  private serverStages: ChunkStage[] = []
  private held = false
  private ended = false
  private readonly ac = new AbortController()
  private readonly started = performance.now()
  private upChain: Promise<void> = Promise.resolve()
  private downChain: Promise<void> = Promise.resolve()
  private upQueued = 0
  private downQueued = 0
  private waitingForUpstream: Buffer[] = []
  private connected = false
  private chunks = 0
  private bytesIn = 0
  private bytesOut = 0
  private lastFault: ConnectionEvent['fault'] = null
  private current: Firing | undefined
  /** Chunks now inside a fault's stage (delayed or throttled). */
  private delaying = 0
  private readonly queries: FrontendReader | undefined
  /** Replicated mode: a decision across the cluster pending (later chunks wait behind it). */
  private deciding: Promise<void> | undefined

  constructor(
    readonly id: number,
    readonly client: Socket,
    private readonly opts: ProxyOptions,
  ) {
    this.queries = opts.journalQueries ? new FrontendReader() : undefined
  }

  get signal(): AbortSignal {
    return this.ac.signal
  }

  get faulted(): boolean {
    return this.held || this.delaying > 0
  }

  random(): number {
    return this.current ? this.current.random() : 0
  }

  toClient(stage: ChunkStage): void {
    this.stages.push(stage)
  }

  toServer(stage: ChunkStage): void {
    this.serverStages.push(stage)
  }

  hold(): void {
    this.held = true
    this.upstream?.destroy()
  }

  cut(how: 'reset' | 'close'): void {
    if (this.client.destroyed) return
    if (how === 'reset') this.client.resetAndDestroy()
    else this.client.destroy()
    this.upstream?.destroy()
  }

  open(): void {
    const { client } = this
    client.setNoDelay(true)
    client.on('error', () => {})
    client.once('close', () => this.finish())
    const fault = this.apply('open')
    if (fault instanceof Promise) {
      // Decided across the cluster: the client's bytes wait in the socket meanwhile.
      void fault.then((f) => this.opened(f))
      return
    }
    this.opened(fault)
  }

  private opened(fault: ConnectionEvent['fault']): void {
    const { client } = this
    this.record('open', fault)
    if (client.destroyed) return
    client.on('data', (chunk: Buffer) => this.fromClient(chunk))
    client.on('end', () => {
      if (this.held) return
      this.upChain = this.upChain.then(() => {
        this.upstream?.end()
      })
    })
  }

  /** Asks which faults fire now and applies them; the per-message stages start afresh. */
  private apply(moment: TcpMoment): ConnectionEvent['fault'] | Promise<ConnectionEvent['fault']> {
    const firing = this.opts.decide({ id: this.id, kind: this.kind }, moment)
    return Array.isArray(firing) ? this.act(firing) : firing.then((f) => this.act(f))
  }

  private act(firing: Firing[]): ConnectionEvent['fault'] {
    this.stages = []
    this.serverStages = []
    let first: ConnectionEvent['fault'] = null
    for (const f of firing) {
      this.current = f
      if (!actOnTcp(this, f)) continue
      first ??= { id: f.id, type: f.effect.type }
      if (this.client.destroyed || this.held) break
    }
    this.current = undefined
    if (first) this.lastFault = first
    return first
  }

  private fromClient(chunk: Buffer): void {
    const arrivedAt = performance.now()
    this.bytesIn += chunk.length
    // A decision across the cluster pending: this chunk waits its turn behind it.
    if (this.deciding) {
      this.track(this.deciding.then(() => this.take(chunk, arrivedAt)))
      return
    }
    const now = this.take(chunk, arrivedAt)
    if (now) this.track(now)
  }

  private track(p: Promise<void>): void {
    const mine = p.catch(() => undefined)
    this.deciding = mine
    void mine.then(() => {
      if (this.deciding === mine) this.deciding = undefined
    })
  }

  /** A client chunk: the faults asked about it (after the first), then on its way. */
  private take(chunk: Buffer, arrivedAt: number): Promise<void> | undefined {
    if (this.held || this.client.destroyed) return
    if (this.chunks++ > 0) {
      const fault = this.apply('message')
      if (fault instanceof Promise) return fault.then((f) => this.decided(f, chunk, arrivedAt))
      this.decided(fault, chunk, arrivedAt)
      return
    }
    this.forward(chunk, arrivedAt)
  }

  private decided(fault: ConnectionEvent['fault'], chunk: Buffer, arrivedAt: number): void {
    if (fault) this.record('query', fault)
    if (this.held || this.client.destroyed) return
    this.forward(chunk, arrivedAt)
  }

  private forward(chunk: Buffer, arrivedAt: number): void {
    if (this.queries) this.journalQueries(chunk)
    if (this.kind === undefined) {
      this.kind = chunk[0] === 0 ? 'postgres' : 'http'
      void this.connectUpstream(this.kind)
    }
    this.upQueued += chunk.length
    if (this.upQueued > HIGH_WATER) this.client.pause()
    const stages = this.serverStages
    this.upChain = this.upChain.then(() =>
      this.run(stages, chunk, arrivedAt, (c) => this.writeUp(c)).finally(() => {
        this.upQueued -= chunk.length
        if (this.upQueued <= HIGH_WATER && !this.client.destroyed) this.client.resume()
      }),
    )
  }

  private journalQueries(chunk: Buffer): void {
    for (const m of this.queries!.push(chunk)) {
      if (m.kind !== 'message' || (m.type !== 'Q' && m.type !== 'P')) continue
      // Q: the text; P: a statement name, then the text.
      let at = 5
      if (m.type === 'P') at = m.bytes.indexOf(0, 5) + 1
      const end = m.bytes.indexOf(0, at)
      const text = m.bytes.toString('utf8', at, end < 0 ? m.bytes.length : end)
      this.record('query', null, text.length > 2000 ? `${text.slice(0, 2000)}…` : text)
    }
  }

  private async connectUpstream(kind: UpstreamKind): Promise<void> {
    let target: Upstream
    try {
      target = await this.opts.upstream(kind)
    } catch {
      this.cut('close')
      return
    }
    if (this.client.destroyed || this.held) return
    const up = connect(target.port, target.host)
    this.upstream = up
    up.setNoDelay(true)
    // Replicated, the upstream may be another replica's database: a holder that vanished without
    // a FIN or RST (a host gone) is found by keepalive rather than never.
    up.setKeepAlive(true, 5000)
    up.on('connect', () => {
      this.connected = true
      for (const c of this.waitingForUpstream) up.write(c)
      this.waitingForUpstream = []
    })
    up.on('data', (chunk: Buffer) => this.fromServer(chunk))
    up.on('error', () => {})
    up.once('close', () => {
      if (this.held) return
      // Whatever is still delayed reaches the client first, then the connection ends.
      this.downChain = this.downChain.then(() => {
        if (!this.client.destroyed) this.client.end()
      })
    })
  }

  private fromServer(chunk: Buffer): void {
    const arrivedAt = performance.now()
    this.bytesOut += chunk.length
    const up = this.upstream
    this.downQueued += chunk.length
    if (this.downQueued > HIGH_WATER) up?.pause()
    const stages = this.stages
    this.downChain = this.downChain.then(() =>
      this.run(stages, chunk, arrivedAt, (c) => this.writeClient(c)).finally(() => {
        this.downQueued -= chunk.length
        if (this.downQueued <= HIGH_WATER && up && !up.destroyed) up.resume()
      }),
    )
  }

  private async run(
    stages: ChunkStage[],
    chunk: Buffer,
    arrivedAt: number,
    sink: (c: Buffer) => void,
  ): Promise<void> {
    if (this.ac.signal.aborted) return
    if (stages.length === 0) return sink(chunk)
    this.delaying++
    try {
      const step = async (i: number, c: Buffer): Promise<void> => {
        if (this.ac.signal.aborted) return
        const stage = stages[i]
        if (!stage) return sink(c)
        await stage(c, arrivedAt, this.ac.signal, (next) => step(i + 1, next))
      }
      await step(0, chunk)
    } catch {
      this.cut('reset')
    } finally {
      this.delaying--
    }
  }

  private writeUp(chunk: Buffer): void {
    if (this.held) return
    if (!this.connected || !this.upstream) {
      this.waitingForUpstream.push(chunk)
      return
    }
    this.upstream.write(chunk)
  }

  private writeClient(chunk: Buffer): void {
    if (this.client.destroyed || this.held) return
    this.client.write(chunk)
  }

  private finish(): void {
    if (this.ended) return
    this.ended = true
    this.ac.abort()
    this.upstream?.destroy()
    this.waitingForUpstream = []
    this.record('close', this.lastFault)
  }

  private record(event: ConnectionEvent['event'], fault: ConnectionEvent['fault'], text?: string): void {
    this.opts.record?.({
      event,
      id: this.id,
      kind: this.kind,
      bytesIn: this.bytesIn,
      bytesOut: this.bytesOut,
      durationMs: Math.round((performance.now() - this.started) * 100) / 100,
      fault,
      ...(text === undefined ? {} : { text }),
    })
  }
}
