import type { ServiceName } from '../core/config.ts'
import type { Journal } from '../core/journal.ts'
import type { WsPeer } from '../core/ws.ts'
import { wsJournal } from './journaling.ts'
import type { Compiled, FaultRegistry } from './registry.ts'
import type { WsConnection } from './types.ts'

// The WebSocket wrapper: a socket's server frames and client frames pass through the faults
// that act on open WebSockets (`ws` target), which fire at open and on each client frame.

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
  /** Call with each client frame before handling it; false means drop it. */
  inbound(type: string, text: string): boolean
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
  const atOpen = deps.registry.fire(service, { ...base, kind: 'upgrade' }, 'ws')
  record('ws-open', undefined, undefined, atOpen[0])
  apply(atOpen)
  const wrapped: WsPeer = {
    send: (text, bytes) => {
      if (!peer.isOpen || !conn.outbound(text)) return
      peer.send(text, bytes)
      record('ws-out', text, undefined)
      for (const l of frameListeners) l()
    },
    close: raw.close,
    terminate: raw.terminate,
    setAutoPong: (on) => peer.setAutoPong(on),
    get isOpen() {
      return peer.isOpen
    },
  }
  return {
    peer: wrapped,
    inbound: (type, text) => {
      const firing = deps.registry.fire(service, { ...base, kind: 'frame', frameType: type }, 'ws')
      record('ws-in', text, undefined, firing[0])
      apply(firing)
      return conn.inbound(type)
    },
    dispose: (code) => {
      for (const t of timers) clearTimeout(t)
      timers.clear()
      for (const l of closeListeners) l()
      record('ws-close', undefined, code, closedBy?.fault, closedBy ? 'server' : 'client')
    },
  }
}
