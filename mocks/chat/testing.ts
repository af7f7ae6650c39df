import WebSocket, { type ClientOptions } from 'ws'
import { ChatMessageSchema } from '../../proto-contracts/gen/ts/devarno/events/v1/chat_pb.ts'
import { checkMessage } from '../core/contract.ts'
import type { WsPeer } from '../core/ws.ts'
import { restFromWsMessage, type ServerFrame, ServerFrameSchema } from './contract.ts'

// Test support (not used by the service): a real `ws` client that checks every frame it
// receives against the matrix's WS shapes (strict) and, for `message` frames, against the
// proto ChatMessage through the mapping table (sender→sender_id, channel→channel_id,
// timestamp→created_at).

/** Contract problems with one server frame (empty = valid). */
export function frameViolations(text: string): string[] {
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch {
    return [`frame is not JSON: ${text.slice(0, 100)}`]
  }
  const parsed = ServerFrameSchema.safeParse(json)
  if (!parsed.success) {
    return parsed.error.issues.map(
      (i) => `${i.path.join('.') || '(root)'}: ${i.message} in ${text.slice(0, 200)}`,
    )
  }
  if (parsed.data.type === 'message') {
    return checkMessage(ChatMessageSchema, restFromWsMessage(parsed.data)).map((p) => `as ChatMessage: ${p}`)
  }
  return []
}

export interface CloseInfo {
  code: number
  reason: string
}

export type FramePredicate = (frame: ServerFrame) => boolean

export class ChatTestClient {
  readonly frames: ServerFrame[] = []
  readonly violations: string[] = []
  readonly closed: Promise<CloseInfo>
  private readonly listeners = new Set<() => void>()

  private constructor(readonly raw: WebSocket) {
    raw.on('message', (data, isBinary) => {
      const text = isBinary ? `<binary ${(data as Buffer).length} bytes>` : String(data)
      const problems = isBinary ? ['server sent a binary frame'] : frameViolations(text)
      this.violations.push(...problems)
      if (!problems.length) this.frames.push(JSON.parse(text) as ServerFrame)
      for (const l of this.listeners) l()
    })
    this.closed = new Promise((resolve) => {
      raw.on('close', (code, reason) => {
        resolve({ code, reason: String(reason) })
        for (const l of this.listeners) l()
      })
    })
  }

  /** Opens a socket and resolves once it is open (rejects with the status if refused). */
  static open(url: string, options: ClientOptions = {}): Promise<ChatTestClient> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, options)
      const client = new ChatTestClient(ws)
      ws.once('open', () => resolve(client))
      ws.once('unexpected-response', (_req, res) => {
        res.resume()
        reject(new Error(`upgrade refused with HTTP ${res.statusCode}`))
      })
      ws.once('error', reject)
    })
  }

  /** The HTTP status a handshake gets: 101 when it opens (the socket is then closed). */
  static upgradeStatus(url: string, options: ClientOptions = {}): Promise<number> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, options)
      ws.once('open', () => {
        ws.close()
        resolve(101)
      })
      ws.once('unexpected-response', (_req, res) => {
        res.resume()
        resolve(res.statusCode ?? 0)
      })
      ws.on('error', reject)
    })
  }

  /** A handshake the server refuses: its status, content type and body as ws receives them. */
  static upgradeRefusal(
    url: string,
    options: ClientOptions = {},
  ): Promise<{ status: number; contentType: string | undefined; body: string }> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, options)
      ws.once('open', () => {
        ws.close()
        reject(new Error(`${url}: the handshake was accepted`))
      })
      ws.once('unexpected-response', (_req, res) => {
        const chunks: Buffer[] = []
        res.on('data', (c: Buffer) => chunks.push(c))
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            contentType: res.headers['content-type'],
            body: Buffer.concat(chunks).toString('utf8'),
          }),
        )
      })
      ws.on('error', reject)
    })
  }

  get isOpen(): boolean {
    return this.raw.readyState === WebSocket.OPEN
  }

  send(frame: unknown): void {
    this.raw.send(typeof frame === 'string' ? frame : JSON.stringify(frame))
  }

  /** How many frames have arrived: pass it to waitFor/since to look only at later ones. */
  mark(): number {
    return this.frames.length
  }

  since(mark: number): ServerFrame[] {
    return this.frames.slice(mark)
  }

  /** The first frame at index >= after matching the predicate, waiting up to timeoutMs for it. */
  waitFor(
    predicate: FramePredicate,
    opts: { after?: number; timeoutMs?: number } = {},
  ): Promise<ServerFrame> {
    const after = opts.after ?? 0
    return new Promise((resolve, reject) => {
      const check = () => {
        const found = this.frames.slice(after).find(predicate)
        if (found) {
          done()
          resolve(found)
        } else if (this.raw.readyState === WebSocket.CLOSED) {
          done()
          reject(
            new Error(`socket closed before the awaited frame; got ${JSON.stringify(this.since(after))}`),
          )
        }
      }
      const timer = setTimeout(() => {
        done()
        reject(
          new Error(
            `no matching frame within ${opts.timeoutMs ?? 2000} ms; got ${JSON.stringify(this.since(after))}`,
          ),
        )
      }, opts.timeoutMs ?? 2000)
      const done = () => {
        clearTimeout(timer)
        this.listeners.delete(check)
      }
      this.listeners.add(check)
      check()
    })
  }

  /**
   * A barrier: ping, then wait for the pong. Frames the server sent this socket before
   * handling the ping have arrived once it resolves (one socket's frames are ordered).
   */
  async sync(): Promise<void> {
    const m = this.mark()
    this.send({ type: 'ping' })
    await this.waitFor((f) => f.type === 'pong', { after: m })
  }

  async close(): Promise<CloseInfo> {
    if (this.raw.readyState === WebSocket.OPEN || this.raw.readyState === WebSocket.CONNECTING)
      this.raw.close()
    return this.closed
  }
}

/** A WsPeer that records what the hub writes, as an msw ws.link adapter would wrap its client. */
export class FakePeer implements WsPeer {
  readonly sent: string[] = []
  closedWith: number | undefined
  terminated = false
  autoPong = true
  private open = true
  send(text: string) {
    if (this.open) this.sent.push(text)
  }
  close(code = 1000) {
    this.closedWith = code
    this.open = false
  }
  terminate() {
    this.terminated = true
    this.open = false
  }
  setAutoPong(on: boolean) {
    this.autoPong = on
  }
  get isOpen() {
    return this.open
  }
  frames(): ServerFrame[] {
    const problems = this.sent.flatMap(frameViolations)
    if (problems.length) throw new Error(`frames break the contract: ${problems.join('; ')}`)
    return this.sent.map((t) => JSON.parse(t) as ServerFrame)
  }
  clear() {
    this.sent.length = 0
  }
}
