import type { ServiceName } from '../core/config.ts'
import type { Journal, WsEvent } from '../core/journal.ts'
import type { WsPeer } from '../core/ws.ts'
import { clip, credit } from './journaling.ts'
import type { MatchTarget } from './match.ts'
import type { Compiled, FaultRegistry } from './registry.ts'
import type { WsConnection } from './types.ts'

// The WebSocket wrapper: a socket's server frames and client frames pass through the faults
// that act on open WebSockets (`ws` target), which fire at open and on each client frame.
// Replicated mode counts `times` and seeded probability across the cluster (one Redis round trip
// when a counted fault matches): meanwhile the socket's server frames wait, and its client
// frames are decided in arrival order; otherwise everything stays synchronous, as in one process.
//
// Classes, not object literals with closures: a broadcast sends through every socket's wrapper,
// and an object literal with a getter is a dictionary-mode object (every property read a hash
// lookup), its closures more objects to reach; a socket's copy of a frame touches as little
// memory as it can (BENCHMARKS.md, WebSocket fan-out).

export interface WsMeta {
  path: string
  headers: Headers
  /** Raw session token (after signature check), when known. */
  sessionToken?: string
  userId?: string
  userEmail?: string
}

/** What a hub holds for one socket: a peer to write to and a gate for client frames. */
export interface WsLink {
  readonly peer: WsPeer
  /**
   * Call with each client frame before handling it; false means drop it. A promise (replicated
   * mode, a counted fault deciding) resolves in frame order: handle the frame after it.
   */
  inbound(type: string, text: string): boolean | Promise<boolean>
  /** Call once when the socket has closed. */
  dispose(code: number): void
}

export function wrapSocket(
  deps: { registry: FaultRegistry; journal: Journal },
  service: ServiceName,
  meta: WsMeta,
  peer: WsPeer,
): WsLink {
  return new FaultedSocket(deps.registry, deps.journal, service, meta, peer)
}

const pass = (): boolean => true

/** The socket as the fault effects see it (`WsConnection`): its filters live on the socket. */
class EffectView implements WsConnection {
  readonly raw: WsPeer
  constructor(private readonly s: FaultedSocket) {
    this.raw = new RawPeer(s)
  }
  get service(): ServiceName {
    return this.s.service
  }
  get outbound(): (text: string) => boolean {
    return this.s.outFilter
  }
  set outbound(f: (text: string) => boolean) {
    this.s.outFilter = f
  }
  get inbound(): (type: string) => boolean {
    return this.s.inFilter
  }
  set inbound(f: (type: string) => boolean) {
    this.s.inFilter = f
  }
  // Arrow properties, as the view's methods were: an effect may pass one on as a callback.
  readonly onServerFrame = (listener: () => void): void => {
    this.s.frameListeners ??= []
    this.s.frameListeners.push(listener)
  }
  readonly onClose = (listener: () => void): void => {
    this.s.closeListeners.push(listener)
  }
  readonly setTimer = (fn: () => void, ms: number): void => {
    this.s.setTimer(fn, ms)
  }
}

/** The real socket for effects: frames go out unfiltered and unjournaled; a close is the server's. */
class RawPeer implements WsPeer {
  constructor(private readonly s: FaultedSocket) {}
  readonly send = (text: string, bytes?: Buffer): void => this.s.inner.send(text, bytes)
  readonly close = (code?: number, reason?: string): void => this.s.close(code, reason)
  readonly terminate = (): void => this.s.terminate()
  readonly setAutoPong = (on: boolean): void => this.s.inner.setAutoPong(on)
  get isOpen(): boolean {
    return this.s.inner.isOpen
  }
}

class FaultedSocket implements WsLink, WsPeer {
  /** The hub writes to the socket through its faults. */
  readonly peer: WsPeer = this
  /** The effects' filters of server frames and client frames (`WsConnection`'s). */
  outFilter: (text: string) => boolean = pass
  inFilter: (type: string) => boolean = pass
  /** Made when an effect first listens: a frame sent reads nothing more until then. */
  frameListeners: (() => void)[] | undefined = undefined
  readonly closeListeners: (() => void)[] = []
  private readonly timers = new Set<ReturnType<typeof setTimeout>>()
  // Who ended the socket (the verdicts need it): the server when it, or a fault acting on the
  // socket, closed or cut it; the client otherwise. The fault acting now, credited with a close.
  private acting: Compiled | undefined = undefined
  private closedBy: { fault: Compiled | undefined } | undefined = undefined
  private disposed = false
  // Replicated mode, while a counted decision is pending: later decisions, server frames and
  // the close wait behind it, in order (undefined: none pending, all at once as in one process).
  private pending: Promise<unknown> | undefined = undefined
  private readonly conn: EffectView
  // `base`'s path and user, kept on the socket itself: every copy of a broadcast journals them.
  private readonly path: string
  private readonly userId: string | undefined
  private readonly base: Omit<MatchTarget, 'kind' | 'frameType'>

