import { setMaxListeners } from 'node:events'
import type { MiddlewareHandler } from 'hono'
import type { ServiceName } from '../core/config.ts'
import type { Journal } from '../core/journal.ts'
import type { Logger } from '../core/logger.ts'
import type { WsPeer } from '../core/ws.ts'
import { SwitchGate } from './gate.ts'
import { faultPipeline } from './http.ts'
import { type Identify, type Identity, SessionDirectory } from './identity.ts'
import { journaled } from './journaling.ts'
import { type ClusterCounters, FaultRegistry, type FaultView } from './registry.ts'
import type { Fault } from './schema.ts'
import { type TcpDecide, tcpDecide } from './tcp.ts'
import type { ServiceTransports } from './transports.ts'
import { type FaultIssue, FaultValidationError, parseFault, scenarioFaultIssues } from './validation.ts'
import { OutageWindows, type ServiceControls } from './windows.ts'
import { type WsLink, type WsMeta, wrapSocket } from './ws.ts'

// One engine for every fake and every transport, assembled from one module per job: the
// registry of faults (registry.ts, with its path index), validation (validation.ts), outage
// windows and listeners (windows.ts), the switch gate (gate.ts), the HTTP pipeline (http.ts)
// with journaling around it (journaling.ts), the WebSocket wrapper (ws.ts) and the raw-TCP
// decision (tcp.ts). It names no
// service and no effect: the host says which services exist and how to identify and answer for
// them; effect modules say what they act on.

export type { Identify, IdentifyRequest, Identity } from './identity.ts'
export type { ClusterCounters, FaultView } from './registry.ts'
export type { ChunkStage, TcpConnection, TcpDecide, TcpFiring, TcpMoment } from './tcp.ts'
export type { ServiceTransports } from './transports.ts'
export { type FaultIssue, FaultValidationError } from './validation.ts'
export type { ServiceControls } from './windows.ts'
export type { WsLink, WsMeta } from './ws.ts'

/** What the engine must be told rather than import: the services and their conventions. */
export interface FaultHost {
  /** Every service by name, with its transport: which effects can act on it. */
  services: ServiceTransports
  /** Which session a request carries, for faults scoped to a user or session. */
  identify: Identify
  /** The service's own error body for a bare status (the `status` effect's default body). */
  errorBody(service: ServiceName, status: number): unknown
}

export interface FaultEngineOptions extends FaultHost {
  journal: Journal
  logger: Logger
  /**
   * Told of every session token the engine learns or forgets (seeded, signed in, signed out):
   * the tenancy layer maps tokens to the tenant whose engine holds them.
   */
  onSession?: (token: string, identity: Identity | undefined) => void
  /** Replicated mode: cluster-wide `times` and probability counters (see FaultRegistry). */
  cluster?: ClusterCounters
}

/**
 * What a fake uses of the fault engine. A single-world engine is one; the tenancy layer's router
 * is another that hands each request and each tenant's state to that tenant's engine.
 */
export interface FaultPort {
  /** The middleware for a service's HTTP requests (mounted by createFakeApp). */
  http(service: ServiceName): MiddlewareHandler
  /** Wraps an open WebSocket (see FaultEngine.wsConnect). */
  wsConnect(service: ServiceName, meta: WsMeta, peer: WsPeer): WsLink
  /** For a raw-TCP service (see FaultEngine.tcp). */
  tcp(service: ServiceName): TcpDecide
  /** The raw token of a signed cookie value (Cookie header, else `?token=`), or undefined. */
  tokenFrom(cookieHeader: string | undefined | null, queryToken?: string | null): string | undefined
  registerSession(token: string, identity: Identity): void
  forgetSession(token: string): void
  /** The journal the port records to (a TCP service's connections). */
  readonly journal: Journal
  /** The port serving one tenant's state (a single-world engine serves every tenant itself). */
  forTenant(tenant: string): FaultPort
}

export class FaultEngine implements FaultPort {
  readonly journal: Journal
  private readonly host: FaultHost
  private readonly registry = new FaultRegistry()
  private readonly windows: OutageWindows
  private readonly gate = new SwitchGate()
  private readonly sessions = new SessionDirectory()
  private readonly onSession: FaultEngineOptions['onSession']
  /** Aborted and replaced by every install (reset, scenario switch): cuts held requests. */
  private epoch = newEpoch()

  constructor(opts: FaultEngineOptions) {
    this.journal = opts.journal
    this.host = { services: opts.services, identify: opts.identify, errorBody: opts.errorBody }
    this.windows = new OutageWindows(this.registry, opts.logger)
    this.onSession = opts.onSession
    this.registry.cluster = opts.cluster
  }

  forTenant(_tenant: string): FaultPort {
    return this
  }

  // ---- identities (for faults scoped to a user or session) ----

  setIdentities(entries: Iterable<[token: string, identity: Identity]>): void {
    const list = [...entries]
    if (this.onSession) for (const token of this.sessions.tokens()) this.onSession(token, undefined)
    this.sessions.set(list)
    if (this.onSession) for (const [token, identity] of list) this.onSession(token, identity)
  }

