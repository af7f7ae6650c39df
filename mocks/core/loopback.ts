import {
  IncomingMessage,
  maxHeaderSize,
  ServerResponse,
  validateHeaderName,
  validateHeaderValue,
} from 'node:http'
import { Duplex } from 'node:stream'

// Requests from one fake to another served in this process (chat's and media's get-session
// call to the fake auth, on every request they serve). Over loopback TCP each such call paid
// for an HTTP client, two trips through the kernel and Node's HTTP parser on both sides: most
// of a chat request's CPU. Here the request is given to the same listener as an
// IncomingMessage on an in-process socket, so it passes every layer a TCP request passes (the
// fault engine, the journal, the route), and what a fault does to a connection is seen as a
// client sees it: a listener that is down refuses (ECONNREFUSED), a cut connection is a reset
// (ECONNRESET), a held request holds until the caller gives up. Only URLs whose origin is a
// listener of this process go this way: anything else (a real better-auth, a balancer, msw's
// interception) still goes over the network.

/** A listener of this process, as a caller reaching its origin would find it. */
export interface LoopbackTarget {
  /** False while it is down: a caller gets ECONNREFUSED, as from the closed port. */
  readonly listening: boolean
  /** Serves one request on an in-process socket, as it serves one read from TCP. */
  serve(req: IncomingMessage, res: ServerResponse): void
  /** The request on `socket` is over (answered or given up): the listener forgets its socket. */
  release(socket: Duplex): void
  /**
   * A request Node's HTTP parser refuses before any handler sees it (a head over
   * `http.maxHeaderSize`): the listener answers it on the raw socket, as from TCP.
   */
  refuse(err: Error & { code: string }, socket: Duplex): void
}

export interface LoopbackAnswer {
  status: number
  body: Buffer
}

/** Where a URL goes in this process: its listener, with the Host and path a client would send. */
export interface LoopbackRoute {
  readonly target: LoopbackTarget
  readonly host: string
  readonly path: string
}

/** The listeners of this process, by the origins that reach them. */
export class LoopbackRegistry {
  private readonly targets = new Map<string, LoopbackTarget>()
  private last:
    | {
        url: string
        origin: string | undefined
        host: string
        path: string
        route: LoopbackRoute | undefined
      }
    | undefined

  /**
   * Registers a listener under its origins (`http://127.0.0.1:8083`). Never removed: the
   * registry lives as long as the process's listeners, and a closed one refuses (`listening`).
   */
  add(origins: readonly string[], target: LoopbackTarget): void {
    for (const o of origins) this.targets.set(o, target)
  }

  /** Where a request to `url` goes if a listener of this process serves it; else undefined. */
  find(url: string): LoopbackRoute | undefined {
    // Callers ask with the same URL on every request: it is parsed once.
    if (url !== this.last?.url) this.last = { url, ...parse(url), route: undefined }
    const last = this.last
    const target = last.origin === undefined ? undefined : this.targets.get(last.origin)
    // The same route object while the origin's listener is the same one: no object per call.
    if (last.route?.target !== target) last.route = target && { target, host: last.host, path: last.path }
    return last.route
  }
}

function parse(url: string): { origin: string | undefined; host: string; path: string } {
  try {
    const u = new URL(url)
    // Credentials in the URL become an Authorization header on the network: not this path.
    const plain = u.protocol === 'http:' && !u.username && !u.password
    return {
      origin: plain ? u.origin : undefined,
      host: u.host,
      path: u.pathname + u.search,
    }
  } catch {
    return { origin: undefined, host: '', path: '' }
  }
}

/**
 * The origins that reach a listener bound to `host:port` for certain: its own, and loopback's
 * when it is bound to every address. Not `localhost`, which a client may resolve to another
 * family where another process listens: such a URL goes over the network.
 */
export function loopbackOrigins(host: string, port: number): string[] {
  const hostForUrl = host.includes(':') ? `[${host}]` : host
  const origins = [`http://${hostForUrl}:${port}`]
  if (host === '0.0.0.0') origins.push(`http://127.0.0.1:${port}`)
  if (host === '::') origins.push(`http://[::1]:${port}`)
  return origins
}

