import type { Logger } from '../core/logger.ts'
import type { WsPeer } from '../core/ws.ts'
import type { FaultPort, WsLink } from '../faults/engine.ts'
import {
  ClientFrameSchemas,
  type ClientFrameType,
  isClientFrameType,
  type ServerFrame,
  type WsErrorCode,
} from './contract.ts'
import { type ChannelRow, type ChatStore, codePoints, MAX_CONTENT_CHARS, type MessageRow } from './store.ts'

// The realtime side of chat-service, transport-neutral: a socket is a WsPeer (the Node
// server wraps `ws`; an msw ws.link adapter can wrap its client), and every socket goes
// through the fault engine's link, so HTTP and WS faults share one engine and one hub.
//
// Frames of one socket are handled in arrival order (a queue per socket), as a server
// reading one connection sequentially would.

export interface HubSession {
  userId: string
  email: string
  /** Raw session token (signature checked), for faults scoped to a session. */
  sessionToken?: string | undefined
}

export interface SocketMeta {
  path: string
  headers: Headers
}

/** What a transport feeds for one accepted socket. */
export interface ChatSocket {
  /** A client frame: text, or binary (which the service refuses with an error frame). */
  receive(data: string | ArrayBuffer | ArrayBufferView | Blob): void
  /** The transport closed (any reason); call once. */
  closed(code: number): void
}

interface Conn {
  readonly id: number
  readonly userId: string
  readonly link: WsLink
  /** `link.peer`, read once: a broadcast writes to every socket's. */
  readonly peer: WsPeer
  readonly channels: Set<string>
  /** Channels where this socket last said typing: true. */
  readonly typing: Set<string>
  /** False once closed or dropped by a scenario switch. */
  live: boolean
  disposed: boolean
  queue: Promise<void>
}

export interface HubDeps {
  faults: Pick<FaultPort, 'wsConnect'>
  logger: Logger
  /** The state this hub belongs to: one hub per chat state, never shared. */
  store: ChatStore
  /**
   * Replicated mode: hub events go through the world's log (chat/index.ts applies them on every
   * replica with `applyMessage`, `applyTyping`, `applyPresence`). Absent in one process.
   */
  relay?: HubRelay
}

/** A message as the log carries it: its instant decided once, by the replica that took it. */
export interface RelayedMessage {
  channel: string
  sender: string
  content: string
  at: number
}

export interface RelayedTyping {
  channel: string
  user: string
  typing: boolean
  /** The sending socket (not echoed to it on its own replica). */
  conn: number
}

export interface RelayedPresence {
  channel: string
  user: string
  online: boolean
}

export interface HubRelay {
  /**
   * The log entry that made this hub's state (a switch, reset or tenant creation; `start`
   * before any), the same on every replica: presence is counted per hub, so a join its
   * predecessor relays after the switch (it took the join first) never reaches it.
   */
  readonly epoch: string
  message(m: RelayedMessage): Promise<void>
  typing(t: RelayedTyping): void
  presence(p: RelayedPresence): void
}

type Frames = { [K in ClientFrameType]: ReturnType<(typeof ClientFrameSchemas)[K]['parse']> }

export class ChatHub {
  private readonly conns = new Set<Conn>()
  private readonly byChannel = new Map<string, Set<Conn>>()
  private nextId = 1
  /** Replicated mode: sockets joined on other replicas, by replica instance, channel and user. */
  private readonly remote = new Map<string, Map<string, Map<string, number>>>()
  /** Set once the state this hub belongs to is disposed: later sockets are closed at once. */
  private ended: { code: number; reason: string } | undefined

  constructor(private readonly deps: HubDeps) {}

  get size(): number {
    return this.conns.size
  }

  /** Replicated mode: the log entry that made this hub's state (see HubRelay.epoch). */
  get epoch(): string | undefined {
    return this.deps.relay?.epoch
  }

  /** Users with at least one socket joined to the channel, in order of joining. */
  online(channel: string): Set<string> {
    const users = new Set<string>()
    for (const c of this.byChannel.get(channel) ?? []) users.add(c.userId)
    for (const channels of this.remote.values())
      for (const [user, n] of channels.get(channel) ?? []) if (n > 0) users.add(user)
    return users
  }

