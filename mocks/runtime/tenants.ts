import type { Context, MiddlewareHandler, Next } from 'hono'
import type { ServiceName } from '../core/config.ts'
import type { ErrorEnvelope } from '../core/envelope.ts'
import { Journal } from '../core/journal.ts'
import type { Logger } from '../core/logger.ts'
import { BoundedMemo } from '../core/memo.ts'
import { type HeaderLookup, type RequestHeaders, requestHeaders } from '../core/request-headers.ts'
import {
  bindTenant,
  DEFAULT_TENANT,
  explicitTenantSignals,
  isTenantId,
  TENANT_BAGGAGE_KEY,
  TENANT_COOKIE,
  TENANT_HEADER,
  type TenantSignal,
  type TenantSource,
  tenantIdProblem,
} from '../core/tenant.ts'
import { searchOf } from '../core/url.ts'
import type { WsPeer } from '../core/ws.ts'
import type { Scenario } from '../fake/scenario.ts'
import {
  type ClusterCounters,
  FaultEngine,
  type FaultHost,
  type FaultPort,
  type Identity,
  type TcpDecide,
  type WsLink,
  type WsMeta,
} from '../faults/engine.ts'

// Tenants (issue 16): one world per tenant on one set of listeners. Each tenant has its own
// fault engine (faults, windows, switch gate, fault randomness), journal and, in every fake,
// its own state. The router is the fakes' fault port: it finds each request's tenant (header,
// baggage, cookie, session; DESIGN §9 and the README give the order), refuses what it cannot
// place, and hands the request to that tenant's engine. The default tenant is the world that
// exists when no tenant is named.

const LABEL: Record<TenantSource, string> = {
  header: 'X-Mocks-Tenant header',
  baggage: 'baggage header (mocks.tenant)',
  cookie: 'mocks_tenant cookie',
  session: 'session',
  service: "service's own credential",
}

/** One tenant's world, as the runtime holds it (the fakes hold their own states per tenant). */
export class Tenant {
  readonly journal: Journal
  readonly engine: FaultEngine
  /** The fault port its states are built with: the engine, counting the tenant's open sockets. */
  readonly port: FaultPort
  readonly createdAt = new Date().toISOString()
  scenario: Scenario | undefined
  /** Scenario switches and resets of this tenant, in order (other tenants never wait on them). */
  queue: Promise<unknown> = Promise.resolve()
  /** Set by control calls and socket closes; requests count through the journal (below). */
  private touched = Date.now()
  /**
   * When the tenant was last in use: a control call, a socket closing, or any entry its journal
   * recorded (every request is journaled when it ends). Read from the journal rather than
   * stamped by a layer of its own around each request: that layer cost a named tenant's
   * requests a promise and a clock read each.
   */
  get lastSeen(): number {
    return Math.max(this.touched, this.journal.lastRecordedAt)
  }
  set lastSeen(ms: number) {
    this.touched = ms
  }
  /** Requests being answered (a held one keeps its tenant alive): the journal's open requests. */
  get inflight(): number {
    return this.journal.open.size
  }
  readonly sockets = new Map<WsLink, ServiceName>()
  readonly handlers = new Map<ServiceName, MiddlewareHandler>()
  deleted = false

  constructor(
    readonly id: string,
    host: FaultHost,
    journalLimit: number,
    logger: Logger,
    onSession: (token: string, identity: Identity | undefined) => void,
    cluster?: ClusterCounters,
  ) {
    this.journal = new Journal(journalLimit)
    this.engine = new FaultEngine({
      ...host,
      journal: this.journal,
      logger,
      onSession,
      ...(cluster ? { cluster } : {}),
    })
    const engine = this.engine
    this.port = {
      http: (service) => engine.http(service),
      tcp: (service) => engine.tcp(service),
      tokenFrom: (cookie, query) => engine.tokenFrom(cookie, query),
      registerSession: (token, identity) => engine.registerSession(token, identity),
      forgetSession: (token) => engine.forgetSession(token),
      journal: engine.journal,
      forTenant: () => this.port,
      wsConnect: (service, meta, peer) => {
        const link = engine.wsConnect(service, meta, peer)
        const counted: WsLink = {
          peer: link.peer,
          inbound: (type, text) => link.inbound(type, text),
          dispose: (code) => {
            this.sockets.delete(counted)
            this.lastSeen = Date.now()
            link.dispose(code)
          },
        }
        this.sockets.set(counted, service)
        return counted
      },
    }
  }