  constructor(
    private readonly registry: FaultRegistry,
    private readonly journal: Journal,
    readonly service: ServiceName,
    meta: WsMeta,
    readonly inner: WsPeer,
  ) {
    this.path = meta.path
    this.userId = meta.userId
    this.base = {
      path: meta.path,
      headers: meta.headers,
      method: 'GET',
      sessionToken: meta.sessionToken,
      userId: meta.userId,
      userEmail: meta.userEmail,
    }
    this.conn = new EffectView(this)
    const atOpen = this.fire({ ...this.base, kind: 'upgrade' })
    if (Array.isArray(atOpen)) this.opened(atOpen)
    else this.track(atOpen.then((firing) => this.opened(firing)))
  }

  // ---- the hub's peer: server frames through the faults ----

  send(text: string, bytes?: Buffer): void {
    if (this.pending) this.later(() => this.deliver(text, bytes))
    else this.deliver(text, bytes)
  }

  close(code?: number, reason?: string): void {
    this.byServer()
    this.inner.close(code, reason)
  }

  terminate(): void {
    this.byServer()
    this.inner.terminate()
  }

  setAutoPong(on: boolean): void {
    this.inner.setAutoPong(on)
  }

  get isOpen(): boolean {
    return this.inner.isOpen
  }

  // ---- the hub's link: client frames and the end ----

  // A frame that waited for a decision which cut the socket is gone with it (as in one
  // process, where a cut socket reads no more frames): neither counted nor journaled.
  inbound(type: string, text: string): boolean | Promise<boolean> {
    const pending = this.pending
    if (pending) return this.track(pending.then(() => (this.inner.isOpen ? this.frame(type, text) : false)))
    return this.settle(this.frame(type, text))
  }

  dispose(code: number): void {
    this.disposed = true
    // After its last decision (ws-in journaled before ws-close).
    if (this.pending) this.later(() => this.end(code))
    else this.end(code)
  }

  setTimer(fn: () => void, ms: number): void {
    const by = this.acting
    const t = setTimeout(() => {
      this.timers.delete(t)
      this.acting = by
      try {
        fn()
      } finally {
        this.acting = undefined
      }
    }, ms)
    this.timers.add(t)
  }

  private deliver(text: string, bytes: Buffer | undefined): void {
    if (!this.inner.isOpen || !this.outFilter.call(this.conn, text)) return
    this.inner.send(text, bytes)
    this.record('ws-out', text, undefined)
    if (this.frameListeners) for (const l of this.frameListeners) l()
  }

  private byServer(): void {
    this.closedBy ??= { fault: this.acting }
  }

  private record(
    kind: WsEvent,
    frame: string | undefined,
    code: number | undefined,
    fault?: Compiled,
    closedBy?: 'client' | 'server',
  ): void {
    // Every frame, each socket's copy of a broadcast included: the entry is built straight from these.
    this.journal.recordWs(
      this.service,
      kind,
      this.path,
      frame === undefined ? undefined : clip(frame),
      code,
      this.userId,
      credit(fault),
      closedBy,
    )
  }

  private apply(list: Compiled[]): void {
    for (const f of list) {
      this.acting = f
      try {
        f.module.acts.ws?.(this.conn, f.fault.spec.effect, f.fault)
      } finally {
        this.acting = undefined
      }
    }
  }

  // A count that fails (Redis closing) fires nothing: the socket goes on unfaulted.
  private fire(target: MatchTarget): Compiled[] | Promise<Compiled[]> {
    const firing = this.registry.fireCounted(this.service, target, 'ws')
    return Array.isArray(firing) ? firing : firing.catch(() => [])
  }

  private track<T>(p: Promise<T>): Promise<T> {
    const mine = p.catch(() => undefined)
    this.pending = mine
    void mine.then(() => {
      if (this.pending === mine) this.pending = undefined
    })
    return p
  }

  private settle<T>(r: T | Promise<T>): T | Promise<T> {
    return r instanceof Promise ? this.track(r) : r
  }

  private later(step: () => unknown): void {
    void this.track((this.pending ?? Promise.resolve()).then(step))
  }

  private opened(atOpen: Compiled[]): void {
    this.record('ws-open', undefined, undefined, atOpen[0])
    if (!this.disposed) this.apply(atOpen)
  }

  private received(type: string, text: string, firing: Compiled[]): boolean {
    this.record('ws-in', text, undefined, firing[0])
    this.apply(firing)
    return this.inFilter.call(this.conn, type)
  }

  private frame(type: string, text: string): boolean | Promise<boolean> {
    const firing = this.fire({ ...this.base, kind: 'frame', frameType: type })
    return Array.isArray(firing)
      ? this.received(type, text, firing)
      : firing.then((f) => this.received(type, text, f))
  }

  private end(code: number): void {
    for (const t of this.timers) clearTimeout(t)
    this.timers.clear()
    for (const l of this.closeListeners) l()
    this.record('ws-close', undefined, code, this.closedBy?.fault, this.closedBy ? 'server' : 'client')
  }
}
