import { mkdirSync, readdirSync, writeFileSync } from 'node:fs'
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http'
import { connect, Server, Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { z } from 'zod'

// Shared by the reliability suites (fuzz, soak, aborts, security) and scripts/soak.ts:
// strict error envelopes, leak checks, raw HTTP/WS clients that send bytes fetch would
// refuse or rewrite, process-level watchers, and the JSON results the report script reads.

// ---- results ----

/** Where each suite writes `<suite>.json` (RELIABILITY_OUT, else a fixed temp folder). */
export function resultsDir(): string {
  return process.env.RELIABILITY_OUT || join(tmpdir(), 'devarno-mocks-reliability')
}

export function writeResult(suite: string, data: Record<string, unknown>): string {
  const dir = resultsDir()
  mkdirSync(dir, { recursive: true })
  const file = join(dir, `${suite}.json`)
  writeFileSync(
    file,
    `${JSON.stringify({ suite, writtenAt: new Date().toISOString(), node: process.version, ...data }, null, 2)}\n`,
  )
  return file
}

/** Numbers from env (sizes of the opt-in full runs), with a floor so a typo cannot disable a check. */
export function envInt(name: string, fallback: number, min = 1): number {
  const raw = process.env[name]
  if (raw === undefined || raw === '') return fallback
  const n = Number(raw)
  if (!Number.isInteger(n) || n < min) throw new Error(`${name}=${raw} must be a whole number >= ${min}`)
  return n
}

/** fast-check seed: fixed by default so a red run replays; FC_SEED overrides. */
export const FC_SEED = envInt('FC_SEED', 20260219, 0)

// ---- envelopes (strict: an extra or misspelt key fails) ----

export const AuthErrorSchema = z.strictObject({
  message: z.string().min(1),
  code: z.string().regex(/^[A-Z][A-Z0-9_]*$/),
})
export const NoSessionSchema = z.strictObject({ user: z.null(), session: z.null() })
export const ServiceErrorSchema = z.strictObject({
  error: z.string().min(1),
  code: z
    .string()
    .regex(/^[a-z][a-z0-9_]*$/)
    .optional(),
})
export const V01tErrorSchema = z.strictObject({
  success: z.literal(false),
  error: z.string().min(1),
  code: z.string().regex(/^[a-z][a-z0-9_]*$/),
  details: z.record(z.string(), z.unknown()).optional(),
})
export const ControlErrorSchema = z.strictObject({
  error: z.string().min(1),
  code: z.string().regex(/^[a-z][a-z0-9_]*$/),
  issues: z.array(z.strictObject({ path: z.string(), message: z.string() })).optional(),
})

/** Upstash answers `{error}` alone, in Redis's words. */
export const UpstashErrorSchema = z.strictObject({
  error: z.string().regex(/^(ERR|WRONGTYPE|WRONGPASS|EXECABORT|NOPERM) /),
})

export type Owner = 'auth' | 'chat' | 'media' | 'v01t' | 'upstash' | 'control'

/**
 * better-auth's one answer with a message and no code: a callbackURL that is no string (its
 * router's APIError.fromStatus; checked against the real server in tests/parity).
 */
const AuthCallbackTypeError = z.strictObject({ message: z.literal('Invalid callbackURL: expected a string') })

export const ENVELOPES: Record<Owner, z.ZodType> = {
  auth: z.union([AuthErrorSchema, AuthCallbackTypeError]),
  chat: ServiceErrorSchema,
  media: ServiceErrorSchema,
  v01t: V01tErrorSchema,
  upstash: UpstashErrorSchema,
  control: ControlErrorSchema,
}

// ---- leaks ----

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
}

const LEAK_PATTERNS = [
  // A V8 stack frame: "at fn (/abs/file.ts:1:2)" or "at /abs/file.ts:1:2" or "at file:///…".
  /\bat (?:async )?(?:\S+ \()?(?:file:\/\/)?\/[^\s)]+:\d+:\d+/,
  /node:internal/,
  /node_modules/,
  new RegExp(escapeRegExp(process.cwd())),
]

/** Problems with a body that exposes internals (stack frames, file paths, extra secrets). */
export function leaks(text: string, sensitive: readonly string[] = []): string[] {
  const out: string[] = []
  for (const re of LEAK_PATTERNS) if (re.test(text)) out.push(`body leaks ${re}: ${text.slice(0, 300)}`)
  for (const s of sensitive) if (s && text.includes(s)) out.push(`body leaks "${s}": ${text.slice(0, 300)}`)
  return out
}

// ---- answers ----

export interface Answer {
  status: number
  headers: IncomingHttpHeaders
  body: Buffer
  text: string
}

