// Just enough of the Postgres wire protocol (v3) to serve PGlite to several clients: framing of
// frontend messages (with the checks Postgres itself makes before trusting a length), a scanner
// that follows the backend's ReadyForQuery status, and the few messages the service writes.

export const PROTOCOL_3 = 196608
export const SSL_REQUEST = 80877103
export const GSSENC_REQUEST = 80877104
export const CANCEL_REQUEST = 80877102

/** Postgres refuses startup packets over 10,000 bytes (MAX_STARTUP_PACKET_LENGTH). */
const MAX_STARTUP = 10_000
/** A larger message is refused: Postgres' own limit is 1 GB, far more than a mock needs. */
export const MAX_MESSAGE = 64 * 1024 * 1024

/** Frontend message types of protocol 3 (after startup). Anything else is garbage. */
const FRONTEND_TYPES = new Set([...'BCdcfDEHFPpQSX'].map((c) => c.charCodeAt(0)))

export type FrontendMessage =
  | { kind: 'ssl' }
  | { kind: 'gssenc' }
  | { kind: 'cancel' }
  | { kind: 'startup'; bytes: Buffer }
  | { kind: 'message'; type: string; bytes: Buffer }
  | { kind: 'invalid'; reason: string }

/** Splits a client's byte stream into whole messages; a partial message waits for more bytes. */
export class FrontendReader {
  private buf: Buffer = Buffer.alloc(0)
  private started = false
  private failed = false

  /** Bytes received but not yet a whole message. */
  get buffered(): number {
    return this.buf.length
  }

  push(chunk: Buffer): FrontendMessage[] {
    if (this.failed) return []
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk
    const out: FrontendMessage[] = []
    for (;;) {
      const m = this.next()
      if (!m) break
      out.push(m)
      if (m.kind === 'invalid') {
        this.failed = true
        this.buf = Buffer.alloc(0)
        break
      }
    }
    return out
  }

  private next(): FrontendMessage | undefined {
    const buf = this.buf
    if (!this.started) {
      if (buf.length < 8) return undefined
      const len = buf.readInt32BE(0)
      if (len < 8 || len > MAX_STARTUP) return { kind: 'invalid', reason: 'invalid length of startup packet' }
      if (buf.length < len) return undefined
      const code = buf.readInt32BE(4)
      const bytes = buf.subarray(0, len)
      this.buf = buf.subarray(len)
      if (code === SSL_REQUEST && len === 8) return { kind: 'ssl' }
      if (code === GSSENC_REQUEST && len === 8) return { kind: 'gssenc' }
      if (code === CANCEL_REQUEST && len === 16) return { kind: 'cancel' }
      if (code === PROTOCOL_3) {
        this.started = true
        return { kind: 'startup', bytes: Buffer.from(bytes) }
      }
      return {
        kind: 'invalid',
        reason: `unsupported frontend protocol ${code >>> 16}.${code & 0xffff}: server supports 3.0`,
      }
    }
    if (buf.length < 5) return undefined
    const type = buf[0]!
    if (!FRONTEND_TYPES.has(type)) return { kind: 'invalid', reason: `invalid frontend message type ${type}` }
    const len = buf.readInt32BE(1)
    if (len < 4 || len > MAX_MESSAGE) return { kind: 'invalid', reason: `invalid message length ${len}` }
    if (buf.length < len + 1) return undefined
    const bytes = Buffer.from(buf.subarray(0, len + 1))
    this.buf = buf.subarray(len + 1)
    return { kind: 'message', type: String.fromCharCode(type), bytes }
  }
}

/**
 * Follows message boundaries in a backend byte stream (chunks may split messages anywhere) and
 * reports each ReadyForQuery's transaction status: `I` idle, `T` in a transaction, `E` failed one.
 */
export class BackendScanner {
  private header = Buffer.alloc(6)
  private headerLen = 0
  private skip = 0
  /** Status of the last ReadyForQuery seen, cleared by `expect()` when a message is sent. */
  status: 'I' | 'T' | 'E' | undefined