  /** Idle: no request in flight, no open socket, nobody watching its journal, nothing seen for `idleMs`. */
  idle(now: number, idleMs: number): boolean {
    return (
      this.inflight === 0 &&
      this.sockets.size === 0 &&
      this.journal.watchers === 0 &&
      now - this.lastSeen >= idleMs
    )
  }

  /** Cuts the tenant's open sockets of a service with no close frame (its outage). */
  cutSockets(service: ServiceName): void {
    for (const [link, s] of this.sockets) if (s === service) link.peer.terminate()
  }

  /** What GET /__mocks/tenants shows. */
  view() {
    return {
      id: this.id,
      scenario: this.scenario?.name ?? null,
      createdAt: this.createdAt,
      lastSeenAt: new Date(this.lastSeen).toISOString(),
      faults: this.engine.list().length,
      journal: this.journal.size,
      openSockets: this.sockets.size,
      inflight: this.inflight,
    }
  }
}

export type Resolution =
  | { ok: true; tenant: Tenant }
  | {
      ok: false
      status: 400 | 404 | 409
      message: string
      code: string
      /** A conflict's first-named tenant, when live: the refusal goes into its journal. */
      tenant?: Tenant
    }

export interface TenantRouterOptions {
  host: FaultHost
  envelopes: ReadonlyMap<ServiceName, ErrorEnvelope>
  journalLimit: number
  logger: Logger
  /** A tenant named by a service's own credential (Upstash's token, chat's ephemeral WS token). */
  serviceSignals?: ReadonlyMap<ServiceName, (headers: HeaderLookup, search: string) => string | undefined>
  /** Replicated mode: a tenant's cluster-wide fault counters (mocks/replica). */
  cluster?: (tenant: string) => ClusterCounters
  /**
   * Replicated mode: resolves once this replica has applied the log as it stands (bounded:
   * it resolves anyway after a short wait), so a tenant created elsewhere is known.
   */
  caughtUp?: () => Promise<void>
}

/** How many deleted tenants' session tokens are remembered (each answered 404). */
const GONE_SESSIONS = 10_000

/** The port of a tenant that is gone: what it would record goes nowhere. */
function deadPort(fallback: FaultPort): FaultPort {
  const port: FaultPort = {
    http: (service) => fallback.http(service),
    wsConnect: (service, meta, peer) => fallback.wsConnect(service, meta, peer),
    tcp: (service) => fallback.tcp(service),
    tokenFrom: (cookie, query) => fallback.tokenFrom(cookie, query),
    registerSession: () => undefined,
    forgetSession: () => undefined,
    get journal() {
      return fallback.journal
    },
    forTenant: () => port,
  }
  return port
}

/** A request refused before any tenant's fault pipeline saw it, journaled as it was answered. */
function journalRefusal(
  journal: Journal,
  service: ServiceName,
  c: Context,
  headers: RequestHeaders,
  status: number,
) {
  journal.recordHttp({
    service,
    method: c.req.method,
    path: c.req.path,
    route: c.req.path,
    query: searchOf(c.req.url),
    status,
    durationMs: 0,
    headers,
    fault: null,
    userId: undefined,
  })
}

export class TenantRouter implements FaultPort {
  readonly tenants = new Map<string, Tenant>()
  /** Session token -> the tenant whose auth state holds it. */
  private readonly owners = new Map<string, string>()
  readonly default: Tenant

  constructor(private readonly opts: TenantRouterOptions) {
    this.default = this.make(DEFAULT_TENANT)
  }

  private make(id: string): Tenant {
    const tenant = new Tenant(
      id,
      this.opts.host,
      this.opts.journalLimit,
      this.opts.logger,
      (token, identity) => {
        if (identity) {
          this.owners.set(token, id)
          this.former.delete(token)
        } else if (this.owners.get(token) === id) {
          this.owners.delete(token)
          // Signed out, or its tenant reset: a client that keeps sending the cookie is still
          // that tenant's (its 401s journaled there), never the default world's.
          if (id !== DEFAULT_TENANT) this.former.set(token, id)
        }
      },
      this.opts.cluster?.(id),
    )
    this.tenants.set(id, tenant)
    return tenant
  }