/** How long a caller waits, and how much it reads, before giving up. */
export interface LoopbackLimits {
  timeoutMs: number
  /** Past this many body bytes the connection is closed and the call fails with `bodyTooLarge()`. */
  maxBody?: number
  bodyTooLarge?: () => Error
}

function networkError(code: string, message: string): Error {
  return Object.assign(new Error(message), { code })
}

/**
 * The server's end of an in-process connection: it keeps what is written (the answer's bytes
 * go nowhere else) and can be reset, as `cutConnection` resets a TCP socket.
 */
class LoopbackSocket extends Duplex {
  constructor() {
    // Every write is taken at once: `write()` never asks a streamed answer to wait for a
    // 'drain' that no TCP socket would send here (Node's server relays its socket's).
    super({ writableHighWaterMark: Number.MAX_SAFE_INTEGER })
  }
  readonly remoteAddress = '127.0.0.1'
  readonly remoteFamily = 'IPv4'
  readonly remotePort = 0
  readonly encrypted = false
  /** The raw bytes written, kept only for an answer written on the socket itself (`refuse`). */
  raw: Buffer[] | undefined
  override _read(): void {}
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.raw?.push(chunk)
    cb()
  }
  override _writev(chunks: { chunk: Buffer }[], cb: (err?: Error | null) => void): void {
    for (const c of chunks) this.raw?.push(c.chunk)
    cb()
  }
  /** A TCP reset: the caller sees ECONNRESET (as for any cut). */
  resetAndDestroy(): this {
    return this.destroy()
  }
  // What Node's HTTP server and the adapter may call on a net.Socket.
  setTimeout(): this {
    return this
  }
  setNoDelay(): this {
    return this
  }
  setKeepAlive(): this {
    return this
  }
  ref(): this {
    return this
  }
  unref(): this {
    return this
  }
}

/**
 * A GET along `route` as Node's HTTP client sends it (the headers given, then Host and
 * Connection: keep-alive), answered whole. Fails as the client would: a header it would not
 * send throws its error; ECONNREFUSED while the target is down; ECONNRESET when the connection
 * is cut before the answer ends (whatever the server's side cut it with); after `timeoutMs` it
 * gives up (closing the connection, which a held request sees) with an error named TimeoutError.
 */
export function loopbackGet(
  route: LoopbackRoute,
  headers: Record<string, string>,
  limits: LoopbackLimits,
): Promise<LoopbackAnswer> {
  const { target, host, path } = route
  // One pass over the headers: checked as Node's client checks them, counted as its server's
  // parser counts them (the URL and every name and value), and laid out as the parser would.
  let head = path.length + 'Host'.length + host.length + 'Connection'.length + 'keep-alive'.length
  const all: Record<string, string> = {}
  const raw: string[] = []
  try {
    for (const k in headers) {
      const v = headers[k] as string
      validateHeaderName(k)
      validateHeaderValue(k, v)
      head += k.length + v.length
      all[k.toLowerCase()] = v
      raw.push(k, v)
    }
  } catch (err) {
    return Promise.reject(err)
  }
  if (!target.listening) return Promise.reject(networkError('ECONNREFUSED', `connect ECONNREFUSED ${host}`))
  const socket = new LoopbackSocket()
  if (head >= maxHeaderSize) return refused(target, socket)
  all.host = host
  all.connection = 'keep-alive'
  raw.push('Host', host, 'Connection', 'keep-alive')
  const req = incomingGet(socket, path, all, raw)
  return new Promise<LoopbackAnswer>((resolve, reject) => {
    const res = new LoopbackResponse(req, limits.maxBody ?? Number.POSITIVE_INFINITY, () => {
      // As a client that stops reading: the connection closed, which the server sees.
      settle(false, limits.bodyTooLarge?.() ?? new Error(`answer over ${limits.maxBody} bytes`))
      socket.destroy()
    })
    res.shouldKeepAlive = true
    res.assignSocket(socket as never)
    let settled = false
    const settle = (ok: boolean, err?: unknown) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      target.release(socket)
      if (ok) {
        res.detachSocket(socket as never)
        resolve({ status: res.statusCode, body: res.body() })
      } else reject(err)
    }
    const timer = setTimeout(() => {
      const err = new Error(`no answer within ${limits.timeoutMs} ms`)
      err.name = 'TimeoutError'
      settle(false, err)
      socket.destroy()
    }, limits.timeoutMs)
    res.once('finish', () => settle(true))
    // A client sees a reset, never the error the server's side destroyed its socket with.
    socket.once('close', () => settle(false, networkError('ECONNRESET', 'socket hang up')))
    socket.on('error', noop)
    target.serve(req, res)
  })
}

