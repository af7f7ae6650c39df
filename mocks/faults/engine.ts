import { createHmac } from 'node:crypto'
import { setMaxListeners } from 'node:events'
import type { Context, MiddlewareHandler } from 'hono'
import { routePath } from 'hono/route'
import { isControlPath, type ServiceName } from '../core/config.ts'
import { defaultErrorBody, plainEnvelope } from '../core/envelope.ts'
import { type Journal, recordHeaders } from '../core/journal.ts'
import type { Logger } from '../core/logger.ts'
import { type RequestHeaders, requestHeaders } from '../core/request-headers.ts'
import { cookieVerifier, sessionCookieFrom } from '../core/session-cookie.ts'
import { searchOf } from '../core/url.ts'
import type { WsPeer } from '../core/ws.ts'
import { effectModule } from './effects/index.ts'
import { compileMatch, literalPath, type MatchTarget } from './match.ts'
import { type Fault, FaultSchema } from './schema.ts'
import type { ActiveFault, EffectModule, WsConnection } from './types.ts'

// One engine for every fake and both transports. HTTP requests pass through `http(service)`;
// WebSocket connections are wrapped by `wsConnect`. Faults are evaluated in installation
// order; those that fire wrap one another like toxiproxy's toxics.

export interface ServiceControls {
  /** Close the listener: connections are refused. */
  down(): Promise<void>
  /** Listen again. */
  up(): Promise<void>
}

export interface Identity {
  userId: string
  email: string
}

export interface FaultIssue {
  path: string
  message: string
}

export class FaultValidationError extends Error {
  override name = 'FaultValidationError'
  constructor(readonly issues: FaultIssue[]) {
    super(`Invalid fault: ${issues.map((i) => `${i.path || '(root)'}: ${i.message}`).join('; ')}`)
  }
}

/** A fault as the control API shows it. */
export interface FaultView extends Fault {
  id: string
  source: ActiveFault['source']
  fired: number
  state: 'pending' | 'active' | 'expired'
}

export interface WsMeta {
  path: string
  headers: Headers
  /** Raw session token (after signature check), when known. */
  sessionToken?: string
  userId?: string
  userEmail?: string
}

/** What the chat hub holds for one socket: a peer to write to and a gate for client frames. */
export interface WsLink {
  readonly peer: WsPeer
  /** Call with each client frame before handling it; false means drop it. */
  inbound(type: string, text: string): boolean
  /** Call once when the socket has closed. */
  dispose(code: number): void
}

const WS_SERVICES = new Set<ServiceName>(['chat'])

/**
 * A raw-TCP service (the db proxy) and which effects have a TCP behaviour: registered by the
 * fake itself (registerTcp), so the engine names no effect. Until effects declare their
 * transports, the db folder says which act on TCP.
 */
export interface TcpFaultSupport {
  acts(type: Fault['effect']['type']): boolean
}

/** A fault that fires on a TCP connection: what the proxy runs. */
export interface TcpFiring {
  id: string
  effect: Fault['effect']
  random(): number
}

/** Where an effect can act at all, given its service and match. */
function semanticIssues(f: Fault, tcpServices: ReadonlyMap<ServiceName, TcpFaultSupport>): FaultIssue[] {
  const scope = effectModule(f.effect.type).scope
  const issues: FaultIssue[] = []
  const ws = f.match?.ws
  const tcp = tcpServices.get(f.service)
  if (tcp) {
    if (f.match) {
      issues.push({
        path: 'match',
        message: `${f.service} is a TCP service: a fault on it applies to its connections and takes no match`,
      })
    }
    if (!tcp.acts(f.effect.type)) {
      issues.push({
        path: 'effect.type',
        message: `${f.effect.type} acts on HTTP or WebSocket traffic; ${f.service} speaks raw TCP (use down, reset, hang, latency or slow-body)`,
      })
    }
    return issues
  }
  if (scope === 'service' && f.match) {
    issues.push({
      path: 'match',
      message: '`down` is service-wide: the listener closes, so it takes no match',
    })
  }
  if ((scope === 'upgrade' || scope === 'connection') && !WS_SERVICES.has(f.service)) {
    issues.push({
      path: 'effect.type',
      message: `${f.effect.type} needs a WebSocket service; ${f.service} has none (use chat)`,
    })
  }
  if (ws !== undefined && ws !== 'upgrade' && scope !== 'connection') {
    issues.push({
      path: 'match.ws',
      message: `${f.effect.type} acts on HTTP requests; for it match.ws may only be "upgrade"`,
    })
  }
  if (ws === 'upgrade' && scope === 'http') {
    issues.push({
      path: 'match.ws',
      message: 'slow-body acts on HTTP response bodies, not on the WebSocket handshake',
    })
  }
  if (ws !== undefined && !WS_SERVICES.has(f.service)) {
    issues.push({ path: 'match.ws', message: `${f.service} has no WebSocket` })
  }
  return issues
}

