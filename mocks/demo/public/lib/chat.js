// The chat connection the matrix asks for ("chat-service Unavailable"): WebSocket first; when
// it fails, reconnect after 1 s, 2 s, 4 s (+ up to 20 % jitter); after that, poll REST history
// with exponential backoff (and try the WebSocket again every 30 s). A rejected session stops
// everything and asks the user to sign in again. History is (re)loaded on every connect, so
// messages missed while disconnected show up.

// `?behavior=current` (lib/behavior.js): today's family-hub instead: polling every 3 s whatever
// fails, a failed history load retried in 3 s, and no session check after a failed WebSocket
// (a 401 upgrade is retried like any other failure).

import { backoffDelay, sleep } from './backoff.js'
import { CURRENT, CURRENT_POLL_MS } from './behavior.js'
import { call, describeOutcome } from './http.js'

export const WS_BACKOFF = { baseMs: 1000 }
/** Reconnects before falling back to polling (1 s, 2 s, 4 s). */
export const WS_RETRIES = 3
/** Polling: every 2 s while it works; 4, 8, 16 ... 30 s after consecutive failures. */
export const POLL = { baseMs: 2000, capMs: 30_000 }
export const WS_PROBE_MS = 30_000
/** A connection open this long resets the backoff (a socket cut after 2 s is not "recovered"). */
export const STABLE_MS = 10_000
export const PING_MS = 10_000
export const PONG_TIMEOUT_MS = 5000
/** History retries while connected: 1, 2, 4 ... 30 s. */
export const HISTORY_RETRY = { baseMs: 1000, capMs: 30_000 }
export const REST_TIMEOUT_MS = 10_000
export const TYPING_IDLE_MS = 3000

/**
 * @typedef {{ name: 'connecting' | 'connected' | 'reconnecting' | 'polling' | 'offline' | 'signed-out' | 'stopped',
 *   attempt?: number, nominalMs?: number, until?: number, probeAt?: number, reason?: string }} ChatState
 */

export class ChatClient extends EventTarget {
  /**
   * @param {{ chatUrl: string, channel: string,
   *   getToken: () => Promise<{ token?: string, signedOut?: boolean, error?: string }>,
   *   checkSession: () => Promise<'ok' | 'signed-out' | 'unknown'>,
   *   log: (text: string, level?: 'info' | 'warn' | 'error') => void }} opts
   */
  constructor(opts) {
    super()
    this.opts = opts
    this.channel = opts.channel
    /** @type {ChatState} */
    this.state = { name: 'connecting' }
    /** @type {Map<string, { id: string, sender: string, content: string, channel: string, at: string }>} */
    this.messages = new Map()
    /** @type {Map<string, boolean>} user id → online, for the current channel */
    this.presence = new Map()
    /** @type {Set<string> | null} users a presence frame updated while the REST list was in flight */
    this.presenceSince = null
    /** @type {Set<string>} users typing in the current channel */
    this.typing = new Set()
    /** @type {{ status: 'idle' | 'loading' | 'ok' | 'error', text?: string, retryAt?: number }} */
    this.history = { status: 'idle' }
    this.mode = 'ws' // 'ws' | 'polling' | 'signed-out' | 'stopped'
    this.failures = 0
    this.pollFailures = 0
    this.ws = null
    this.timers = {}
    this.historyGen = 0
    this.historyWake = null
    this.typingSent = false
    this.probeAt = 0
  }

  start() {
    this.mode = 'ws'
    this.failures = 0
    void this.connect(false)
  }

  stop() {
    this.mode = 'stopped'
    this.clearTimers()
    this.historyGen++
    this.dropSocket()
    this.setState({ name: 'stopped' })
  }

  get connected() {
    return this.state.name === 'connected' && this.ws?.readyState === WebSocket.OPEN
  }

  // ---- connection ----