  connect(peer: WsPeer, session: HubSession, meta: SocketMeta): ChatSocket {
    if (this.ended) {
      // Accepted by a state replaced while the handshake finished: the client reconnects into
      // the new one, as if the switch came a moment later.
      peer.close(this.ended.code, this.ended.reason)
      return { receive: () => {}, closed: () => {} }
    }
    this.deps.store.noteUser(session.userId)
    const link = this.deps.faults.wsConnect(
      'chat',
      {
        path: meta.path,
        headers: meta.headers,
        ...(session.sessionToken ? { sessionToken: session.sessionToken } : {}),
        userId: session.userId,
        userEmail: session.email,
      },
      peer,
    )
    const conn: Conn = {
      id: this.nextId++,
      userId: session.userId,
      link,
      peer: link.peer,
      channels: new Set(),
      typing: new Set(),
      live: true,
      disposed: false,
      queue: Promise.resolve(),
    }
    this.conns.add(conn)
    return {
      receive: (data) => this.receive(conn, data),
      closed: (code) => this.closed(conn, code),
    }
  }

  /** The state is gone (switch, reset, shutdown): every socket closes, later ones too. */
  end(code: number, reason: string): void {
    this.ended ??= { code, reason }
    this.disconnectAll(code, reason)
  }

  /** Scenario switch or shutdown: every socket is closed; nobody is told about presence. */
  disconnectAll(code: number, reason: string): void {
    for (const conn of this.conns) {
      conn.live = false
      conn.peer.close(code, reason)
    }
    this.conns.clear()
    this.byChannel.clear()
  }

  // ---- frames in ----

  private receive(conn: Conn, data: string | ArrayBuffer | ArrayBufferView | Blob): void {
    if (!conn.live) return
    if (typeof data !== 'string') {
      const bytes = data instanceof Blob ? data.size : data.byteLength
      this.after(conn, conn.link.inbound('invalid', `<binary frame, ${bytes} bytes>`), () =>
        this.fail(conn, 'binary_not_supported', 'Binary frames are not supported; send JSON text frames'),
      )
      return
    }
    let parsed: unknown
    let json = true
    try {
      parsed = JSON.parse(data)
    } catch {
      json = false
    }
    const typed = json && isRecord(parsed) && typeof parsed.type === 'string' && parsed.type !== ''
    const type = typed ? (parsed as { type: string }).type : 'invalid'
    // The fault engine sees every client frame first (journal, ws-silence, ws-drop on a type).
    // `typed` (not the word 'invalid') decides the error: a frame whose type really is
    // "invalid" is an unknown type, not a malformed frame.
    this.after(conn, conn.link.inbound(type, data), () =>
      this.handle(conn, json, typed ? type : undefined, parsed),
    )
  }

  /**
   * Handles a frame once the fault engine lets it through: at once (in one process), or once a
   * replicated mode's counted decision is in (a promise; decisions resolve in frame order).
   */
  private after(conn: Conn, pass: boolean | Promise<boolean>, task: () => void | Promise<void>): void {
    if (pass === true) this.enqueue(conn, task)
    else if (pass !== false) this.enqueue(conn, async () => ((await pass) ? task() : undefined))
  }

  private enqueue(conn: Conn, task: () => void | Promise<void>): void {
    conn.queue = conn.queue.then(task).catch((err: Error) => {
      this.deps.logger.error(
        { err: { message: err.message, stack: err.stack } },
        'chat frame handling failed',
      )
    })
  }