interface Compiled {
  fault: ActiveFault
  module: EffectModule
  matches: (t: MatchTarget) => boolean
}

export interface FaultEngineOptions {
  secret: string
  journal: Journal
  logger: Logger
  /** A service's own error body for a bare status (its envelope); default `{error, code}`. */
  errorBody?: (service: ServiceName, status: number) => unknown
}

export class FaultEngine {
  readonly journal: Journal
  private readonly logger: Logger
  private readonly secret: string
  private readonly errorBody: (service: ServiceName, status: number) => unknown
  /** Raw-TCP services, registered by their fake (registerTcp). */
  private readonly tcp = new Map<ServiceName, TcpFaultSupport>()
  private readonly verifyCookie: (value: string) => string | null
  private compiled: Compiled[] = []
  /** Per service, built on first use after any change to `compiled` (see `candidates`). */
  private indexes: Map<ServiceName, ServiceIndex> | undefined
  /** Aborted and replaced by every install (reset, scenario switch): cuts held requests. */
  private epoch = newEpoch()
  private seed = 1
  private nextId = 1
  private readonly controls = new Map<ServiceName, ServiceControls>()
  private readonly isDown = new Map<ServiceName, boolean>()
  private readonly identities = new Map<string, Identity>()
  private readonly timers = new Set<ReturnType<typeof setTimeout>>()
  private gate: Promise<void> | undefined
  private downSync: Promise<void> = Promise.resolve()

  constructor(opts: FaultEngineOptions) {
    this.journal = opts.journal
    this.logger = opts.logger
    this.secret = opts.secret
    this.errorBody = opts.errorBody ?? ((_service, status) => defaultErrorBody(plainEnvelope, status))
    this.verifyCookie = cookieVerifier(opts.secret)
  }

  // ---- identities (for faults scoped to a user or session) ----

  setIdentities(entries: Iterable<[token: string, identity: Identity]>): void {
    this.identities.clear()
    for (const [token, identity] of entries) this.identities.set(token, identity)
  }

  registerSession(token: string, identity: Identity): void {
    this.identities.set(token, identity)
  }

  forgetSession(token: string): void {
    this.identities.delete(token)
  }

  /** The raw token of a signed cookie value, or undefined. */
  tokenFrom(cookieHeader: string | undefined | null, queryToken?: string | null): string | undefined {
    const value = sessionCookieFrom(cookieHeader) ?? queryToken ?? undefined
    return value ? (this.verifyCookie(value) ?? undefined) : undefined
  }

  // ---- installing faults ----

  attach(service: ServiceName, controls: ServiceControls): void {
    this.controls.set(service, controls)
  }

  detach(service: ServiceName): void {
    this.controls.delete(service)
    this.isDown.delete(service)
  }

  /** Checks a fault beyond its schema: where its effect can act at all. */
  validate(input: unknown): Fault {
    const parsed = FaultSchema.safeParse(input)
    if (!parsed.success) {
      throw new FaultValidationError(
        parsed.error.issues.map((i) => ({ path: i.path.map(String).join('.'), message: i.message })),
      )
    }
    const issues = semanticIssues(parsed.data, this.tcp)
    if (parsed.data.id && this.compiled.some((c) => c.fault.id === parsed.data.id)) {
      issues.push({ path: 'id', message: `a fault with id "${parsed.data.id}" is already installed` })
    }
    if (issues.length) throw new FaultValidationError(issues)
    return parsed.data
  }