  registerSession(token: string, identity: Identity): void {
    this.sessions.register(token, identity)
    this.onSession?.(token, identity)
  }

  forgetSession(token: string): void {
    this.sessions.forget(token)
    this.onSession?.(token, undefined)
  }

  /** Every session token the engine knows (seeded and signed in). */
  sessionTokens(): IterableIterator<string> {
    return this.sessions.tokens()
  }

  /** The raw token of a signed cookie value (Cookie header, else `?token=`), or undefined. */
  tokenFrom(cookieHeader: string | undefined | null, queryToken?: string | null): string | undefined {
    return this.host.identify({
      headers: { get: (name) => (name.toLowerCase() === 'cookie' ? (cookieHeader ?? null) : null) },
      search: queryToken ? `?token=${encodeURIComponent(queryToken)}` : '',
      upgrade: queryToken !== undefined && queryToken !== null,
    })
  }

  // ---- listeners ----

  attach(service: ServiceName, controls: ServiceControls): void {
    this.windows.attach(service, controls)
  }

  /** Whether a service-wide fault (`down`) is in force for the service now. */
  outage(service: ServiceName): boolean {
    return this.windows.inForce(service) !== undefined
  }

  /** Brings attached listeners to the state the faults in force ask for (after re-attaching). */
  refreshOutages(): void {
    this.windows.update()
  }

  /** Stops driving the service's listener; a `down` in force brings it back up first. */
  detach(service: ServiceName): void {
    this.windows.detach(service)
  }

  // ---- installing faults ----

  /** Checks a fault: its schema, where its effect can act, and that its id is free. */
  validate(input: unknown): Fault {
    const fault = parseFault(input, this.host.services)
    if (fault.id && this.registry.has(fault.id)) {
      throw new FaultValidationError([
        { path: 'id', message: `a fault with id "${fault.id}" is already installed` },
      ])
    }
    return fault
  }

  /** The same checks for a scenario's fault list, with paths like `faults.2.match.ws`. */
  checkScenarioFaults(faults: readonly Fault[]): FaultIssue[] {
    return scenarioFaultIssues(faults, this.host.services)
  }

  /** Replaces every fault (scenario switch or reset). Ids are deterministic: `<scenario>-<n>`. */
  install(faults: readonly Fault[], seed: number, scenario: string): void {
    this.epoch.abort()
    this.epoch = newEpoch()
    this.windows.clearTimers()
    this.registry.install(faults, seed, scenario)
    this.windows.schedule()
    this.windows.update()
  }

  add(input: unknown): FaultView {
    const compiled = this.registry.add(this.validate(input))
    this.windows.schedule([compiled])
    this.windows.update()
    return this.registry.view(compiled)
  }

  remove(id: string): boolean {
    if (!this.registry.remove(id)) return false
    this.windows.update()
    return true
  }

  /** Removes every fault: used by shutdown, and by reset before install. */
  clear(): void {
    this.windows.clearTimers()
    this.registry.clear()
    this.windows.update()
  }

  list(service?: ServiceName): FaultView[] {
    return this.registry.list(service)
  }

  /**
   * Resolves once `down` changes are in force and requests cut by the last install are
   * journaled (their ends run in microtasks; a macrotask comes after all of them).
   */
  settled(): Promise<void> {
    return this.windows.settled().then(() => new Promise<void>((resolve) => setImmediate(resolve)))
  }

  /** Holds new requests until the returned release is called, so none sees a half-applied switch. */
  pause(): () => void {
    return this.gate.pause()
  }

  // ---- transports ----

  /**
   * The middleware for a service's HTTP requests: the switch gate, then the journal around
   * the fault pipeline. Mount it so it never sees the control API (`/__mocks/*`).
   */
  http(service: ServiceName): MiddlewareHandler {
    const handler = journaled(
      this.journal,
      service,
      faultPipeline(
        {
          registry: this.registry,
          windows: this.windows,
          sessions: this.sessions,
          identify: this.host.identify,
          errorBody: this.host.errorBody,
          cut: () => this.epoch.signal,
        },
        service,
      ),
    )
    // Not an async function: a request that is not held goes on with no extra promise.
    return (c, next) => {
      const held = this.gate.held
      return held ? held.then(() => handler(c, next)) : handler(c, next)
    }
  }

  /** Wraps an open WebSocket: its frames pass through the faults that act on open sockets. */
  wsConnect(service: ServiceName, meta: WsMeta, peer: WsPeer): WsLink {
    return wrapSocket({ registry: this.registry, journal: this.journal }, service, meta, peer)
  }

  /**
   * For a raw-TCP service: asks which faults fire on one of its connections now (a new one, or
   * a client write on an established one). The service's proxy runs each with `actOnTcp` and
   * journals its connections itself; `down` is its listener, driven through attach().
   */
  tcp(service: ServiceName): TcpDecide {
    return tcpDecide({ registry: this.registry }, service)
  }
}

/** Every request a fault holds listens to it: no listener limit (Node warns past 10). */
function newEpoch(): AbortController {
  const epoch = new AbortController()
  setMaxListeners(0, epoch.signal)
  return epoch
}