  /** A new, empty tenant (the runtime seeds it). */
  add(id: string): Tenant {
    if (this.tenants.has(id)) throw new Error(`tenant ${id} exists`)
    return this.make(id)
  }

  /**
   * Forgets a tenant (this one: an id may name a newer tenant by now): requests naming it get
   * 404, and so do its sessions' cookies, for a while (a bounded memory of deleted sessions).
   */
  remove(tenant: Tenant): boolean {
    if (tenant.id === DEFAULT_TENANT || this.tenants.get(tenant.id) !== tenant) return false
    tenant.deleted = true
    this.tenants.delete(tenant.id)
    for (const token of tenant.engine.sessionTokens()) {
      if (this.owners.get(token) !== tenant.id) continue
      this.owners.delete(token)
      this.former.set(token, tenant.id)
    }
    this.goneIds.add(tenant.id)
    for (const id of this.goneIds) {
      if (this.goneIds.size <= GONE_SESSIONS) break
      this.goneIds.delete(id)
    }
    return true
  }

  /**
   * Sessions no longer live and their tenant (oldest first, bounded): ended ones of a live
   * tenant keep their cookies in it, those of a deleted tenant get 404, never the default world.
   */
  private readonly former = new BoundedMemo<string, string>({ maxEntries: GONE_SESSIONS })
  /** Ids of deleted tenants (bounded): a service credential naming one gets 404 too. */
  private readonly goneIds = new Set<string>()

  get(id: string): Tenant | undefined {
    return this.tenants.get(id)
  }

  /** Tenants other than the default. */
  others(): Tenant[] {
    return [...this.tenants.values()].filter((t) => t.id !== DEFAULT_TENANT)
  }

  /** Which live tenant (other than `except`) holds a session token, if any. */
  ownerOf(token: string): string | undefined {
    return this.owners.get(token)
  }

  /**
   * A request's tenant: the first of header, baggage, cookie, a service's own credential and
   * the session that names one; every other signal present must name the same tenant (409).
   */
  resolve(
    service: ServiceName,
    headers: HeaderLookup,
    /** The query string (`URL#search`). */
    search: string,
    upgrade: boolean,
  ): Resolution {
    const signals: TenantSignal[] = explicitTenantSignals(headers)
    const signal = this.opts.serviceSignals?.get(service)
    const own = signal?.(headers, search)
    // A credential names a tenant only if it is live: a token that merely looks like one (an
    // `@` in an Upstash token) is the service's business, which refuses it if it is wrong.
    if (own !== undefined && (this.tenants.has(own) || this.goneIds.has(own)))
      signals.push({ source: 'service', value: own })
    // Sessions place a request only when some tenant besides the default exists (or a signal
    // must be checked against the session): the single-world path reads no cookie here.
    if (signals.length > 0 || this.tenants.size > 1 || this.former.size > 0) {
      const token = this.opts.host.identify({ headers, search, upgrade })
      const owner = token ? (this.owners.get(token) ?? this.former.get(token)) : undefined
      if (owner !== undefined) signals.push({ source: 'session', value: owner })
    }
    let chosen: TenantSignal | undefined
    for (const s of signals) {
      if (!isTenantId(s.value)) {
        return {
          ok: false,
          status: 400,
          code: 'invalid_tenant',
          message: `${LABEL[s.source]}: ${tenantIdProblem(s.value)}`,
        }
      }
      if (!chosen) chosen = s
      else if (chosen.value !== s.value) {
        const first = this.tenants.get(chosen.value)
        return {
          ...(first ? { tenant: first } : {}),
          ok: false,
          status: 409,
          code: 'tenant_conflict',
          message: `Tenant signals disagree: the ${LABEL[chosen.source]} names "${chosen.value}", the ${LABEL[s.source]} "${s.value}"`,
        }
      }
    }
    const id = chosen?.value ?? DEFAULT_TENANT
    const tenant = this.tenants.get(id)
    if (!tenant) {
      return {
        ok: false,
        status: 404,
        code: 'unknown_tenant',
        message: `Unknown tenant "${id}" (from the ${LABEL[chosen!.source]}): never created, or deleted`,
      }
    }
    return { ok: true, tenant }
  }

  // ---- the fault port the fakes are built with ----