export interface CheckOptions {
  /** Statuses that are acceptable for this input. */
  allowed: readonly number[]
  /** Schema a 2xx body must satisfy (JSON), when the route answers JSON. */
  success?: z.ZodType | ((json: unknown) => string[])
  /** The input reached Node's HTTP parser as bytes fetch could not send: its bare 400/431 is fine. */
  raw?: boolean
  sensitive?: readonly string[]
  /** A 4xx whose body has another documented shape (get-session's {user:null, session:null}). */
  errorBody?: z.ZodType
  /** A HEAD request: no body to check. */
  head?: boolean
  /** better-auth answers a path under /api/auth it does not know with a bare 404 (no body). */
  bare404?: boolean
}

function zodProblems(schema: z.ZodType, json: unknown, what: string): string[] {
  const r = schema.safeParse(json)
  return r.success
    ? []
    : r.error.issues.map((i) => `${what}: ${i.path.join('.') || '(root)'} ${i.message}`).slice(0, 5)
}

/** Everything wrong with one answer: status, envelope, success shape, leaks. Empty = fine. */
export function checkAnswer(owner: Owner, a: Answer, opts: CheckOptions): string[] {
  const problems: string[] = [...leaks(a.text, opts.sensitive)]
  const bareParserRefusal = opts.raw === true && (a.status === 400 || a.status === 431) && a.body.length === 0
  if (bareParserRefusal) return problems
  if (opts.bare404 && a.status === 404 && a.body.length === 0) return problems
  if (a.status >= 500) problems.push(`unrequested ${a.status}: ${a.text.slice(0, 300)}`)
  if (!opts.allowed.includes(a.status)) {
    problems.push(`status ${a.status} not in [${opts.allowed.join(', ')}]: ${a.text.slice(0, 200)}`)
  }
  const noBody = opts.head || a.status === 204 || a.status === 304 || a.status === 301 || a.status === 101
  if (noBody) return problems
  let json: unknown
  if (a.text.length > 0) {
    try {
      json = JSON.parse(a.text)
    } catch {
      // Binary success bodies (downloads) are not JSON; errors always are.
      if (a.status >= 400) problems.push(`error body is not JSON: ${a.text.slice(0, 200)}`)
      return problems
    }
  }
  if (a.status >= 400) {
    if (json === undefined) problems.push(`${a.status} with an empty body`)
    else {
      const own = zodProblems(ENVELOPES[owner], json, `${owner} envelope`)
      if (own.length && !opts.errorBody?.safeParse(json).success) problems.push(...own)
    }
  } else if (a.status >= 200 && a.status < 300 && opts.success) {
    problems.push(
      ...(typeof opts.success === 'function'
        ? opts.success(json)
        : zodProblems(opts.success, json, 'success body')),
    )
  }
  return problems
}

// ---- HTTP over node:http (no path normalisation, repeated headers, any method) ----

export interface HttpCall {
  method?: string
  path: string
  headers?: Record<string, string | string[]>
  body?: Buffer | string
  timeoutMs?: number
}

/** One request on a fresh connection; resolves with the whole answer. */
export function http(base: string, call: HttpCall): Promise<Answer> {
  const u = new URL(base)
  // Node sends no Content-Length for a DELETE or OPTIONS body on its own: the server would
  // read the body as the next request.
  const headers = { ...call.headers }
  if (
    call.body !== undefined &&
    !Object.keys(headers).some((k) => /^(content-length|transfer-encoding)$/i.test(k))
  )
    headers['content-length'] = String(Buffer.byteLength(call.body))
  return new Promise((resolve, reject) => {
    let answered = false
    const req = httpRequest(
      {
        host: u.hostname,
        port: Number(u.port),
        method: call.method ?? 'GET',
        path: call.path,
        headers,
        agent: false,
        timeout: call.timeoutMs ?? 10_000,
      },
      (res) => {
        const chunks: Buffer[] = []
        res.on('data', (c: Buffer) => chunks.push(c))
        res.on('end', () => {
          answered = true
          const body = Buffer.concat(chunks)
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body, text: body.toString('utf8') })
        })
        res.on('error', (err) => {
          if (!answered) reject(err)
        })
      },
    )
    req.on('timeout', () =>
      req.destroy(new Error(`no answer to ${call.method ?? 'GET'} ${call.path} in time`)),
    )
    // The server may answer (413, 401) before the body is written and close: the answer counts.
    req.on('error', (err) => {
      if (!answered) reject(err)
    })
    if (call.body !== undefined) req.end(call.body)
    else req.end()
  })
}

