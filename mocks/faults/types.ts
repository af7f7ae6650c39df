import type { IncomingMessage } from 'node:http'
import type { Context } from 'hono'
import type { ServiceName } from '../core/config.ts'
import type { WsPeer } from '../core/ws.ts'
import type { Effect, EffectType, Fault } from './schema.ts'

// One module per effect, as toxiproxy's toxics: each wraps the downstream of an HTTP request
// (`proceed`) or a WebSocket connection, so effects compose in installation order.

export interface ActiveFault {
  id: string
  spec: Fault
  /** Where it came from: the scenario in force, or added at runtime (API, CLI, fixture). */
  source: 'scenario' | 'runtime'
  installedAt: number
  fired: number
  /** Probability draws made so far (the index of the next seeded draw). */
  draws: number
}

export interface HttpEffectContext {
  c: Context
  service: ServiceName
  fault: ActiveFault
  /** Seeded draw in [0, 1) for this fault (jitter). */
  random(): number
  /** Aborted when the client goes away. */
  signal: AbortSignal
  /**
   * Aborted by a reset or scenario switch: a request still held by a fault then (latency,
   * hang) is cut, never reaching the fakes' new state. A suite's next test must not see the
   * last test's upload arrive.
   */
  cut: AbortSignal
  isUpgrade: boolean
  /** The service's own error body for a bare status (its envelope), as the host gives it. */
  errorBody(status: number): unknown
}

export interface WsConnection {
  service: ServiceName
  /** The real socket. */
  raw: WsPeer
  /** Frames from the server pass through here; effects may hold or swallow them. */
  outbound: (text: string) => boolean
  /** Client frames pass through here; false drops them. */
  inbound: (type: string) => boolean
  onServerFrame(listener: () => void): void
  onClose(listener: () => void): void
  setTimer(fn: () => void, ms: number): void
}

export interface EffectModule<T extends EffectType = EffectType> {
  readonly type: T
  /**
   * What it acts on: `request` any HTTP request including a WS handshake; `http` plain requests
   * only; `upgrade` the handshake only; `connection` an open WS; `service` the whole listener.
   */
  readonly scope: 'request' | 'http' | 'upgrade' | 'connection' | 'service'
  http?(
    ctx: HttpEffectContext,
    effect: Extract<Effect, { type: T }>,
    proceed: () => Promise<Response>,
  ): Promise<Response>
  ws?(conn: WsConnection, effect: Extract<Effect, { type: T }>, fault: ActiveFault): void
}

/** Resolves after `ms`, or early (with false) when the signal aborts. Never resolves early otherwise. */
export function sleep(ms: number, signal?: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve(false)
    const started = performance.now()
    let immediate: ReturnType<typeof setImmediate> | undefined
    const onAbort = () => {
      clearTimeout(timer)
      if (immediate) clearImmediate(immediate)
      resolve(false)
    }
    const tick = () => {
      // setTimeout counts whole ms on a cached loop clock, so it may fire a hair early; a
      // latency fault must never be early. The last part (under 1 ms) is waited with
      // setImmediate rather than another setTimeout, which would add a whole ms or more.
      const left = ms - (performance.now() - started)
      if (left >= 1) {
        timer = setTimeout(tick, Math.floor(left))
        return
      }
      if (left > 0) {
        immediate = setImmediate(tick)
        return
      }
      signal?.removeEventListener('abort', onAbort)
      resolve(true)
    }
    let timer = setTimeout(tick, ms)
    signal?.addEventListener('abort', onAbort, { once: true })
  })
}

/**
 * Ends the request with no HTTP answer: a TCP RST on Node (the client sees ECONNRESET; a plain
 * destroy() sends FIN), a network error in-process (msw), the closest a fetch can see.
 */
export function cutConnection(ctx: HttpEffectContext): Response {
  const incoming = (ctx.c.env as { incoming?: IncomingMessage } | undefined)?.incoming
  if (!incoming) return Response.error()
  const socket = incoming.socket as IncomingMessage['socket'] & { resetAndDestroy?: () => void }
  if (typeof socket.resetAndDestroy === 'function') socket.resetAndDestroy()
  else socket.destroy()
  return new Response(null, { status: 499 })
}