  /** The same checks for a scenario's fault list, with paths like `faults.2.match.ws`. */
  checkScenarioFaults(faults: Fault[]): FaultIssue[] {
    const seen = new Set<string>()
    return faults.flatMap((f, i) => {
      const issues = semanticIssues(f, this.tcp)
      if (f.id) {
        if (seen.has(f.id)) issues.push({ path: 'id', message: `duplicate fault id "${f.id}"` })
        seen.add(f.id)
      }
      return issues.map((x) => ({ path: `faults.${i}${x.path ? `.${x.path}` : ''}`, message: x.message }))
    })
  }

  private compile(spec: Fault, source: ActiveFault['source'], id: string): Compiled {
    const fault: ActiveFault = { id, spec, source, installedAt: performance.now(), fired: 0, draws: 0 }
    return { fault, module: effectModule(spec.effect.type), matches: compileMatch(spec.match) }
  }

  /** Replaces every fault (scenario switch or reset). Ids are deterministic: `<scenario>-<n>`. */
  install(faults: Fault[], seed: number, scenario: string): void {
    this.epoch.abort()
    this.epoch = newEpoch()
    this.clearTimers()
    this.seed = seed
    this.nextId = 1
    this.compiled = faults.map((f, i) => this.compile(f, 'scenario', f.id ?? `${scenario}-${i + 1}`))
    this.indexes = undefined
    this.scheduleWindows()
    this.syncDown()
  }

  add(input: unknown): FaultView {
    const spec = this.validate(input)
    let id = spec.id
    while (!id || this.compiled.some((c) => c.fault.id === id)) id = `fault-${this.nextId++}`
    const compiled = this.compile(spec, 'runtime', id)
    this.compiled.push(compiled)
    this.indexes = undefined
    this.scheduleWindows([compiled])
    this.syncDown()
    return this.view(compiled)
  }

  remove(id: string): boolean {
    const before = this.compiled.length
    this.compiled = this.compiled.filter((c) => c.fault.id !== id)
    this.indexes = undefined
    if (this.compiled.length === before) return false
    this.syncDown()
    return true
  }

  /** Removes runtime faults and expired state, keeping nothing: used by reset before install. */
  clear(): void {
    this.clearTimers()
    this.compiled = []
    this.indexes = undefined
    this.syncDown()
  }

  list(service?: ServiceName): FaultView[] {
    return this.compiled.filter((c) => !service || c.fault.spec.service === service).map((c) => this.view(c))
  }

  /** Resolves when every listener is in the state the faults ask for (down or up). */
  /**
   * Resolves once `down` changes are in force and requests cut by the last install are
   * journaled (their ends run in microtasks; a macrotask comes after all of them).
   */
  settled(): Promise<void> {
    return this.downSync.then(() => new Promise<void>((resolve) => setImmediate(resolve)))
  }

  private view(c: Compiled): FaultView {
    return {
      ...c.fault.spec,
      id: c.fault.id,
      source: c.fault.source,
      fired: c.fault.fired,
      state: this.state(c.fault),
    }
  }

  private state(f: ActiveFault, now = performance.now()): FaultView['state'] {
    if (f.spec.times !== undefined && f.fired >= f.spec.times) return 'expired'
    const age = now - f.installedAt
    const start = f.spec.afterMs ?? 0
    if (age < start) return 'pending'
    if (f.spec.forMs !== undefined && age >= start + f.spec.forMs) return 'expired'
    return 'active'
  }

  /** Seeded draw in [0, 1): the n-th draw of a fault depends only on the seed, its id and n. */
  private random(f: ActiveFault): number {
    const digest = createHmac('sha256', String(this.seed))
      .update(`${f.id}:${f.draws++}`)
      .digest()
    return digest.readUIntBE(0, 6) / 2 ** 48
  }

  /** Faults that fire for this target, counting each firing (times) and drawing (probability). */
  private fire(
    service: ServiceName,
    target: MatchTarget,
    scopes: ReadonlySet<EffectModule['scope']>,
  ): Compiled[] {
    const now = performance.now()
    const out: Compiled[] = []
    for (const c of this.candidates(service, target.path)) {
      const f = c.fault
      if (!scopes.has(c.module.scope)) continue
      if (this.state(f, now) !== 'active' || !c.matches(target)) continue
      if (f.spec.probability !== undefined && !(this.random(f) < f.spec.probability)) continue
      f.fired++
      out.push(c)
    }
    return out
  }