/** Raw bytes on a fresh socket (bytes node:http refuses to send); the request should say Connection: close. */
export function rawHttp(base: string, bytes: Buffer | string, timeoutMs = 5000): Promise<Answer> {
  const u = new URL(base)
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    const sock = connect(Number(u.port), u.hostname)
    const timer = setTimeout(() => {
      sock.destroy()
      reject(new Error('raw request: no complete answer in time'))
    }, timeoutMs)
    sock.on('data', (c: Buffer) => chunks.push(c))
    sock.on('error', () => {
      // A reset after the answer arrived still counts; parsed on close.
    })
    sock.on('close', () => {
      clearTimeout(timer)
      const all = Buffer.concat(chunks)
      const parsed = parseHttpAnswer(all)
      if (parsed) resolve(parsed)
      else
        reject(
          new Error(`raw request: unparsable answer ${JSON.stringify(all.toString('latin1').slice(0, 200))}`),
        )
    })
    sock.write(bytes)
  })
}

/** Parses one HTTP/1.1 answer (Content-Length or chunked or until close). */
export function parseHttpAnswer(all: Buffer): Answer | undefined {
  const end = all.indexOf('\r\n\r\n')
  if (end < 0) return undefined
  const head = all.subarray(0, end).toString('latin1').split('\r\n')
  const status = /^HTTP\/1\.[01] (\d{3})/.exec(head[0] ?? '')
  if (!status) return undefined
  const headers: IncomingHttpHeaders = {}
  for (const line of head.slice(1)) {
    const i = line.indexOf(':')
    if (i > 0) headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim()
  }
  let body = all.subarray(end + 4)
  if (headers['transfer-encoding'] === 'chunked') {
    const out: Buffer[] = []
    let at = 0
    for (;;) {
      const lineEnd = body.indexOf('\r\n', at)
      if (lineEnd < 0) break
      const size = Number.parseInt(body.subarray(at, lineEnd).toString('latin1'), 16)
      if (!Number.isFinite(size) || size === 0) break
      out.push(body.subarray(lineEnd + 2, lineEnd + 2 + size))
      at = lineEnd + 2 + size + 2
    }
    body = Buffer.concat(out)
  } else if (headers['content-length'] !== undefined) {
    body = body.subarray(0, Number(headers['content-length']))
  }
  return { status: Number(status[1]), headers, body, text: body.toString('utf8') }
}

// ---- WebSocket on a raw socket (half frames, protocol violations) ----

export interface RawWs {
  socket: Socket
  /** Bytes after the 101 head (server frames). */
  received: Buffer[]
  closed: Promise<void>
}

