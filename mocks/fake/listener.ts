import type { ServiceListener } from './descriptor.ts'

// The handle over a listener that `down` faults stop and resume, shared by the runtime's HTTP
// servers (mocks/runtime/server.ts) and 'tcp' fakes (tcp.ts). Each brings its own way to cut
// connections and to bind a fresh server on the same port.

export interface ListenerParts {
  /** The port actually bound (port 0 resolved). */
  port: number
  host: string
  /** Whether the current server listens. */
  isListening(): boolean
  /** Close the listener and every open connection. */
  stop(): Promise<void>
  /** Build and bind a fresh server on `port`; called only when none listens. */
  restart(): Promise<void>
}

export function serviceListener(parts: ListenerParts): ServiceListener {
  const hostForUrl = parts.host.includes(':') ? `[${parts.host}]` : parts.host
  return {
    port: parts.port,
    host: parts.host,
    url: `http://${hostForUrl}:${parts.port}`,
    get listening() {
      return parts.isListening()
    },
    stopListening: parts.stop,
    async resumeListening() {
      if (parts.isListening()) return
      await parts.restart()
    },
    close: parts.stop,
  }
}