  async connect(probe) {
    if (this.mode === 'stopped' || this.mode === 'signed-out') return
    if (!probe) this.setState({ name: 'connecting', attempt: this.failures })
    const t = await this.opts.getToken()
    if (this.mode === 'stopped' || this.mode === 'signed-out') return
    if (t.signedOut) return this.signedOut('no session: sign in')
    if (!t.token) {
      this.opts.log(`could not get a WebSocket token (${t.error ?? 'unknown error'})`, 'warn')
      return this.onClose(false, 0, probe)
    }
    const base = this.opts.chatUrl.replace(/^http/, 'ws')
    const ws = new WebSocket(`${base}/ws?token=${encodeURIComponent(t.token)}`)
    this.ws = ws
    let opened = false
    ws.onopen = () => {
      opened = true
      this.onOpen(ws)
    }
    ws.onmessage = (ev) => {
      if (this.ws === ws) this.onFrame(ev.data)
    }
    ws.onclose = (ev) => {
      if (this.ws !== ws) return
      this.ws = null
      this.onClose(opened, ev.code, probe)
    }
  }

  onOpen(ws) {
    if (this.mode === 'polling') this.opts.log('WebSocket is back: polling stops')
    this.mode = 'ws'
    this.clearTimer('poll')
    this.clearTimer('probe')
    this.setState({ name: 'connected' })
    this.opts.log(`connected; joining #${this.channel}`)
    this.presence.clear()
    this.typing.clear()
    ws.send(JSON.stringify({ type: 'join', channel: this.channel }))
    this.later(
      'stable',
      () => {
        this.failures = 0
      },
      STABLE_MS,
    )
    this.schedulePing()
    void this.loadHistory().then((ok) => ok && this.loadPresence())
  }

  onClose(opened, code, probe) {
    this.clearTimer('stable')
    this.clearTimer('ping')
    this.clearTimer('pong')
    this.typingSent = false
    this.historyGen++
    if (this.mode === 'stopped' || this.mode === 'signed-out') return
    this.opts.log(opened ? `WebSocket closed (code ${code})` : 'WebSocket connection failed', 'warn')
    if (probe && !opened) {
      // A failed try from polling mode: keep polling, try again later.
      this.scheduleProbe()
      this.setState({ ...this.state, probeAt: this.probeAt })
      return
    }
    this.failures++
    // The browser hides the handshake's status: ask our own session endpoint whether a 401
    // was the reason (then stop), while the reconnect timer already runs. (Today's family-hub
    // does not: it keeps reconnecting.)
    if (!CURRENT) void this.verifySession()
    if (this.failures <= WS_RETRIES) {
      const { nominalMs, delayMs } = backoffDelay(this.failures, WS_BACKOFF)
      this.setState({ name: 'reconnecting', attempt: this.failures, nominalMs, until: Date.now() + delayMs })
      this.opts.log(`reconnecting in ${delayMs} ms (attempt ${this.failures} of ${WS_RETRIES})`)
      this.later('retry', () => this.connect(false), delayMs)
    } else {
      this.startPolling()
    }
  }

  async verifySession() {
    const verdict = await this.opts.checkSession()
    if (verdict === 'signed-out') this.signedOut('the session was rejected')
  }

  signedOut(reason) {
    if (this.mode === 'signed-out' || this.mode === 'stopped') return
    this.mode = 'signed-out'
    this.clearTimers()
    this.historyGen++
    this.dropSocket()
    this.opts.log(`signed out: ${reason}; no more reconnects`, 'warn')
    this.setState({ name: 'signed-out', reason })
  }

  dropSocket() {
    const ws = this.ws
    this.ws = null
    if (ws) {
      ws.onclose = null
      ws.onmessage = null
      ws.close()
    }
  }

  // ---- polling fallback ----

  startPolling() {
    this.mode = 'polling'
    this.pollFailures = 0
    this.opts.log(`WebSocket failed ${this.failures} times: polling history instead`, 'warn')
    this.scheduleProbe()
    void this.poll()
  }

  scheduleProbe() {
    this.probeAt = Date.now() + WS_PROBE_MS
    this.later('probe', () => this.connect(true), WS_PROBE_MS)
  }