/** Handshakes by hand; resolves once the 101 head is in, rejects with the status otherwise. */
export function rawWsConnect(
  base: string,
  path: string,
  headers: Record<string, string> = {},
): Promise<RawWs> {
  const u = new URL(base)
  return new Promise((resolve, reject) => {
    const socket = connect(Number(u.port), u.hostname)
    let head = Buffer.alloc(0)
    let upgraded = false
    const received: Buffer[] = []
    const closed = new Promise<void>((r) => socket.once('close', () => r()))
    socket.on('error', () => {})
    socket.on('data', (c: Buffer) => {
      if (upgraded) {
        received.push(c)
        return
      }
      head = Buffer.concat([head, c])
      const end = head.indexOf('\r\n\r\n')
      if (end < 0) return
      const status = /^HTTP\/1\.1 (\d{3})/.exec(head.toString('latin1'))?.[1]
      if (status !== '101') {
        socket.destroy()
        reject(new Error(`upgrade refused with HTTP ${status}`))
        return
      }
      upgraded = true
      if (head.length > end + 4) received.push(head.subarray(end + 4))
      resolve({ socket, received, closed })
    })
    socket.once('close', () => {
      if (!upgraded) reject(new Error('socket closed during the handshake'))
    })
    const extra = Object.entries(headers)
      .map(([k, v]) => `${k}: ${v}\r\n`)
      .join('')
    socket.write(
      `GET ${path} HTTP/1.1\r\nHost: ${u.host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        `Sec-WebSocket-Key: ${Buffer.from('reliability-key!').toString('base64')}\r\n` +
        `Sec-WebSocket-Version: 13\r\n${extra}\r\n`,
    )
  })
}

export interface FrameOptions {
  opcode?: number
  fin?: boolean
  mask?: boolean
  rsv?: number
  /** Length written in the header, when it should lie. */
  declaredLength?: number
}

/** One client frame (masked by default, as RFC 6455 requires of clients). */
export function wsFrame(payload: Buffer | string, opts: FrameOptions = {}): Buffer {
  const data = typeof payload === 'string' ? Buffer.from(payload) : payload
  const len = opts.declaredLength ?? data.length
  const mask = opts.mask ?? true
  const first = ((opts.fin ?? true) ? 0x80 : 0) | ((opts.rsv ?? 0) << 4) | (opts.opcode ?? 1)
  let header: Buffer
  if (len < 126) header = Buffer.from([first, (mask ? 0x80 : 0) | len])
  else if (len < 65536) {
    header = Buffer.alloc(4)
    header[0] = first
    header[1] = (mask ? 0x80 : 0) | 126
    header.writeUInt16BE(len, 2)
  } else {
    header = Buffer.alloc(10)
    header[0] = first
    header[1] = (mask ? 0x80 : 0) | 127
    header.writeBigUInt64BE(BigInt(len), 2)
  }
  if (!mask) return Buffer.concat([header, data])
  const key = Buffer.from([0x12, 0x34, 0x56, 0x78])
  const masked = Buffer.from(data.map((b, i) => b ^ (key[i % 4] ?? 0)))
  return Buffer.concat([header, key, masked])
}

/** Close code of the first close frame in server bytes, if any. */
export function serverCloseCode(chunks: Buffer[]): number | undefined {
  const all = Buffer.concat(chunks)
  let at = 0
  while (at + 2 <= all.length) {
    const opcode = (all[at] ?? 0) & 0x0f
    let len = (all[at + 1] ?? 0) & 0x7f
    let off = at + 2
    if (len === 126) {
      len = all.readUInt16BE(off)
      off += 2
    } else if (len === 127) {
      len = Number(all.readBigUInt64BE(off))
      off += 8
    }
    if (opcode === 8) return len >= 2 ? all.readUInt16BE(off) : 1005
    at = off + len
  }
  return undefined
}

// ---- the process ----

/** Collects unhandled rejections and uncaught exceptions while a suite runs. */
export function watchProcess(): { seen: string[]; stop(): void } {
  const seen: string[] = []
  const onRejection = (reason: unknown) =>
    seen.push(`unhandledRejection: ${(reason as Error)?.stack ?? String(reason)}`)
  const onException = (err: Error) => seen.push(`uncaughtException: ${err.stack ?? err.message}`)
  process.on('unhandledRejection', onRejection)
  process.on('uncaughtException', onException)
  return {
    seen,
    stop() {
      process.off('unhandledRejection', onRejection)
      process.off('uncaughtException', onException)
    },
  }
}

type HandleLike = { constructor?: { name?: string } }

/** process._getActiveHandles(): sockets, servers, timers Node still holds open. */
export function activeHandles(): HandleLike[] {
  return (process as unknown as { _getActiveHandles(): HandleLike[] })._getActiveHandles()
}

/** Server-side sockets of our listeners: connections still open to those ports. */
export function serverSockets(ports: readonly number[]): number {
  return activeHandles().filter((h) => h instanceof Socket && ports.includes((h as Socket).localPort ?? -1))
    .length
}

/** The server-side sockets still open on those ports, for a failure message. */
export function describeServerSockets(ports: readonly number[]): string[] {
  return activeHandles().flatMap((h) => {
    if (!(h instanceof Socket) || !ports.includes(h.localPort ?? -1)) return []
    return [
      `:${h.localPort} <- :${h.remotePort} ${h.readable ? 'readable' : 'ended'} ${h.writable ? 'writable' : 'finished'} ${h.destroyed ? 'destroyed' : ''}`.trim(),
    ]
  })
}

/** Listening servers of this process, with the address each is bound to. */
export function listeners(): { address: string; port: number }[] {
  return activeHandles().flatMap((h) => {
    if (!(h instanceof Server)) return []
    const a = h.address()
    return a && typeof a === 'object' ? [{ address: a.address, port: a.port }] : []
  })
}

/** Open file descriptors of this process (Linux), to catch file handles a download left open. */
export function openFds(): number | undefined {
  try {
    return readdirSync('/proc/self/fd').length
  } catch {
    return undefined
  }
}

let gcFn: (() => void) | undefined
/** A full GC (flag set at run time: vitest workers and tsx do not pass --expose-gc). */
export function collectGarbage(): void {
  if (!gcFn) {
    setFlagsFromString('--expose-gc')
    gcFn = runInNewContext('gc') as () => void
  }
  gcFn()
  gcFn()
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms))

/** Polls until the check holds or the time is up; returns whether it held. */
export async function eventually(check: () => boolean | Promise<boolean>, timeoutMs = 3000, stepMs = 20) {
  const until = performance.now() + timeoutMs
  for (;;) {
    if (await check()) return true
    if (performance.now() > until) return false
    await sleep(stepMs)
  }
}
