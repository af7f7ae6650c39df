import { createServer, type Server, type Socket } from 'node:net'
import type { ServiceListener } from './descriptor.ts'
import { serviceListener } from './listener.ts'

// A TCP listener for a 'tcp' fake (a database wire protocol): what `TcpFakeService.listen`
// returns. `down` faults need the listener itself to close (clients see ECONNREFUSED) and every
// open connection cut, then the same port listening again; as mocks/runtime/server.ts does for HTTP.

export interface TcpListenOptions {
  port: number
  host: string
  /** Handles one client connection. */
  onConnection(socket: Socket): void
}

function listen(server: Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => {
      reject(
        err.code === 'EADDRINUSE'
          ? new Error(`Port ${port} on ${host} is already in use: stop what is using it or set another port`)
          : err,
      )
    }
    server.once('error', onError)
    server.listen(port, host, () => {
      server.off('error', onError)
      const address = server.address()
      resolve(typeof address === 'object' && address ? address.port : port)
    })
  })
}

export async function listenTcp(opts: TcpListenOptions): Promise<ServiceListener> {
  const sockets = new Set<Socket>()
  const build = () =>
    createServer((socket) => {
      sockets.add(socket)
      socket.once('close', () => sockets.delete(socket))
      opts.onConnection(socket)
    })
  let server = build()
  const port = await listen(server, opts.port, opts.host)
  const cut = () =>
    new Promise<void>((resolve) => {
      for (const s of sockets) s.resetAndDestroy()
      sockets.clear()
      if (!server.listening) return resolve()
      server.close(() => resolve())
    })
  return serviceListener({
    port,
    host: opts.host,
    isListening: () => server.listening,
    stop: cut,
    async restart() {
      server = build()
      await listen(server, port, opts.host)
    },
  })
}