  async poll() {
    const r = await this.fetchHistory()
    if (this.mode !== 'polling') return
    if (r.kind === 'ok') {
      this.pollFailures = 0
      this.mergeRest(r.data)
      this.setHistory({ status: 'ok', text: `history by polling (${r.data.length} messages)` })
    } else {
      this.pollFailures++
      this.setHistory({ status: 'error', text: `message history unavailable — ${describeOutcome(r)}` })
      this.opts.log(`poll failed: ${describeOutcome(r)}`, 'error')
      if (r.kind === 'http' && r.status === 401 && !CURRENT) void this.verifySession()
    }
    const { nominalMs, delayMs } = CURRENT
      ? { nominalMs: CURRENT_POLL_MS, delayMs: CURRENT_POLL_MS }
      : backoffDelay(this.pollFailures + 1, POLL)
    this.setState({
      name: r.kind === 'ok' ? 'polling' : 'offline',
      nominalMs,
      until: Date.now() + delayMs,
      probeAt: this.probeAt,
      reason: r.kind === 'ok' ? undefined : describeOutcome(r),
    })
    this.later('poll', () => this.poll(), delayMs)
  }

  // ---- history and presence (REST) ----

  fetchHistory() {
    const url = `${this.opts.chatUrl}/api/v1/messages?channel=${encodeURIComponent(this.channel)}&limit=50`
    return call(url, { credentials: 'include', timeoutMs: REST_TIMEOUT_MS })
  }

  /** Loads history while connected, retrying 5xx and network errors with backoff. */
  async loadHistory() {
    const gen = ++this.historyGen
    for (let attempt = 1; ; attempt++) {
      this.setHistory({ status: 'loading' })
      const r = await this.fetchHistory()
      if (gen !== this.historyGen) return false
      if (r.kind === 'ok') {
        this.mergeRest(r.data)
        this.setHistory({ status: 'ok', text: `history loaded (${r.data.length} messages)` })
        return true
      }
      this.opts.log(`history: ${describeOutcome(r)}`, 'error')
      if (r.kind === 'http' && r.status === 401 && !CURRENT) {
        void this.verifySession()
        return false
      }
      if (r.kind === 'http' && r.status < 500 && r.status !== 429 && !CURRENT) {
        this.setHistory({ status: 'error', text: `message history unavailable — ${describeOutcome(r)}` })
        return false
      }
      const { delayMs } = CURRENT ? { delayMs: CURRENT_POLL_MS } : backoffDelay(attempt, HISTORY_RETRY)
      this.setHistory({
        status: 'error',
        text: `message history unavailable — ${describeOutcome(r)}`,
        retryAt: Date.now() + delayMs,
      })
      const wake = new AbortController()
      this.historyWake = wake
      await sleep(delayMs, wake.signal).catch(() => undefined)
      if (gen !== this.historyGen) return false
    }
  }

  /** The "Retry now" button: skip the rest of the current wait. */
  retryHistoryNow() {
    this.historyWake?.abort()
  }

  async loadPresence() {
    const url = `${this.opts.chatUrl}/api/v1/presence?channel=${encodeURIComponent(this.channel)}`
    // The list is a snapshot from when the server answered: a presence frame that arrives
    // while it is in flight is newer, and the snapshot must not undo it.
    const since = new Set()
    this.presenceSince = since
    const r = await call(url, { credentials: 'include', timeoutMs: REST_TIMEOUT_MS })
    if (this.presenceSince === since) this.presenceSince = null
    if (r.kind !== 'ok' || !Array.isArray(r.data)) {
      this.opts.log(`presence: ${describeOutcome(r)}`, 'warn')
      return
    }
    for (const p of r.data) if (!since.has(p.user_id)) this.presence.set(p.user_id, Boolean(p.online))
    this.emit('presence')
  }

  mergeRest(rows) {
    if (!Array.isArray(rows)) return
    for (const m of rows)
      this.messages.set(m.id, {
        id: m.id,
        sender: m.sender_id,
        content: m.content,
        channel: m.channel_id,
        at: m.created_at,
      })
    this.emit('messages')
  }