  private async handle(conn: Conn, json: boolean, type: string | undefined, parsed: unknown): Promise<void> {
    if (!conn.live) return
    if (!json) return this.fail(conn, 'invalid_json', 'Frame is not valid JSON')
    if (type === undefined) {
      return this.fail(conn, 'invalid_frame', 'A frame is a JSON object with a non-empty string "type"')
    }
    if (!isClientFrameType(type)) {
      return this.fail(
        conn,
        'unknown_type',
        `Unknown frame type "${type.slice(0, 100)}"; expected message, typing, join, leave or ping`,
      )
    }
    const result = ClientFrameSchemas[type].safeParse(parsed)
    if (!result.success) {
      const issue = result.error.issues[0]
      const where = issue?.path.length ? `"${issue.path.join('.')}" ` : ''
      return this.fail(
        conn,
        'invalid_frame',
        `Invalid ${type} frame: ${where}${issue?.message ?? 'bad shape'}`,
      )
    }
    switch (type) {
      case 'ping':
        return this.send(conn, { type: 'pong' })
      case 'join':
        return this.join(conn, (result.data as Frames['join']).channel)
      case 'leave':
        return this.leave(conn, (result.data as Frames['leave']).channel)
      case 'typing':
        return this.typing(conn, result.data as Frames['typing'])
      case 'message':
        return this.message(conn, result.data as Frames['message'])
    }
  }

  // ---- the frame types ----

  /** The channel if this user may use it; otherwise an error frame and undefined. */
  private allowed(conn: Conn, id: string): ChannelRow | undefined {
    const store = this.deps.store
    const channel = store.channel(id)
    if (!channel) {
      this.fail(conn, 'unknown_channel', `Unknown channel "${id.slice(0, 200)}"`)
      return undefined
    }
    if (!store.isMember(channel, conn.userId)) {
      this.fail(conn, 'forbidden_channel', `You are not a member of channel "${id}"`)
      return undefined
    }
    return channel
  }

  private joined(conn: Conn, id: string): boolean {
    if (!this.allowed(conn, id)) return false
    if (conn.channels.has(id)) return true
    this.fail(conn, 'not_joined', `Join channel "${id}" first: send {"type":"join","channel":"${id}"}`)
    return false
  }

  private join(conn: Conn, id: string): void {
    if (!this.allowed(conn, id)) return
    if (!conn.channels.has(id)) {
      const wasOnline = this.online(id).has(conn.userId)
      conn.channels.add(id)
      let sockets = this.byChannel.get(id)
      if (!sockets) {
        sockets = new Set()
        this.byChannel.set(id, sockets)
      }
      sockets.add(conn)
      // Others hear of a user once, when their first socket joins (not per tab).
      if (!wasOnline) this.broadcast(id, presence(conn.userId, true, id), conn)
      this.deps.relay?.presence({ channel: id, user: conn.userId, online: true })
    }
    // The joiner gets who is online now, itself included (a repeated join repeats this).
    for (const user of this.online(id)) this.send(conn, presence(user, true, id))
  }

  private leave(conn: Conn, id: string): void {
    if (!this.deps.store.channel(id)) {
      this.fail(conn, 'unknown_channel', `Unknown channel "${id.slice(0, 200)}"`)
    } else if (!conn.channels.has(id)) {
      this.fail(conn, 'not_joined', `You have not joined channel "${id}"`)
    } else {
      this.detach(conn, id)
    }
  }

  /** Takes a socket out of a channel; the user goes offline there when their last socket leaves. */
  private detach(conn: Conn, id: string): void {
    conn.channels.delete(id)
    const sockets = this.byChannel.get(id)
    sockets?.delete(conn)
    if (sockets?.size === 0) this.byChannel.delete(id)
    if (conn.typing.delete(id)) {
      this.broadcast(id, typingFrame(conn.userId, id, false))
      this.deps.relay?.typing({ channel: id, user: conn.userId, typing: false, conn: conn.id })
    }
    if (!this.online(id).has(conn.userId)) this.broadcast(id, presence(conn.userId, false, id))
    this.deps.relay?.presence({ channel: id, user: conn.userId, online: false })
  }

  private typing(conn: Conn, frame: Frames['typing']): void {
    if (!this.joined(conn, frame.channel)) return
    if (frame.typing) conn.typing.add(frame.channel)
    else conn.typing.delete(frame.channel)
    this.broadcast(frame.channel, typingFrame(conn.userId, frame.channel, frame.typing), conn)
    this.deps.relay?.typing({
      channel: frame.channel,
      user: conn.userId,
      typing: frame.typing,
      conn: conn.id,
    })
  }