  /**
   * The service's faults that may match `path`, in install order (the order effects nest in).
   * Faults matching one literal path are looked up by it instead of tested one by one, so
   * faults aimed at other routes cost a request nothing (100 of them cost ~6 % of a V01T
   * list's CPU when each was tested).
   */
  private candidates(service: ServiceName, path: string): Compiled[] {
    if (!this.indexes) this.indexes = buildIndexes(this.compiled)
    const index = this.indexes.get(service)
    if (!index) return NO_FAULTS
    const byPath = index.byPath.get(path.endsWith('/') ? path.slice(0, -1) : path)
    if (!byPath) return index.scan
    if (index.scan.length === 0) return byPath
    // Both lists are in install order: merge them.
    const out: Compiled[] = []
    let i = 0
    let j = 0
    while (i < index.scan.length || j < byPath.length) {
      const a = index.scan[i]
      const b = byPath[j]
      if (b === undefined || (a !== undefined && index.order.get(a)! < index.order.get(b)!)) {
        out.push(a!)
        i++
      } else {
        out.push(b)
        j++
      }
    }
    return out
  }

  // ---- outage windows and `down` ----

  private clearTimers(): void {
    for (const t of this.timers) clearTimeout(t)
    this.timers.clear()
  }

  private scheduleWindows(list: Compiled[] = this.compiled): void {
    // Only `down` needs to act at the window's edges; other faults check the window per request.
    for (const c of list) {
      if (c.module.scope !== 'service') continue
      const { afterMs, forMs } = c.fault.spec
      for (const at of [
        afterMs,
        afterMs !== undefined || forMs !== undefined ? (afterMs ?? 0) + (forMs ?? 0) : undefined,
      ]) {
        if (!at) continue
        const t = setTimeout(() => {
          this.timers.delete(t)
          this.syncDown()
        }, at + 1)
        t.unref?.()
        this.timers.add(t)
      }
    }
  }

  private downFault(service: ServiceName): Compiled | undefined {
    const now = performance.now()
    return this.compiled.find(
      (c) =>
        c.module.scope === 'service' &&
        c.fault.spec.service === service &&
        this.state(c.fault, now) === 'active',
    )
  }

  private syncDown(): void {
    this.downSync = this.downSync.then(async () => {
      for (const [service, controls] of this.controls) {
        const fault = this.downFault(service)
        const want = fault !== undefined
        if ((this.isDown.get(service) ?? false) === want) continue
        this.isDown.set(service, want)
        try {
          if (want) {
            if (fault) fault.fault.fired++
            await controls.down()
            this.logger.info({ target: service, fault: fault?.fault.id }, 'service down (listener closed)')
          } else {
            await controls.up()
            this.logger.info({ target: service }, 'service up again')
          }
        } catch (err) {
          this.logger.error(
            { target: service, err: (err as Error).message },
            'could not change listener state',
          )
        }
      }
    })
  }

  // ---- scenario switches: hold requests while state is replaced ----

  /** Holds new requests until the returned release is called, so none sees a half-applied switch. */
  pause(): () => void {
    let release!: () => void
    const gate = new Promise<void>((r) => {
      release = r
    })
    const previous = this.gate
    this.gate = previous ? previous.then(() => gate) : gate
    const mine = this.gate
    return () => {
      release()
      if (this.gate === mine) this.gate = undefined
    }
  }

  // ---- TCP ----

  /** A raw-TCP service: its faults take no match and only effects with a TCP behaviour. */
  registerTcp(service: ServiceName, support: TcpFaultSupport): void {
    this.tcp.set(service, support)
  }

  /**
   * The faults that fire now on a TCP connection of `service` (a new one, or a query on one),
   * among those `accepts` lets act at this moment: windows, `times` and seeded `probability`
   * as for HTTP. `down` is not among them (the listener closes; see syncDown).
   */
  fireTcp(service: ServiceName, accepts: (type: Fault['effect']['type']) => boolean): TcpFiring[] {
    const now = performance.now()
    const out: TcpFiring[] = []
    for (const c of this.compiled) {
      const f = c.fault
      if (f.spec.service !== service || c.module.scope === 'service') continue
      if (!accepts(f.spec.effect.type) || this.state(f, now) !== 'active') continue
      if (f.spec.probability !== undefined && !(this.random(f) < f.spec.probability)) continue
      f.fired++
      out.push({ id: f.id, effect: f.spec.effect, random: () => this.random(f) })
    }
    return out
  }