const noop = () => undefined

/**
 * An HTTP/1.1 GET without a body on `socket`, as Node's parser leaves it for a server's request
 * listener: `headers` by lower-case name, `rawHeaders` as sent.
 */
export function incomingGet(
  socket: Duplex,
  path: string,
  headers: Record<string, string>,
  rawHeaders: string[],
): IncomingMessage {
  const req = new IncomingMessage(socket as never)
  req.method = 'GET'
  req.url = path
  req.httpVersionMajor = 1
  req.httpVersionMinor = 1
  req.httpVersion = '1.1'
  req.rawHeaders = rawHeaders
  req.headers = headers
  req.complete = true
  req.push(null)
  return req
}

/**
 * The answer as the route writes it, kept as it goes (no HTTP framing to undo, chunked or not),
 * up to `maxBody` bytes.
 */
class LoopbackResponse extends ServerResponse {
  private readonly chunks: Buffer[] = []
  private size = 0
  constructor(
    req: IncomingMessage,
    private readonly maxBody: number,
    private readonly overflow: () => void,
  ) {
    super(req)
  }

  body(): Buffer {
    return this.chunks.length === 1 ? (this.chunks[0] as Buffer) : Buffer.concat(this.chunks)
  }

  private keep(chunk: unknown, encoding: unknown): void {
    if (chunk === undefined || chunk === null || typeof chunk === 'function' || this.size > this.maxBody)
      return
    // What Node would not send either: a write after the end, a body on 204 or 304.
    if (this.writableEnded || this.statusCode === 204 || this.statusCode === 304) return
    const bytes =
      typeof chunk === 'string'
        ? Buffer.from(chunk, typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8')
        : chunk instanceof Uint8Array
          ? chunk
          : undefined
    if (!bytes) return
    this.size += bytes.length
    if (this.size > this.maxBody) {
      this.overflow()
      return
    }
    // A copy of bytes the writer hands over (it may reuse them once written); a string's are new.
    this.chunks.push(typeof chunk === 'string' ? (bytes as Buffer) : Buffer.from(bytes))
  }

  override write(chunk: unknown, encoding?: unknown, cb?: unknown): boolean {
    this.keep(chunk, encoding)
    return (super.write as (...a: unknown[]) => boolean)(chunk, encoding, cb)
  }

  override end(chunk?: unknown, encoding?: unknown, cb?: unknown): this {
    this.keep(chunk, encoding)
    return (super.end as (...a: unknown[]) => this)(chunk, encoding, cb)
  }
}

/** A head over the parser's limit: the listener's own answer on the raw socket, read back. */
function refused(target: LoopbackTarget, socket: LoopbackSocket): Promise<LoopbackAnswer> {
  socket.raw = []
  const raw = socket.raw
  return new Promise((resolve, reject) => {
    socket.on('error', () => undefined)
    socket.once('finish', () => {
      const bytes = Buffer.concat(raw)
      const status = /^HTTP\/1\.1 (\d{3})/.exec(bytes.toString('latin1', 0, 12))
      const at = bytes.indexOf('\r\n\r\n')
      if (!status || at < 0) return reject(networkError('ECONNRESET', 'socket hang up'))
      resolve({ status: Number(status[1]), body: bytes.subarray(at + 4) })
    })
    socket.once('close', () => reject(networkError('ECONNRESET', 'socket hang up')))
    target.refuse(Object.assign(new Error('Header overflow'), { code: 'HPE_HEADER_OVERFLOW' }), socket)
  })
}
