import type { Socket } from 'node:net'
import type { Effect } from '../faults/schema.ts'
import { sleep } from '../faults/types.ts'

// What each fault effect does to a TCP connection, behind a narrow interface (`TcpConnection`),
// so each behaviour can move into its effect module once effects declare their transports: the
// proxy knows no effect by name, it asks a decision function which faults fire and runs these.

/**
 * One stage of a direction's pipeline: passes the chunk (or slices of it, or nothing) to `next`,
 * when it sees fit. A chunk goes through every stage before the next chunk starts.
 */
export type ChunkStage = (
  chunk: Buffer,
  arrivedAt: number,
  signal: AbortSignal,
  next: (chunk: Buffer) => Promise<void>,
) => Promise<void>

/**
 * When a fault is asked about: `open` a new connection; `message` a client chunk on an
 * established one (so a reset or hang installed while a pool sits idle reaches its next query).
 */
export type TcpMoment = 'open' | 'message'

export interface TcpConnection {
  readonly id: number
  /** The client's socket. */
  readonly client: Socket
  /** The upstream socket once connected (never, while held). */
  readonly upstream: Socket | undefined
  /** Adds a stage to the server-to-client pipeline (stages run in order, chunks in order). */
  toClient(stage: ChunkStage): void
  /** Adds a stage to the client-to-server pipeline. */
  toServer(stage: ChunkStage): void
  /** Accept, never answer: no upstream, the client's bytes are swallowed until it leaves. */
  hold(): void
  /** End the connection now: `reset` sends RST (ECONNRESET), `close` a FIN. */
  cut(how: 'reset' | 'close'): void
  /** Aborted when the connection ends or a reset/scenario switch cuts held connections. */
  readonly signal: AbortSignal
  /** Seeded draw in [0, 1) for this fault (jitter). */
  random(): number
}

export interface TcpBehaviour<T extends Effect['type'] = Effect['type']> {
  /** The moments at which this effect acts. */
  readonly moments: readonly TcpMoment[]
  apply(conn: TcpConnection, effect: Extract<Effect, { type: T }>): void
}

/** Connections are cut with RST: new ones at once, established ones at their next message. */
const reset: TcpBehaviour<'reset'> = {
  moments: ['open', 'message'],
  apply(conn) {
    conn.cut('reset')
  },
}

/** Accepts and never answers (a client without a timeout waits forever). */
const hang: TcpBehaviour<'hang'> = {
  moments: ['open', 'message'],
  apply(conn) {
    conn.hold()
  },
}

/**
 * The listener is closed by the service controls (ECONNREFUSED); a connection racing the close
 * is closed without a byte.
 */
const down: TcpBehaviour<'down'> = {
  moments: ['open'],
  apply(conn) {
    conn.cut('close')
  },
}

/**
 * Per packet: decided at the connection and again at each query, every chunk towards the client leaves `ms` (+ jitter) after it arrived from the
 * server, never earlier. Chunks keep their order; delays do not add up across pipelined chunks.
 * The startup handshake is delayed too, so connecting is slowed as well.
 */
const latency: TcpBehaviour<'latency'> = {
  moments: ['open', 'message'],
  apply(conn, effect) {
    conn.toClient(async (chunk, arrivedAt, signal, next) => {
      const delay = effect.ms + Math.floor(conn.random() * (effect.jitterMs + 1))
      const left = arrivedAt + delay - performance.now()
      if (left > 0 && !(await sleep(left, signal))) return
      await next(chunk)
    })
  },
}

/** Bandwidth: bytes towards the client at `bytesPerSecond`, in slices of a tenth of a second. */
const slowBody: TcpBehaviour<'slow-body'> = {
  moments: ['open', 'message'],
  apply(conn, effect) {
    const slice = Math.max(1, Math.floor(effect.bytesPerSecond / 10))
    // When the line is next free: a burst after an idle spell does not go out at once.
    let free = 0
    conn.toClient(async (chunk, _arrivedAt, signal, next) => {
      for (let at = 0; at < chunk.length; at += slice) {
        const part = chunk.subarray(at, at + slice)
        free = Math.max(free, performance.now()) + (part.length / effect.bytesPerSecond) * 1000
        const left = free - performance.now()
        if (left > 0 && !(await sleep(left, signal))) return
        await next(part)
      }
    })
  },
}

const BEHAVIOURS: Partial<{ [T in Effect['type']]: TcpBehaviour<T> }> = {
  reset,
  hang,
  down,
  latency,
  'slow-body': slowBody,
}

/** The TCP behaviour of an effect, or undefined when it has none (HTTP- or WS-only effects). */
export function tcpBehaviour(type: Effect['type']): TcpBehaviour | undefined {
  return BEHAVIOURS[type] as TcpBehaviour | undefined
}