  // ---- HTTP ----

  http(service: ServiceName): MiddlewareHandler {
    return async (c, next) => {
      if (isControlPath(c.req.path)) return next()
      if (this.gate) await this.gate
      const started = performance.now()
      const headers = requestHeaders(c)
      const isUpgrade = headers.get('upgrade')?.toLowerCase() === 'websocket'
      const search = searchOf(c.req.url)
      const token = this.tokenFrom(
        headers.get('cookie'),
        isUpgrade ? rawQueryParam(search, 'token') : undefined,
      )
      const identity = token ? this.identities.get(token) : undefined
      const target: MatchTarget = {
        kind: isUpgrade ? 'upgrade' : 'http',
        method: c.req.method,
        path: c.req.path,
        headers,
        sessionToken: token,
        userId: identity?.userId,
        userEmail: identity?.email,
      }
      const scopes = isUpgrade ? UPGRADE_SCOPES : HTTP_SCOPES
      const firing = this.fire(service, target, scopes)
      const down = this.controls.has(service) ? undefined : this.downFault(service)
      if (down) firing.unshift(down)
      const entry = { service, c, started, search, headers, identity }
      // No fault acts (nearly every request): straight through, no effect chain to build.
      if (firing.length === 0) {
        let res: Response | undefined
        try {
          await next()
          res = c.res
        } finally {
          this.journalHttp(entry, true, res, undefined)
        }
        return
      }
      let calledNext = false
      const proceed = async () => {
        calledNext = true
        await next()
        return c.res
      }
      const chain = firing.reduceRight<() => Promise<Response>>(
        (inner, f) => () =>
          (f.module.http as NonNullable<EffectModule['http']>)(
            // The request's AbortSignal is read only when a fault acts: reading it makes one.
            {
              c,
              service,
              fault: f.fault,
              random: () => this.random(f.fault),
              signal: c.req.raw.signal,
              cut: this.epoch.signal,
              isUpgrade,
              errorBody: (status) => this.errorBody(service, status),
            },
            f.fault.spec.effect as never,
            inner,
          ),
        proceed,
      )
      let res: Response | undefined
      try {
        res = await chain()
        // Only when an effect replaced the response: assigning c.res (even the same object)
        // makes Hono rebuild it, turning @hono/node-server's fast path into a streamed body.
        if (calledNext && res !== c.res) c.res = res
        return calledNext ? undefined : res
      } finally {
        const terminal =
          firing.find((f) => f.module.scope !== 'request' || f.fault.spec.effect.type !== 'latency') ??
          firing[0]
        this.journalHttp(entry, calledNext, res, terminal)
      }
    }
  }

  private journalHttp(
    e: {
      service: ServiceName
      c: Context
      started: number
      /** The query string as URL#search gives it. */
      search: string
      headers: RequestHeaders
      identity: Identity | undefined
    },
    reachedFake: boolean,
    res: Response | undefined,
    terminal: Compiled | undefined,
  ): void {
    const { c } = e
    this.journal.record({
      service: e.service,
      kind: 'http',
      method: c.req.method,
      path: c.req.path,
      route: reachedFake ? safeRoutePath(c) : c.req.path,
      query: e.search,
      status: res ? res.status : null,
      durationMs: Math.round((performance.now() - e.started) * 100) / 100,
      requestHeaders: recordHeaders(e.headers.entries()),
      fault: terminal ? { id: terminal.fault.id, type: terminal.fault.spec.effect.type } : null,
      userId: e.identity?.userId,
    })
  }

  // ---- WebSocket ----