  private async message(conn: Conn, frame: Frames['message']): Promise<void> {
    if (!frame.content.trim()) return this.fail(conn, 'empty_message', 'Message content is empty')
    const length = codePoints(frame.content)
    if (length > MAX_CONTENT_CHARS) {
      return this.fail(
        conn,
        'message_too_long',
        `Message content is ${length} characters; the limit is ${MAX_CONTENT_CHARS}`,
      )
    }
    if (!this.joined(conn, frame.channel)) return
    const { relay } = this.deps
    if (relay) {
      // Stored and broadcast when the log's entry is applied, on every replica (this one too).
      const m = { channel: frame.channel, sender: conn.userId, content: frame.content, at: Date.now() }
      return relay.message(m)
    }
    this.deliver(await this.deps.store.addMessage(frame.channel, conn.userId, frame.content))
  }

  // ---- replicated mode: the log's hub events, applied on every replica ----

  async applyMessage(m: RelayedMessage): Promise<void> {
    if (!this.deps.store.channel(m.channel)) return
    this.deliver(await this.deps.store.addMessage(m.channel, m.sender, m.content, m.at))
  }

  /** Typing on another replica (`mine`: this replica's own, already broadcast). */
  applyTyping(t: RelayedTyping, mine: boolean): void {
    if (!mine) this.broadcast(t.channel, typingFrame(t.user, t.channel, t.typing))
  }

  /** A socket joined or left on another replica: presence here follows. */
  applyPresence(p: RelayedPresence, mine: boolean, instance = ''): void {
    if (mine) return
    const before = this.online(p.channel).has(p.user)
    let channels = this.remote.get(instance)
    if (!channels) {
      channels = new Map()
      this.remote.set(instance, channels)
    }
    let users = channels.get(p.channel)
    if (!users) {
      users = new Map()
      channels.set(p.channel, users)
    }
    users.set(p.user, Math.max(0, (users.get(p.user) ?? 0) + (p.online ? 1 : -1)))
    const after = this.online(p.channel).has(p.user)
    if (before !== after) this.broadcast(p.channel, presence(p.user, after, p.channel))
  }

  /** A replica instance stopped heartbeating: its sockets' users go offline here (if nowhere else). */
  dropInstance(instance: string): void {
    const channels = this.remote.get(instance)
    if (!channels) return
    const before = new Map([...channels.keys()].map((ch) => [ch, this.online(ch)]))
    this.remote.delete(instance)
    for (const [ch, was] of before) {
      const now = this.online(ch)
      for (const user of was) if (!now.has(user)) this.broadcast(ch, presence(user, false, ch))
    }
  }

  private deliver(row: MessageRow): void {
    this.broadcast(row.channelId, {
      type: 'message',
      id: row.id,
      sender: row.senderId,
      content: row.content,
      channel: row.channelId,
      timestamp: row.createdAt,
    })
  }

  // ---- frames out ----

  private send(conn: Conn, frame: ServerFrame): void {
    if (conn.live) conn.peer.send(JSON.stringify(frame))
  }

  private fail(conn: Conn, code: WsErrorCode, message: string): void {
    this.send(conn, { type: 'error', code, message })
  }

  /** To every socket joined to the channel (in joining order), optionally but one. */
  private broadcast(channel: string, frame: ServerFrame, except?: Conn): void {
    const text = JSON.stringify(frame)
    const bytes = Buffer.from(text)
    for (const c of this.byChannel.get(channel) ?? []) {
      if (c !== except && c.live) c.peer.send(text, bytes)
    }
  }

  private closed(conn: Conn, code: number): void {
    if (conn.disposed) return
    conn.disposed = true
    if (conn.live) {
      conn.live = false
      for (const id of [...conn.channels]) this.detach(conn, id)
      this.conns.delete(conn)
    }
    conn.link.dispose(code)
  }
}

function presence(userId: string, online: boolean, channel: string): ServerFrame {
  return { type: 'presence', user_id: userId, online, channel }
}

function typingFrame(userId: string, channel: string, typing: boolean): ServerFrame {
  return { type: 'typing', user_id: userId, channel, typing }
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}
