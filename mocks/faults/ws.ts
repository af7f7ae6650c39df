import type { ServiceName } from '../core/config.ts'
import type { Journal } from '../core/journal.ts'
import type { WsPeer } from '../core/ws.ts'
import { wsJournal } from './journaling.ts'
import type { MatchTarget } from './match.ts'
import type { Compiled, FaultRegistry } from './registry.ts'
import type { WsConnection } from './types.ts'

// The WebSocket wrapper: a socket's server frames and client frames pass through the faults
// that act on open WebSockets (`ws` target), which fire at open and on each client frame.
// Replicated mode counts `times` and seeded probability across the cluster (one Redis round trip
// when a counted fault matches): meanwhile the socket's server frames wait, and its client
// frames are decided in arrival order; otherwise everything stays synchronous, as in one process.

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
  const timers = new Set<ReturnType<typeof setTimeout>>()
  const frameListeners: (() => void)[] = []
  const closeListeners: (() => void)[] = []
  // Who ended the socket (the verdicts need it): the server when it, or a fault acting on the
  // socket, closed or cut it; the client otherwise. The fault acting now, credited with a close.
  let acting: Compiled | undefined
  let closedBy: { fault: Compiled | undefined } | undefined
  const byServer = () => {
    closedBy ??= { fault: acting }
  }
  const raw: WsPeer = {
    send: (text, bytes) => peer.send(text, bytes),
    close: (code, reason) => {
      byServer()
      peer.close(code, reason)
    },
    terminate: () => {
      byServer()
      peer.terminate()
    },
    setAutoPong: (on) => peer.setAutoPong(on),
    get isOpen() {
      return peer.isOpen
    },
  }
  const conn: WsConnection = {
    service,
    raw,
    outbound: () => true,
    inbound: () => true,
    onServerFrame: (l) => frameListeners.push(l),
    onClose: (l) => closeListeners.push(l),
    setTimer: (fn, ms) => {
      const by = acting
      const t = setTimeout(() => {
        timers.delete(t)
        acting = by
        try {
          fn()
        } finally {
          acting = undefined
        }
      }, ms)
      timers.add(t)
    },
  }
  const base = {
    path: meta.path,
    headers: meta.headers,
    method: 'GET',
    sessionToken: meta.sessionToken,
    userId: meta.userId,
    userEmail: meta.userEmail,
  }
  const record = wsJournal(deps.journal, service, meta.path, meta.userId)
  const apply = (list: Compiled[]) => {
    for (const f of list) {
      acting = f
      try {
        f.module.acts.ws?.(conn, f.fault.spec.effect, f.fault)
      } finally {
        acting = undefined
      }
    }
  }
  // A count that fails (Redis closing) fires nothing: the socket goes on unfaulted.
  const fire = (target: MatchTarget): Compiled[] | Promise<Compiled[]> => {
    const firing = deps.registry.fireCounted(service, target, 'ws')
    return Array.isArray(firing) ? firing : firing.catch(() => [])
  }
  let disposed = false
  // Replicated mode, while a counted decision is pending: later decisions, server frames and
  // the close wait behind it, in order (undefined: none pending, all at once as in one process).
  let pending: Promise<unknown> | undefined
  const track = <T>(p: Promise<T>): Promise<T> => {
    const mine = p.catch(() => undefined)
    pending = mine
    void mine.then(() => {
      if (pending === mine) pending = undefined
    })
    return p
  }
  const settle = <T>(r: T | Promise<T>): T | Promise<T> => (r instanceof Promise ? track(r) : r)
  const later = (step: () => unknown) => void track((pending ?? Promise.resolve()).then(step))

  const opened = (atOpen: Compiled[]) => {
    record('ws-open', undefined, undefined, atOpen[0])
    if (!disposed) apply(atOpen)
  }
  const atOpen = fire({ ...base, kind: 'upgrade' })
  if (Array.isArray(atOpen)) opened(atOpen)
  else track(atOpen.then(opened))

  const send = (text: string, bytes?: Buffer) => {
    if (!peer.isOpen || !conn.outbound(text)) return
    peer.send(text, bytes)
    record('ws-out', text, undefined)
    for (const l of frameListeners) l()
  }
  const wrapped: WsPeer = {
    send: (text, bytes) => (pending ? later(() => send(text, bytes)) : send(text, bytes)),
    close: raw.close,
    terminate: raw.terminate,
    setAutoPong: (on) => peer.setAutoPong(on),
    get isOpen() {
      return peer.isOpen
    },
  }
  const received = (type: string, text: string, firing: Compiled[]) => {
    record('ws-in', text, undefined, firing[0])
    apply(firing)
    return conn.inbound(type)
  }
  const frame = (type: string, text: string): boolean | Promise<boolean> => {
    const firing = fire({ ...base, kind: 'frame', frameType: type })
    return Array.isArray(firing) ? received(type, text, firing) : firing.then((f) => received(type, text, f))
  }
  const end = (code: number) => {
    for (const t of timers) clearTimeout(t)
    timers.clear()
    for (const l of closeListeners) l()
    record('ws-close', undefined, code, closedBy?.fault, closedBy ? 'server' : 'client')
  }
  return {
    peer: wrapped,
    // A frame that waited for a decision which cut the socket is gone with it (as in one
    // process, where a cut socket reads no more frames): neither counted nor journaled.
    inbound: (type, text) =>
      pending
        ? track(pending.then(() => (peer.isOpen ? frame(type, text) : false)))
        : settle(frame(type, text)),
    dispose: (code) => {
      disposed = true
      // After its last decision (ws-in journaled before ws-close).
      if (pending) later(() => end(code))
      else end(code)
    },
  }
}