  wsConnect(service: ServiceName, meta: WsMeta, peer: WsPeer): WsLink {
    const timers = new Set<ReturnType<typeof setTimeout>>()
    const frameListeners: (() => void)[] = []
    const closeListeners: (() => void)[] = []
    const conn: WsConnection = {
      service,
      raw: peer,
      outbound: () => true,
      inbound: () => true,
      onServerFrame: (l) => frameListeners.push(l),
      onClose: (l) => closeListeners.push(l),
      setTimer: (fn, ms) => {
        const t = setTimeout(() => {
          timers.delete(t)
          fn()
        }, ms)
        timers.add(t)
      },
    }
    const base = {
      path: meta.path,
      headers: meta.headers,
      method: 'GET',
      sessionToken: meta.sessionToken,
      userId: meta.userId,
      userEmail: meta.userEmail,
    }
    // Called for every frame, each socket's copy of a broadcast included.
    const record = (
      kind: 'ws-in' | 'ws-out' | 'ws-open' | 'ws-close',
      frame: string | undefined,
      code: number | undefined,
      fault?: Compiled,
    ) =>
      this.journal.recordWs(
        service,
        kind,
        meta.path,
        frame,
        code,
        meta.userId,
        fault ? { id: fault.fault.id, type: fault.fault.spec.effect.type } : null,
      )
    const apply = (list: Compiled[]) => {
      for (const f of list) f.module.ws?.(conn, f.fault.spec.effect as never, f.fault)
    }
    const atOpen = this.fire(service, { ...base, kind: 'upgrade' }, CONNECTION_SCOPES)
    record('ws-open', undefined, undefined, atOpen[0])
    apply(atOpen)
    const wrapped: WsPeer = {
      send: (text, bytes) => {
        if (!peer.isOpen || !conn.outbound(text)) return
        peer.send(text, bytes)
        record('ws-out', clip(text), undefined)
        for (const l of frameListeners) l()
      },
      close: (code, reason) => peer.close(code, reason),
      terminate: () => peer.terminate(),
      setAutoPong: (on) => peer.setAutoPong(on),
      get isOpen() {
        return peer.isOpen
      },
    }
    return {
      peer: wrapped,
      inbound: (type, text) => {
        const firing = this.fire(service, { ...base, kind: 'frame', frameType: type }, CONNECTION_SCOPES)
        record('ws-in', clip(text), undefined, firing[0])
        apply(firing)
        return conn.inbound(type)
      },
      dispose: (code) => {
        for (const t of timers) clearTimeout(t)
        timers.clear()
        for (const l of closeListeners) l()
        record('ws-close', undefined, code)
      },
    }
  }
}

/** Every request a fault holds listens to it: no listener limit (Node warns past 10). */
function newEpoch(): AbortController {
  const epoch = new AbortController()
  setMaxListeners(0, epoch.signal)
  return epoch
}

interface ServiceIndex {
  /** Faults whose match has one literal path, by that path without its trailing slash. */
  byPath: Map<string, Compiled[]>
  /** Every other fault of the service. */
  scan: Compiled[]
  order: Map<Compiled, number>
}

const NO_FAULTS: Compiled[] = []

function buildIndexes(compiled: Compiled[]): Map<ServiceName, ServiceIndex> {
  const out = new Map<ServiceName, ServiceIndex>()
  compiled.forEach((c, i) => {
    const service = c.fault.spec.service
    let index = out.get(service)
    if (!index) {
      index = { byPath: new Map(), scan: [], order: new Map() }
      out.set(service, index)
    }
    index.order.set(c, i)
    const literal = literalPath(c.fault.spec.match?.path)
    if (literal === undefined) index.scan.push(c)
    else {
      const list = index.byPath.get(literal)
      if (list) list.push(c)
      else index.byPath.set(literal, [c])
    }
  })
  return out
}

/** A frame as journaled: the first 2,000 characters. */
const clip = (text: string) => (text.length > 2000 ? `${text.slice(0, 2000)}…` : text)

const HTTP_SCOPES = new Set<EffectModule['scope']>(['request', 'http'])
const UPGRADE_SCOPES = new Set<EffectModule['scope']>(['request', 'upgrade'])
const CONNECTION_SCOPES = new Set<EffectModule['scope']>(['connection'])

function safeRoutePath(c: Parameters<typeof routePath>[0]): string {
  try {
    return routePath(c, -1)
  } catch {
    return c.req.path
  }
}

/**
 * A query parameter decoded without turning `+` into a space: a session cookie value placed
 * in `?token=` unencoded keeps the `+` of its base64 signature. `search` is a URL's `search`.
 */
export function rawQueryParam(search: string, name: string): string | undefined {
  for (const part of search.replace(/^\?/, '').split('&')) {
    const eq = part.indexOf('=')
    const key = eq < 0 ? part : part.slice(0, eq)
    if (key !== name) continue
    const value = eq < 0 ? '' : part.slice(eq + 1)
    try {
      return decodeURIComponent(value)
    } catch {
      return value
    }
  }
  return undefined
}
