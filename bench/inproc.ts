import { ServerResponse } from 'node:http'
import { Duplex } from 'node:stream'
import { getRequestListener } from '@hono/node-server'
import { incomingGet } from '../mocks/core/loopback.ts'

// A fake's requests served in-process along the path Node serves them, without the kernel:
// @hono/node-server's request listener (the one `pnpm dev:mocks` runs) given Node's own
// IncomingMessage and ServerResponse on a socket that discards what is written. Every layer of
// the fake runs as it does over TCP (headers read from the IncomingMessage, the answer written
// by writeHead and end); what is left out, the system calls and the HTTP parser, costs every
// variant the same. A few percent of CPU show here that throughput over sockets cannot resolve
// on a shared 2-core machine.

type Fetch = (request: Request, env: unknown) => Response | Promise<Response>

/** Counts and drops what the response writes: the kernel's part is not measured here. */
class Discard extends Duplex {
  written = 0
  override _read(): void {}
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.written += chunk.length
    cb()
  }
  override _writev(chunks: { chunk: Buffer }[], cb: (err?: Error | null) => void): void {
    for (const c of chunks) this.written += c.chunk.length
    cb()
  }
}

export interface Served {
  status: number
  /** Bytes written for the answer: status line, headers and body. */
  bytes: number
}

/** `GET path` with these headers through the app's Node listener; resolves when the answer is written. */
export function inProcessClient(
  fetch: Fetch,
  host = '127.0.0.1',
): (path: string, headers?: Record<string, string>) => Promise<Served> {
  const listener = getRequestListener(fetch as Parameters<typeof getRequestListener>[0])
  return (path, headers = {}) => {
    const socket = new Discard()
    const all: Record<string, string> = { host, 'user-agent': 'bench', connection: 'keep-alive' }
    for (const [k, v] of Object.entries(headers)) all[k.toLowerCase()] = v
    const req = incomingGet(socket, path, all, Object.entries(all).flat())
    const res = new ServerResponse(req)
    res.shouldKeepAlive = true
    res.assignSocket(socket as never)
    return new Promise<Served>((resolve, reject) => {
      res.once('finish', () => {
        res.detachSocket(socket as never)
        resolve({ status: res.statusCode, bytes: socket.written })
      })
      res.once('error', reject)
      void listener(req, res)
    })
  }
}
