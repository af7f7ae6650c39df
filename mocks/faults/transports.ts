import type { Transport } from '../core/transport.ts'
import type { Target } from './types.ts'

// What each kind of service can be faulted on. The host tells the engine each service's
// transport (FaultHost.services); effects declare the targets they act on (types.ts). A
// raw-TCP service (db) offers its connections (`tcp`) and its listener (`service`).

/** Each service's transport, by name; a name that is absent is no service. */
export type ServiceTransports = Readonly<Record<string, Transport>>

export const TRANSPORTS: Readonly<Record<Transport, readonly Target[]>> = {
  http: ['http', 'service'],
  'http+ws': ['http', 'upgrade', 'ws', 'service'],
  tcp: ['tcp', 'service'],
}

/** What a transport speaks, for validation messages. */
export const SPEAKS: Readonly<Record<Transport, string>> = {
  http: 'HTTP',
  'http+ws': 'HTTP and WebSocket',
  tcp: 'raw TCP',
}

/** How validation messages speak of each target: what it is, and what a service needs for it. */
export const TARGETS: Readonly<Record<Target, { what: string; needs: string; article: string }>> = {
  http: { what: 'HTTP requests', needs: 'HTTP', article: 'an' },
  upgrade: { what: 'WebSocket handshakes', needs: 'WebSocket', article: 'a' },
  ws: { what: 'open WebSockets', needs: 'WebSocket', article: 'a' },
  tcp: { what: 'raw TCP connections', needs: 'raw TCP', article: 'a' },
  service: { what: 'the whole service', needs: 'listener', article: 'a' },
}

export const ALL_TARGETS = Object.keys(TARGETS) as Target[]