  /** A message was sent to the backend: until its ReadyForQuery, the session is not idle. */
  expect(): void {
    this.status = undefined
  }

  feed(chunk: Uint8Array): void {
    let i = 0
    while (i < chunk.length) {
      if (this.skip > 0) {
        const n = Math.min(this.skip, chunk.length - i)
        this.skip -= n
        i += n
        continue
      }
      this.header[this.headerLen++] = chunk[i++]!
      if (this.headerLen < 5) continue
      const type = this.header[0]
      const len = this.header.readInt32BE(1)
      if (type === 0x5a /* Z */) {
        if (this.headerLen < 6) continue
        this.status = String.fromCharCode(this.header[5]!) as 'I' | 'T' | 'E'
        this.skip = len - 5
      } else {
        this.skip = len - 4
      }
      this.headerLen = 0
    }
  }
}

function message(type: string, body: Buffer): Buffer {
  const out = Buffer.alloc(5 + body.length)
  out[0] = type.charCodeAt(0)
  out.writeInt32BE(4 + body.length, 1)
  body.copy(out, 5)
  return out
}

/** An ErrorResponse as Postgres sends it (fields S, V, C, M). */
export function errorResponse(severity: 'ERROR' | 'FATAL', code: string, text: string): Buffer {
  const field = (k: string, v: string) => Buffer.concat([Buffer.from(k), Buffer.from(v), Buffer.from([0])])
  return message(
    'E',
    Buffer.concat([
      field('S', severity),
      field('V', severity),
      field('C', code),
      field('M', text),
      Buffer.from([0]),
    ]),
  )
}

/** Sync: ends an extended-protocol batch; the backend answers with ReadyForQuery. */
export const SYNC = message('S', Buffer.alloc(0))
/** CopyFail: leaves COPY FROM STDIN if the backend is in it (ignored otherwise, per protocol). */
export const COPY_FAIL = message('f', Buffer.from('client went away\0'))

function cstring(buf: Buffer, at: number): [string, number] {
  const end = buf.indexOf(0, at)
  if (end < 0) throw new Error('unterminated string in message')
  return [buf.toString('utf8', at, end), end + 1]
}

/**
 * Prepared statement names are per Postgres session, and PGlite is one session shared by every
 * client: two clients both preparing `p1` (postgres.js does) would collide. Names are rewritten
 * to a per-client prefix in Parse, Bind, Describe and Close; the unnamed statement is left alone
 * (it lives only until the client's next Parse, and the client holds PGlite until it is idle).
 * Returns the message unchanged when it names no statement, and the statement touched, if any.
 */
export function renameStatement(
  msg: { type: string; bytes: Buffer },
  prefix: string,
): { bytes: Buffer; parsed?: string; closed?: string } {
  const { type, bytes } = msg
  const rewrite = (start: number, name: string, end: number) => {
    const renamed = Buffer.from(`${prefix}${name}\0`)
    const body = Buffer.concat([bytes.subarray(5, start), renamed, bytes.subarray(end)])
    return message(type, body)
  }
  if (type === 'P') {
    const [name, end] = cstring(bytes, 5)
    if (!name) return { bytes }
    return { bytes: rewrite(5, name, end), parsed: name }
  }
  if (type === 'B') {
    const [, portalEnd] = cstring(bytes, 5)
    const [name, end] = cstring(bytes, portalEnd)
    if (!name) return { bytes }
    return { bytes: rewrite(portalEnd, name, end) }
  }
  if ((type === 'D' || type === 'C') && bytes[5] === 0x53 /* S */) {
    const [name, end] = cstring(bytes, 6)
    if (!name) return { bytes }
    const out = rewrite(6, name, end)
    return type === 'C' ? { bytes: out, closed: name } : { bytes: out }
  }
  return { bytes }
}

/** A Close message for a prepared statement (already renamed). */
export function closeStatement(name: string): Buffer {
  return message('C', Buffer.concat([Buffer.from('S'), Buffer.from(`${name}\0`)]))
}
