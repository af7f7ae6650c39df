import type { IncomingMessage } from 'node:http'
import type { Context } from 'hono'
import type { z } from 'zod'
import type { ServiceName } from '../core/config.ts'
import type { WsPeer } from '../core/ws.ts'

// One module per effect, as toxiproxy's toxics: its fields (a zod schema) and its behaviour on
// each kind of target it can act on live in one file. Each behaviour wraps the downstream of an
// HTTP request (`proceed`) or a connection, so effects compose in installation order. The
// engine reads only these declarations: it never names an effect.

/**
 * What a fault can act on. A service's transport offers some of them (see transports.ts):
 * `http` a plain HTTP request; `upgrade` a WebSocket handshake (an HTTP request asking to
 * upgrade); `ws` an open WebSocket (at open and per client frame); `service` the whole
 * service, its listener closed while the fault is in force.
 *
 * A raw-TCP transport (a Postgres proxy) is added without naming an effect: `tcp` joins this
 * union, `Acts` gains `tcp?(conn, effect, fault)`, transports.ts lets `tcp` services offer it
 * (and says how messages name it), a wrapper beside ws.ts fires `registry.fire(service,
 * target, 'tcp')` per connection, and down/reset/hang/latency/slow-body declare a `tcp`
 * behaviour in their own files. Registry, validation, windows and the engine stay as they are.
 */
export type Target = 'http' | 'upgrade' | 'ws' | 'service'

/** The part of an installed fault an effect may read. */
export interface FaultRef {
  readonly id: string
  readonly fired: number
}

export interface HttpEffectContext {
  c: Context
  service: ServiceName
  fault: FaultRef
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

/** Acts on one HTTP request (plain or handshake): answer, delay, reshape, or cut it. */
export type HttpBehaviour<E> = (
  ctx: HttpEffectContext,
  effect: E,
  proceed: () => Promise<Response>,
) => Promise<Response>

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

// Behaviours are declared as methods: an effect module typed for its own effect is then one of
// the engine's `EffectModule` (method parameters compare bivariantly).
export interface Acts<E> {
  /** A plain HTTP request. */
  http?(ctx: HttpEffectContext, effect: E, proceed: () => Promise<Response>): Promise<Response>
  /** A WebSocket handshake. */
  upgrade?(ctx: HttpEffectContext, effect: E, proceed: () => Promise<Response>): Promise<Response>
  /** An open WebSocket: called when the fault fires (at open, or on a client frame). */
  ws?(conn: WsConnection, effect: E, fault: FaultRef): void
  /** The whole service: its listener is closed while the fault is in force (ECONNREFUSED). */
  service?: {
    /**
     * A request that reaches the app all the same (in-process msw, where there is no
     * listener to close, or a connection racing the close).
     */
    stray(ctx: HttpEffectContext, effect: E, proceed: () => Promise<Response>): Promise<Response>
  }
}

export interface EffectModule<E extends { type: string } = { type: string }> {
  readonly type: E['type']
  /** Its fields; `type` is a literal. schema.ts joins every module's schema into one union. */
  readonly schema: z.ZodType<E>
  /** What it can act on, and how. A fault whose service offers none of these is refused. */
  readonly acts: Acts<E>
  /** What it does, for validation messages ("trickles HTTP response bodies"). */
  readonly does: string
  /**
   * It only holds a request, then lets it through unchanged: the journal credits the next
   * effect that fired and decides the answer, if there is one.
   */
  readonly passesThrough?: boolean
}

/** Declares an effect module; its effect's type is inferred from its schema. */
export function defineEffect<S extends z.ZodType<{ type: string }>>(
  m: EffectModule<z.output<S>> & { readonly schema: S },
): EffectModule<z.output<S>> & { readonly schema: S } {
  return m
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