  // ---- frames ----

  onFrame(data) {
    let f
    try {
      f = JSON.parse(String(data))
    } catch {
      this.opts.log('ignored a frame that is not JSON', 'warn')
      return
    }
    switch (f.type) {
      case 'message':
        this.messages.set(f.id, {
          id: f.id,
          sender: f.sender,
          content: f.content,
          channel: f.channel,
          at: f.timestamp,
        })
        this.typing.delete(f.sender)
        this.emit('messages')
        this.emit('typing')
        break
      case 'presence':
        if (f.channel !== this.channel) break
        this.presence.set(f.user_id, Boolean(f.online))
        this.presenceSince?.add(f.user_id)
        if (!f.online) this.typing.delete(f.user_id)
        this.emit('presence')
        this.emit('typing')
        break
      case 'typing':
        if (f.channel !== this.channel) break
        if (f.typing) this.typing.add(f.user_id)
        else this.typing.delete(f.user_id)
        this.emit('typing')
        break
      case 'pong':
        this.clearTimer('pong')
        break
      case 'error':
        this.opts.log(`chat error ${f.code}: ${f.message}`, 'warn')
        this.dispatchEvent(new CustomEvent('notice', { detail: `${f.message} (${f.code})` }))
        break
      default:
        this.opts.log(`ignored frame type ${f.type}`, 'warn')
    }
  }

  schedulePing() {
    this.later(
      'ping',
      () => {
        if (!this.connected) return
        this.ws.send(JSON.stringify({ type: 'ping' }))
        this.later('pong', () => this.onPongTimeout(), PONG_TIMEOUT_MS)
        this.schedulePing()
      },
      PING_MS,
    )
  }

  /** No pong: the socket is half-open (no close will ever come), so give it up ourselves. */
  onPongTimeout() {
    this.opts.log(`no pong within ${PONG_TIMEOUT_MS / 1000} s: connection is dead`, 'warn')
    this.dropSocket()
    this.onClose(true, 'no pong', false)
  }

  // ---- sending ----

  send(content) {
    if (!this.connected) return false
    this.setTyping(false)
    this.ws.send(JSON.stringify({ type: 'message', content, channel: this.channel }))
    return true
  }

  /** Called on every keystroke: sends typing:true once, typing:false after 3 s idle. */
  setTyping(active) {
    if (!this.connected) return
    if (active) {
      if (!this.typingSent)
        this.ws.send(JSON.stringify({ type: 'typing', channel: this.channel, typing: true }))
      this.typingSent = true
      this.later('typing', () => this.setTyping(false), TYPING_IDLE_MS)
    } else if (this.typingSent) {
      this.clearTimer('typing')
      this.typingSent = false
      this.ws.send(JSON.stringify({ type: 'typing', channel: this.channel, typing: false }))
    }
  }

  switchChannel(channel) {
    if (channel === this.channel) return
    if (this.connected) {
      this.setTyping(false)
      this.ws.send(JSON.stringify({ type: 'leave', channel: this.channel }))
      this.ws.send(JSON.stringify({ type: 'join', channel }))
    }
    this.channel = channel
    this.presence.clear()
    this.typing.clear()
    this.emit('messages')
    this.emit('presence')
    this.emit('typing')
    if (this.connected) void this.loadHistory().then((ok) => ok && this.loadPresence())
  }

  // ---- plumbing ----

  setState(state) {
    this.state = state
    this.emit('state')
  }

  setHistory(history) {
    this.history = history
    this.emit('history')
  }

  emit(type) {
    this.dispatchEvent(new Event(type))
  }

  later(name, fn, ms) {
    this.clearTimer(name)
    this.timers[name] = setTimeout(() => {
      delete this.timers[name]
      fn()
    }, ms)
  }

  clearTimer(name) {
    if (this.timers[name] !== undefined) clearTimeout(this.timers[name])
    delete this.timers[name]
  }

  clearTimers() {
    for (const name of Object.keys(this.timers)) this.clearTimer(name)
  }
}
