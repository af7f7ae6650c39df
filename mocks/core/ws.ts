import type { WebSocket } from 'ws'

// The transport-neutral socket the chat hub writes to. The Node server (ws) and the msw
// adapter (ws.link) both produce one, so there is one hub and one fault path for both.

export interface WsPeer {
  /**
   * Send a text frame. `bytes`, when given, is `text` already UTF-8 encoded: a broadcast
   * encodes once for every socket instead of once per socket (a peer may ignore it).
   */
  send(text: string, bytes?: Buffer): void
  /** Close with a close frame. */
  close(code?: number, reason?: string): void
  /** Cut the connection with no close frame: the client sees 1006. */
  terminate(): void
  /** Whether pings are answered (ws-silence turns this off: a half-open socket). */
  setAutoPong(on: boolean): void
  readonly isOpen: boolean
}

/** Send options for a Buffer that is a text frame: one object, not one per frame of a fan-out. */
const TEXT_FRAME = Object.freeze({ binary: false })

/** Wraps a `ws` socket. The server is created with autoPong off so silence can really be silent. */
export function nodePeer(ws: WebSocket): WsPeer {
  return new NodePeer(ws)
}

// A class, not an object literal with a getter (a dictionary-mode object): a broadcast reads
// every socket's peer.
class NodePeer implements WsPeer {
  private autoPong = true

  constructor(private readonly ws: WebSocket) {
    ws.on('ping', (data) => {
      if (this.autoPong && ws.readyState === ws.OPEN) ws.pong(data)
    })
  }

  send(text: string, bytes?: Buffer): void {
    const ws = this.ws
    if (ws.readyState !== ws.OPEN) return
    // A Buffer is written as it is (ws never changes a Buffer it is given): still a text frame.
    if (bytes) ws.send(bytes, TEXT_FRAME)
    else ws.send(text)
  }

  close(code = 1000, reason = ''): void {
    const ws = this.ws
    if (ws.readyState === ws.OPEN || ws.readyState === ws.CONNECTING) ws.close(code, reason)
  }

  terminate(): void {
    this.ws.terminate()
  }

  setAutoPong(on: boolean): void {
    this.autoPong = on
  }

  get isOpen(): boolean {
    return this.ws.readyState === this.ws.OPEN
  }
}
