import type { IncomingMessage, Server, ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Duplex } from 'node:stream'
import { createAdaptorServer } from '@hono/node-server'
import type { Hono } from 'hono'
import { WebSocketServer } from 'ws'
import type { Logger } from '../core/logger.ts'
import type { LoopbackTarget } from '../core/loopback.ts'
import { promiseOf } from '../core/promises.ts'
import type { ServiceListener } from '../fake/descriptor.ts'
import { serviceListener } from '../fake/listener.ts'

// Node bootstrap for one Hono app. `down` faults need the listener itself to close (clients
// must see ECONNREFUSED, not a 503), so the handle can stop and resume listening on the
// same port; resuming builds a fresh server because a closed ws server refuses upgrades.

export interface ServeOptions {
  app: Hono
  port: number
  host: string
  logger: Logger
  websocket?: { maxPayload: number } | undefined
}

type Fetch = Hono['fetch']

/**
 * @hono/node-server answers a refused WebSocket handshake with the Response's status and
 * headers but writes `Content-Length: 0` and no body. A client that reads the refusal (ws's
 * `unexpected-response`, curl) should get the service's `{error, code}` as REST errors carry:
 * the body is read here and written with the status line the adapter sends on the raw socket.
 */
function withRefusalBodies(fetch: Fetch): Fetch {
  // Not an async function: a request that is no upgrade is answered as the app answers it
  // (synchronously when it can, see mocks/fake/sync-compose.ts).
  return (request, env, ctx) => {
    const node = env as { incoming?: IncomingMessage; outgoing?: unknown } | undefined
    // Upgrades only: there the adapter gives no `outgoing`.
    if (!node?.incoming || node.outgoing !== undefined) return fetch(request, env, ctx)
    const incoming = node.incoming
    // A promise even when the app throws, as the adapter's upgrade path expects.
    return promiseOf(() => fetch(request, env, ctx)).then((res) => withBody(res, incoming))
  }
}

/** A refused handshake's answer, its body written with the status line the adapter sends. */
async function withBody(res: Response, incoming: IncomingMessage): Promise<Response> {
  // 101 is an accepted handshake.
  if (res.status < 300 || !res.body) return res
  const body = Buffer.from(await res.arrayBuffer())
  const socket = incoming.socket
  const end = socket.end
  // One call: the adapter's refusal, `HTTP/1.1 <status> ...Content-Length: 0...\r\n\r\n`.
  socket.end = ((chunk: unknown, ...rest: unknown[]) => {
    socket.end = end
    if (typeof chunk === 'string' && chunk.startsWith('HTTP/1.1 ')) {
      const head = chunk.replace(/\r\nContent-Length: 0\r\n/i, `\r\nContent-Length: ${body.length}\r\n`)
      return end.call(socket, Buffer.concat([Buffer.from(head, 'latin1'), body]))
    }
    return (end as (...a: unknown[]) => unknown).call(socket, chunk, ...rest)
  }) as typeof socket.end
  return new Response(null, { status: res.status, headers: res.headers })
}

function build(opts: ServeOptions): Server {
  const websocket = opts.websocket
    ? // autoPong off: the WS peer answers pings itself so ws-silence can stop answering.
      {
        server: new WebSocketServer({
          noServer: true,
          maxPayload: opts.websocket.maxPayload,
          autoPong: false,
        }),
      }
    : undefined
  const server = createAdaptorServer({
    fetch: websocket ? withRefusalBodies(opts.app.fetch) : opts.app.fetch,
    websocket,
  }) as Server
  server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
    // Malformed HTTP: answer as Node would (431 for an oversized head, else 400), never crash.
    const status =
      err.code === 'HPE_HEADER_OVERFLOW' ? '431 Request Header Fields Too Large' : '400 Bad Request'
    if (socket.writable) socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`)
    else socket.destroy()
    opts.logger.debug({ err: err.message }, 'client error')
  })
  return server
}

function listen(server: Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => {
      server.off('listening', onListening)
      reject(
        err.code === 'EADDRINUSE'
          ? new Error(`Port ${port} on ${host} is already in use: stop what is using it or set another port`)
          : err,
      )
    }
    const onListening = () => {
      server.off('error', onError)
      resolve((server.address() as AddressInfo).port)
    }
    server.once('error', onError)
    server.once('listening', onListening)
    server.listen(port, host)
  })
}

function shutdown(server: Server): Promise<void> {
  return new Promise((resolve) => {
    if (!server.listening) return resolve()
    server.close(() => resolve())
    // Drop keep-alive and upgraded sockets too: a service that is down has no connections.
    server.closeAllConnections()
  })
}

/** An HTTP fake's listener; `serve` takes a request from this process (core/loopback.ts). */
export interface HttpListener extends ServiceListener, LoopbackTarget {}

export async function startServer(opts: ServeOptions): Promise<HttpListener> {
  let server = build(opts)
  const port = await listen(server, opts.port, opts.host)
  const sockets = new Set<Duplex>()
  // Every TCP connection, upgraded ones included. Not an 'upgrade' listener: @hono/node-server
  // only writes a refused handshake (401/403/503, ws-reject) when it is the sole one.
  const track = (s: Server) =>
    s.on('connection', (socket) => {
      sockets.add(socket)
      socket.once('close', () => sockets.delete(socket))
    })
  track(server)
  const cut = async () => {
    for (const s of sockets) s.destroy()
    sockets.clear()
    await shutdown(server)
    // A turn of the event loop for clients in this process (a chat or media whose get-session
    // goes over the network, to a listener of this process it does not know as its own) to see
    // their kept-alive connection closed: their next request then finds the port refused
    // (ECONNREFUSED), not a reset on a connection they thought open.
    for (let turn = 0; turn < 2; turn++) await new Promise((resolve) => setImmediate(resolve))
  }
  const listener = serviceListener({
    port,
    host: opts.host,
    isListening: () => server.listening,
    stop: cut,
    async restart() {
      server = build(opts)
      track(server)
      await listen(server, port, opts.host)
    },
  })
  return Object.assign(listener, {
    // An in-process request on the server's own request listener, its socket counted with the
    // TCP ones so that `down` cuts it too.
    serve(req: IncomingMessage, res: ServerResponse) {
      sockets.add(req.socket)
      server.emit('request', req, res)
    },
    release(socket: Duplex) {
      sockets.delete(socket)
    },
    refuse(err: Error, socket: Duplex) {
      server.emit('clientError', err, socket)
    },
  })
}
