import { randomUUID } from 'node:crypto'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { createAdaptorServer } from '@hono/node-server'
import { Hono } from 'hono'
import { WebSocketServer } from 'ws'

// The baselines: the same work as the fakes, done as simply as possible with bare node:http
// and ws. They serve the same bytes (captured from the fakes), so a ratio compares the
// machinery, not the payload (DESIGN §8: "baselines that do not serve the same bytes").

export async function listen(server: http.Server): Promise<string> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => resolve())
  })
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
}

/** Answers every request with one captured response: same status, headers and body bytes. */
export function bytesServer(status: number, headers: Record<string, string>, body: Buffer): http.Server {
  return http.createServer((req, res) => {
    req.resume()
    res.writeHead(status, headers)
    res.end(body)
  })
}

/**
 * The same captured response from a bare Hono app on @hono/node-server (one route, no
 * middleware): the floor any fake has, since every fake is a Hono app (DESIGN).
 */
export function honoBytesServer(status: number, headers: Record<string, string>, body: Buffer): http.Server {
  return createAdaptorServer({ fetch: honoBytesApp(status, headers, body).fetch }) as http.Server
}

/** The floor's app: one route answering the captured response (in-process figures serve it too). */
export function honoBytesApp(status: number, headers: Record<string, string>, body: Uint8Array): Hono {
  const app = new Hono()
  const bytes = new Uint8Array(body)
  app.all('*', () => new Response(bytes, { status, headers }))
  return app
}

/**
 * The least any service with an auth hop does: for each request, a GET of `sessionUrl` (the
 * request's cookie forwarded, a keep-alive node:http agent, the answer read whole and parsed
 * as JSON), then the captured response. With `sessionUrl` on a bytesServer in the same
 * process, it is the floor of chat history's design: two bare requests and a client.
 */
export function hopServer(
  status: number,
  headers: Record<string, string>,
  body: Buffer,
  sessionUrl: string,
): http.Server {
  const agent = new http.Agent({ keepAlive: true })
  return http.createServer((req, res) => {
    req.resume()
    const unavailable = () => {
      if (!res.headersSent) res.writeHead(503).end()
    }
    const ask = http.get(sessionUrl, { agent, headers: { cookie: req.headers.cookie ?? '' } }, (answer) => {
      const chunks: Buffer[] = []
      answer.on('data', (c: Buffer) => chunks.push(c))
      answer.on('error', unavailable)
      answer.on('end', () => {
        let session: { user?: unknown } | null = null
        try {
          session = answer.statusCode === 200 ? JSON.parse(Buffer.concat(chunks).toString()) : null
        } catch {
          return unavailable()
        }
        res.writeHead(session?.user ? status : 401, headers)
        res.end(body)
      })
    })
    ask.on('error', unavailable)
  })
}

/** The captured response, answered after a setTimeout of the current delay; records how long each took. */
export function delayServer(status: number, headers: Record<string, string>, body: Buffer) {
  let delay = 0
  const samples: number[] = []
  const server = http.createServer((req, res) => {
    const started = performance.now()
    req.resume()
    setTimeout(() => {
      res.writeHead(status, headers)
      res.end(body)
      samples.push(performance.now() - started)
    }, delay)
  })
  return {
    server,
    setDelay(ms: number) {
      delay = ms
      samples.length = 0
    },
    samples: () => [...samples],
  }
}

/**
 * chat's fan-out with nothing else: `join` adds the socket to the channel and answers the
 * same presence frame chat sends the joiner; `message` is broadcast to every joined socket
 * (the sender included, as chat does) in chat's frame shape, with a UUID and an ISO timestamp
 * of the same lengths, so every frame has the same bytes count. No auth check: the token is
 * only looked up to name the sender.
 */
export function wsBroadcastServer(users: Record<string, string>, maxPayload: number): http.Server {
  const server = http.createServer((_req, res) => {
    res.writeHead(426).end()
  })
  const wss = new WebSocketServer({ server, maxPayload })
  const channels = new Map<string, Set<import('ws').WebSocket>>()
  wss.on('connection', (ws, req) => {
    const raw = /[?&]token=([^&]*)/.exec(req.url ?? '')?.[1] ?? ''
    const userId = users[decodeURIComponent(raw)] ?? 'anonymous'
    const joined = new Set<string>()
    ws.on('message', (data) => {
      const frame = JSON.parse(data.toString()) as { type: string; channel: string; content?: string }
      if (frame.type === 'join') {
        let sockets = channels.get(frame.channel)
        if (!sockets) {
          sockets = new Set()
          channels.set(frame.channel, sockets)
        }
        sockets.add(ws)
        joined.add(frame.channel)
        ws.send(JSON.stringify({ type: 'presence', user_id: userId, online: true, channel: frame.channel }))
      } else if (frame.type === 'message') {
        const text = JSON.stringify({
          type: 'message',
          id: randomUUID(),
          sender: userId,
          content: frame.content,
          channel: frame.channel,
          timestamp: new Date().toISOString(),
        })
        for (const peer of channels.get(frame.channel) ?? []) peer.send(text)
      }
    })
    ws.on('close', () => {
      for (const c of joined) channels.get(c)?.delete(ws)
    })
  })
  return server
}

export interface SinkUpload {
  status: number
  /** Body bytes read when the answer was decided. */
  bytesRead: number
}

/**
 * Takes a request body into memory (and keeps it, as the media fake keeps the file), or
 * answers 413 the moment more than `cap` bytes have arrived and discards the rest.
 */
export function uploadSink(cap: number) {
  let kept: Buffer[] = []
  let last: SinkUpload | undefined
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = []
    let bytes = 0
    let refused = false
    const onData = (chunk: Buffer) => {
      bytes += chunk.length
      if (bytes <= cap) {
        chunks.push(chunk)
        return
      }
      refused = true
      last = { status: 413, bytesRead: bytes }
      // Answer now; what still arrives is discarded (the client stops once it has the answer).
      req.off('data', onData)
      req.resume()
      res.writeHead(413, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ error: 'Request body too large', code: 'payload_too_large' }))
    }
    req.on('data', onData)
    req.on('end', () => {
      if (refused) return
      kept = chunks
      last = { status: 201, bytesRead: bytes }
      res.writeHead(201, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ size_bytes: bytes }))
    })
  })
  return {
    server,
    last: () => last,
    /** Bytes held from the last accepted upload. */
    held: () => kept.reduce((n, c) => n + c.length, 0),
  }
}