  http(service: ServiceName): MiddlewareHandler {
    const envelope = this.opts.envelopes.get(service)
    const single = this.default.engine.http(service)
    const signals = this.opts.serviceSignals?.has(service) === true
    // Every request but the single world's takes this path (see below).
    const routed = (c: Context, next: Next, headers: RequestHeaders): ReturnType<MiddlewareHandler> => {
      const upgrade = headers.get('upgrade')?.toLowerCase() === 'websocket'
      const search = searchOf(c.req.url)
      const found = this.resolve(service, headers, search, upgrade)
      // Replicated mode: a tenant just created through another replica may not be applied here
      // yet. Before calling it unknown, catch up with the log (one round trip, bounded), then
      // look again: a client creating a tenant through a balancer can use it at once.
      const catchUp = this.opts.caughtUp
      if (!found.ok && found.code === 'unknown_tenant' && catchUp)
        return catchUp().then(() => answer(c, next, headers, this.resolve(service, headers, search, upgrade)))
      return answer(c, next, headers, found)
    }
    const answer = (
      c: Context,
      next: Next,
      headers: RequestHeaders,
      found: Resolution,
    ): ReturnType<MiddlewareHandler> => {
      if (!found.ok) {
        // The service's own code for the status (better-auth's are UPPER_SNAKE); the message says why.
        const body = envelope
          ? envelope.body(found.message, envelope.code(found.status))
          : { error: found.message, code: found.code }
        const res = c.json(body, found.status)
        // A conflict is journaled in the tenant its first signal names (the test that sent it
        // sees why); a malformed or unknown tenant has no journal to go to (logged instead).
        if (found.tenant) journalRefusal(found.tenant.journal, service, c, headers, res.status)
        else this.opts.logger.debug({ service, path: c.req.path, status: found.status }, found.message)
        return Promise.resolve(res)
      }
      const { tenant } = found
      // The default tenant is never swept: no bookkeeping and no async layer of its own (its
      // requests read as the default tenant unbound, as in the single world).
      if (tenant === this.default) return single(c, next)
      bindTenant(c.req.raw, tenant.id)
      let handler = tenant.handlers.get(service)
      if (!handler) {
        handler = tenant.engine.http(service)
        tenant.handlers.set(service, handler)
      }
      // In flight and last seen are the tenant's journal's to tell (Tenant#inflight, #lastSeen).
      return handler(c, next)
    }
    // Not an async function: the single world's requests go on with no promise of their own.
    return (c, next) => {
      const headers = requestHeaders(c)
      // The single world, nothing named: straight to the default engine (the default tenant is
      // never swept, so it needs no bookkeeping). Once a tenant was deleted, cookies of its
      // sessions must still be told apart (404): a request with a cookie (or a WebSocket
      // handshake, which may carry its session in the query) then takes the full path.
      const cookie = headers.get('cookie')
      if (
        this.tenants.size === 1 &&
        !signals &&
        headers.get(TENANT_HEADER) === null &&
        !headers.get('baggage')?.includes(TENANT_BAGGAGE_KEY) &&
        !cookie?.includes(TENANT_COOKIE) &&
        (this.former.size === 0 || (cookie === null && headers.get('upgrade') === null))
      )
        return single(c, next)
      return routed(c, next, headers)
    }
  }

  // A shared service (raw TCP: the database) and calls made outside any request belong to the
  // default tenant. Fakes reach a tenant's own engine through `forTenant` or their state's scope.

  wsConnect(service: ServiceName, meta: WsMeta, peer: WsPeer): WsLink {
    return this.default.port.wsConnect(service, meta, peer)
  }

  tcp(service: ServiceName): TcpDecide {
    return this.default.engine.tcp(service)
  }

  tokenFrom(cookieHeader: string | undefined | null, queryToken?: string | null): string | undefined {
    return this.default.engine.tokenFrom(cookieHeader, queryToken)
  }

  registerSession(token: string, identity: Identity): void {
    this.default.engine.registerSession(token, identity)
  }

  forgetSession(token: string): void {
    this.default.engine.forgetSession(token)
  }

  get journal(): Journal {
    return this.default.journal
  }

  forTenant(tenant: string): FaultPort {
    // A tenant deleted while its request ran (a sign-in finishing late): its sessions go nowhere.
    return this.tenants.get(tenant)?.port ?? (tenant === DEFAULT_TENANT ? this.default.port : this.deadPort)
  }

  private readonly deadPort: FaultPort = deadPort(this)
}
