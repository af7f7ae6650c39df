import type { ServiceName } from '../core/config.ts'
import { effectModule } from './effects/index.ts'
import type { MatchTarget } from './match.ts'
import type { Compiled, FaultRegistry } from './registry.ts'
import type { Effect } from './schema.ts'
import type { TcpConnection } from './types.ts'

// Raw-TCP connections (the db proxy), beside ws.ts for WebSockets: the engine's side of them
// (the narrow TcpConnection that an effect's `tcp` behaviour shapes is in types.ts, which
// imports nothing of the engine). The engine fires the faults whose effect acts on `tcp`
// (windows, `times`, seeded probability, as for HTTP, cluster-wide in replicated mode); the proxy runs each one's behaviour with
// `actOnTcp`. Neither names an effect.

/**
 * When faults are asked about: `open` a new connection; `message` a client chunk on an
 * established one (so a reset or hang installed while a pool sits idle reaches its next query).
 */
export type TcpMoment = 'open' | 'message'

export type { ChunkStage, TcpConnection } from './types.ts'

/** A fault that fires on a TCP connection: what the proxy applies. */
export interface TcpFiring {
  id: string
  effect: Effect
  /** Seeded draw in [0, 1) for this fault. */
  random(): number
}

/**
 * Asks which faults fire on a service's connection now (a new connection, or a client write).
 * A promise in replicated mode when a fault counted across the cluster (`times`, probability)
 * matches (one Redis round trip); an array otherwise, and always in one process.
 */
export type TcpDecide = () => TcpFiring[] | Promise<TcpFiring[]>

const CONNECTION: MatchTarget = { kind: 'http', method: 'TCP', path: '', headers: { get: () => null } }

/** The engine's side: faults for `service` that act on TCP connections, counted and drawn. */
export function tcpDecide(deps: { registry: FaultRegistry }, service: ServiceName): TcpDecide {
  // Faults on a TCP service take no match (validation.ts), so the target is only a placeholder.
  const firings = (fired: Compiled[]) =>
    fired.map((c) => ({
      id: c.fault.id,
      effect: c.fault.spec.effect,
      random: () => deps.registry.random(c.fault),
    }))
  return () => {
    const fired = deps.registry.fireCounted(service, CONNECTION, 'tcp')
    // A count that fails (Redis closing) fires nothing: the connection goes on unfaulted.
    return Array.isArray(fired) ? firings(fired) : fired.then(firings, () => [])
  }
}

/** Runs a fired fault's TCP behaviour on the connection; false when its effect has none. */
export function actOnTcp(conn: TcpConnection, firing: TcpFiring): boolean {
  const tcp = effectModule(firing.effect.type).acts.tcp
  if (!tcp) return false
  tcp(conn, firing.effect)
  return true
}
