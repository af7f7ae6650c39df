import { randomBytes } from 'node:crypto'
import { Hono } from 'hono'
import { CONTROL_PORT, type MocksConfig, type ServiceName } from '../core/config.ts'
import {
  type Journal,
  type JournalEntry,
  type JournalFilter,
  type OpenRequest,
  type RequestIdReport,
  requestIdReport,
} from '../core/journal.ts'
import { createLogger, type Logger } from '../core/logger.ts'
import { LoopbackRegistry, loopbackOrigins } from '../core/loopback.ts'
import { caughtUpWithin, type Replication, untouched } from '../core/replication.ts'
import { markStartup } from '../core/startup.ts'
import { DEFAULT_TENANT, isTenantId, TENANT_COOKIE, tenantIdProblem } from '../core/tenant.ts'
import { createDemoApp } from '../demo/index.ts'
import {
  type AnyFakeService,
  type FakeDescriptor,
  isHttpFake,
  type ServiceListener,
} from '../fake/descriptor.ts'
import type { Scenario } from '../fake/scenario.ts'
import { seededIdentities } from '../fake/seeded.ts'
import type { ClusterCounters, FaultEngine, FaultView, ServiceControls } from '../faults/engine.ts'
import { FAKES } from '../registry.ts'
import { refreshDerivedUrls } from './config.ts'
import { createControlApp, type ScenarioRequest, TenantError } from './control.ts'
import { faultHost } from './fault-host.ts'
import { frontendUrl } from './frontend-env.ts'

export { type ScenarioRequest, TenantError } from './control.ts'

import { ScenarioError, ScenarioLoader } from './scenario-loader.ts'
import { startServer } from './server.ts'
import { type Tenant, TenantRouter, type TenantRouterOptions } from './tenants.ts'

// The process that runs some or all fakes, plus (optionally) the control plane. It owns the
// scenario in force; switching reseeds every fake while requests wait at the fault engine.

export interface StartOptions {
  config: MocksConfig
  /** The fakes known (scenario sections, fault services, ports); default the registry. */
  fakes?: readonly FakeDescriptor[]
  /** Run only these (default every known fake); scenarios are still checked against all. */
  only?: readonly ServiceName[]
  /** Start the control plane on its port (default true). */
  control?: boolean
  /** Use port 0 everywhere (tests): each server gets a free port. */
  ephemeralPorts?: boolean
  /** Skip listening (msw, in-process use): apps only. */
  listen?: boolean
  journalLimit?: number
}

export interface RunningFake {
  descriptor: FakeDescriptor
  fake: AnyFakeService
  server: ServiceListener | undefined
}

/** Tenants named by a service's own credential (its descriptor's `tenantSignal`), by service. */
function serviceTenantSignals(fakes: readonly FakeDescriptor[]): TenantRouterOptions['serviceSignals'] {
  return new Map(fakes.flatMap((f) => (f.tenantSignal ? [[f.name, f.tenantSignal.bind(f)] as const] : [])))
}

/** What POST /__mocks/tenants answers: the tenant, and how a client names it. */
export interface TenantCreated {
  id: string
  scenario: string
  header: { name: string; value: string }
  cookie: { name: string; value: string }
  /** Env naming the tenant through a service's own credential (Upstash's token), by env name. */
  env: Record<string, string>
}

/**
 * Replicated mode as the runtime drives it (mocks/replica's RedisLog, loaded only when
 * MOCKS_REDIS_URL is set): control mutations go through the world's log (README "Replicas").
 */
export interface ReplicaLink extends Replication {
  /** A tenant's cluster-wide fault counters (`times`, probability). */
  counters(tenant: string): ClusterCounters
  /** Connects and replays the log up to its end (before the listeners open). */
  start(): Promise<void>
  /** Stamps a tenant's journal with the replica's name and publishes its entries. */
  watchJournal(tenant: string, journal: Journal): void
  /** Every replica's entries of the tenant's journal (GET /__mocks/journal). */
  mergedJournal(tenant: string, journal: Journal, filter: JournalFilter): Promise<JournalEntry[]>
  /** Other replicas' entries of the tenant's journal as they are published (live streams). */
  followJournal(tenant: string, listener: (entry: JournalEntry) => void): () => void
  /** The tenant's requests open on other replicas (the verdicts' timeout rule). */
  othersOpen(tenant: string): Promise<OpenRequest[]>
  /**
   * Notes when this replica last saw the tenant in use (`seenAt`) and answers the latest of
   * every replica's notes (cluster-wide idleness; notes are kept `keepMs`).
   */
  tenantSeen(tenant: string, seenAt: number, keepMs: number): Promise<number>
  close(): Promise<void>
}

export interface TenantSettings {
  /** Tenants idle (no request, no open socket) longer than this are removed. */
  idleMs: number
  /** Live tenants besides the default; the next creation is refused with 429. */
  max: number
}

export class Mocks {
  readonly router: TenantRouter
  /** Its HTTP listeners, by origin: one fake's calls to another are served in-process. */
  readonly loopback = new LoopbackRegistry()
  readonly loader: ScenarioLoader
  readonly services = new Map<ServiceName, RunningFake>()
  readonly logger: Logger
  readonly tenancy: TenantSettings
  control: ServiceListener | undefined
  /** The real listener controls, driven by the default tenant while no other tenant is live. */
  private readonly listeners = new Map<ServiceName, ServiceControls>()
  private sweeper: ReturnType<typeof setInterval> | undefined

  constructor(
    readonly config: MocksConfig,
    journalLimit = 5000,
    /** Every fake known to this runtime (the registry unless injected). */
    readonly fakes: readonly FakeDescriptor[] = FAKES,
    /** Replicated mode (undefined: one process, nothing goes through Redis). */
    readonly replica?: ReplicaLink,
  ) {
    this.logger = createLogger('mocks')
    this.tenancy = { idleMs: config.tenantIdleMs, max: config.maxTenants }
    this.router = new TenantRouter({
      host: faultHost(config, fakes),
      envelopes: new Map(fakes.map((f) => [f.name, f.envelope])),
      journalLimit,
      logger: createLogger('faults'),
      serviceSignals: serviceTenantSignals(fakes),
      ...(replica
        ? {
            cluster: (tenant: string) => replica.counters(tenant),
            caughtUp: () => caughtUpWithin(replica),
          }
        : {}),
    })
    if (replica) {
      this.replicate(replica)
      replica.watchJournal(DEFAULT_TENANT, this.router.default.journal)
    }
    // Scenario faults get the checks runtime faults get (the loader imports no fault code).
    this.loader = new ScenarioLoader(config.scenariosDir, fakes, {
      checkFaults: (faults) => this.faults.checkScenarioFaults(faults),
    })
  }

  /** The default tenant's fault engine (the single world's). */
  get faults(): FaultEngine {
    return this.router.default.engine
  }

  /** The default tenant's journal. */
  get journal(): Journal {
    return this.router.default.journal
  }

  /** A running HTTP fake's app (tests, benchmarks); throws for an unknown or TCP service. */
  app(service: ServiceName): Hono {
    const fake = this.services.get(service)?.fake
    if (!fake || !isHttpFake(fake)) throw new Error(`${service} is not a running HTTP fake`)
    return fake.app
  }

  /** The default tenant's scenario. */
  get scenario(): Scenario {
    return this.scenarioOf(DEFAULT_TENANT)
  }

  scenarioOf(tenant: string): Scenario {
    const scenario = this.router.get(tenant)?.scenario
    if (!scenario) throw new Error(`no scenario applied yet for tenant ${tenant}`)
    return scenario
  }

  /** A live tenant (the default always is). */
  tenant(id: string = DEFAULT_TENANT): Tenant | undefined {
    return this.router.get(id)
  }

  private need(id: string): Tenant {
    const tenant = this.router.get(id)
    if (!tenant)
      throw untouched(new TenantError(404, 'unknown_tenant', `No tenant "${id}": never created, or deleted`))
    return tenant
  }

  /** The services this runtime runs, in registry order. */
  running(): ServiceName[] {
    return [...this.services.keys()]
  }

  /** Base URL of a running service (its real port). */
  url(service: ServiceName): string | undefined {
    return this.services.get(service)?.server?.url
  }

  /** Shared services (raw TCP: the database) hold one world: the default tenant's. */
  private isShared(descriptor: FakeDescriptor): boolean {
    return descriptor.transport === 'tcp'
  }

  isSharedService(service: string): boolean {
    const descriptor = this.fakes.find((f) => f.name === service)
    return descriptor !== undefined && this.isShared(descriptor)
  }

  /** Runs `job` after the tenant's earlier switches and resets (other tenants never wait). */
  private queued<T>(tenant: Tenant, job: () => Promise<T>): Promise<T> {
    const next = tenant.queue.then(job, job)
    tenant.queue = next.catch(() => undefined)
    return next
  }

  private resolveRequest(request: ScenarioRequest): Scenario {
    return 'name' in request ? this.loader.load(request.name) : this.loader.resolveInline(request.scenario)
  }

  /**
   * Replicated mode: every replica applies control mutations from the log, in its order; the
   * replica that took the call answers with what applying it here gave (or threw).
   */
  private replicate(replica: ReplicaLink): void {
    type Switch = { request: ScenarioRequest; tenant: string }
    replica.handle('mocks.scenario', (p: Switch) => this.switchHere(p.request, p.tenant))
    replica.handle('mocks.reset', (p: { tenant: string }) => this.resetHere(p.tenant))
    replica.handle('mocks.tenant.create', (p: { request: ScenarioRequest; id: string }) =>
      this.createTenantHere(p.request, p.id),
    )
    replica.handle('mocks.tenant.delete', (p: { id: string }) => this.deleteTenantHere(p.id))
    replica.handle('mocks.fault.add', (p: { tenant: string; fault: unknown }) =>
      this.addFaultHere(p.tenant, p.fault),
    )
    replica.handle('mocks.journal.clear', (p: { tenant: string }) => this.need(p.tenant).journal.clear())
    replica.handle('mocks.fault.remove', (p: { tenant: string; ids: string[] }) =>
      this.removeFaultsHere(p.tenant, p.ids),
    )
  }

  /** Apply a scenario by name or inline to a tenant (default: the default tenant); serialized per tenant. */
  async switchScenario(request: ScenarioRequest, tenantId: string = DEFAULT_TENANT): Promise<Scenario> {
    if (!this.replica) return this.switchHere(request, tenantId)
    this.need(tenantId)
    this.resolveRequest(request) // refused here (404, 400) before it reaches the log
    return this.replica.submit('mocks.scenario', { request, tenant: tenantId }, { everywhere: true })
  }

  /** Applies here, now (start-up, and the log's entries in replicated mode). */
  switchHere(request: ScenarioRequest, tenantId: string): Promise<Scenario> {
    const tenant = this.need(tenantId)
    return this.queued(tenant, async () => {
      let scenario: Scenario
      try {
        scenario = this.resolveRequest(request)
      } catch (err) {
        throw untouched(err) // nothing changed (replicated: not kept by the log's compaction)
      }
      markStartup('scenario-parsed')
      await this.apply(scenario, tenant)
      return scenario
    })
  }

  /** Back to the tenant's scenario's first state: reseed, scenario faults only, empty journal. */
  async reset(tenantId: string = DEFAULT_TENANT): Promise<Scenario> {
    if (!this.replica) return this.resetHere(tenantId)
    this.need(tenantId)
    return this.replica.submit('mocks.reset', { tenant: tenantId }, { everywhere: true })
  }

  private resetHere(tenantId: string): Promise<Scenario> {
    const tenant = this.need(tenantId)
    return this.queued(tenant, async () => {
      const scenario = this.scenarioOf(tenant.id)
      await this.apply(scenario, tenant)
      tenant.journal.clear()
      return scenario
    })
  }

  /** Why a scenario cannot be a (non-default) tenant's: faults on shared services, fixed tokens in use. */
  private tenantProblems(scenario: Scenario, tenant: Tenant): { path: string; message: string }[] {
    const problems: { path: string; message: string }[] = []
    const shared = new Set(this.fakes.filter((f) => this.isShared(f)).map((f) => f.name))
    if (tenant.id !== DEFAULT_TENANT) {
      scenario.faults.forEach((f, i) => {
        if (shared.has(f.service))
          problems.push({
            path: `faults.${i}.service`,
            message: `${f.service} is shared by every tenant (it belongs to the default tenant): apply this scenario to the default tenant`,
          })
      })
    }
    for (const [token] of seededIdentities(scenario, tenant.id)) {
      const owner = this.router.ownerOf(token)
      if (owner !== undefined && owner !== tenant.id)
        problems.push({
          path: 'auth.users',
          message: `a fixed session token is already used by tenant "${owner}": a token belongs to one tenant`,
        })
    }
    return problems
  }

  private async apply(scenario: Scenario, tenant: Tenant): Promise<void> {
    const started = performance.now()
    const problems = this.tenantProblems(scenario, tenant)
    if (problems.length)
      throw untouched(
        new ScenarioError(
          `Scenario ${scenario.name} cannot be applied to tenant ${tenant.id}`,
          problems.map((p) => ({ file: scenario.name, ...p })),
        ),
      )
    const release = tenant.engine.pause()
    const scope = { id: tenant.id, faults: tenant.port }
    const targets = [...this.services.values()].filter(
      (s) => tenant.id === DEFAULT_TENANT || !this.isShared(s.descriptor),
    )
    try {
      const results = await Promise.allSettled(
        targets.map(async (s) => {
          await s.fake.applyScenario(scenario, scope)
          markStartup(`seeded:${s.descriptor.name}`)
        }),
      )
      // Deleted meanwhile: its drop (queued after this) removes whatever was just built.
      if (tenant.deleted) return
      const failed = results.flatMap((r, i) =>
        r.status === 'rejected' ? [{ r, name: targets[i]!.descriptor.name }] : [],
      )
      if (failed.length) {
        // Never leave services on different scenarios: put every fake back on the old one.
        const previous = tenant.scenario
        if (previous) await Promise.allSettled(targets.map((s) => s.fake.applyScenario(previous, scope)))
        throw new ScenarioError(
          `Scenario ${scenario.name} could not be applied; ${previous ? `"${previous.name}" stays in force` : 'nothing applied'}`,
          failed.flatMap(({ r, name }) => {
            const reason = (r as PromiseRejectedResult).reason as unknown
            // A fake that names the bad path (ScenarioError) keeps it; anything else is pinned on the service.
            if (reason instanceof ScenarioError) return reason.issues
            return [
              { file: scenario.name, path: name, message: (reason as Error)?.message ?? String(reason) },
            ]
          }),
        )
      }
      tenant.engine.setIdentities(seededIdentities(scenario, tenant.id))
      tenant.engine.install(scenario.faults, scenario.seed, scenario.name)
      tenant.scenario = scenario
    } finally {
      release()
    }
    await tenant.engine.settled()
    this.logger.info(
      { scenario: scenario.name, tenant: tenant.id, ms: Math.round(performance.now() - started) },
      'scenario applied',
    )
  }

  // ---- tenants ----

  listTenants() {
    return [...this.router.tenants.values()].map((t) => t.view())
  }

  /** Empties a tenant's journal (replicated: on every replica, at one point of the log). */
  async clearJournal(tenantId: string): Promise<void> {
    if (this.replica)
      await this.replica.submit('mocks.journal.clear', { tenant: tenantId }, { everywhere: true })
    else this.need(tenantId).journal.clear()
  }

  /** A tenant's journal entries; replicated, every replica's, merged. */
  journalOf(tenantId: string, filter: JournalFilter): JournalEntry[] | Promise<JournalEntry[]> {
    const { journal } = this.need(tenantId)
    return this.replica ? this.replica.mergedJournal(tenantId, journal, filter) : journal.list(filter)
  }

  /** A tenant's request-ID report; replicated, of every replica's entries. */
  async requestIdReportOf(tenantId: string): Promise<RequestIdReport> {
    const { journal } = this.need(tenantId)
    if (!this.replica) return journal.requestIdReport()
    return requestIdReport(await this.replica.mergedJournal(tenantId, journal, {}))
  }

  /** A tenant's requests still open; replicated, every replica's (as they published them last). */
  async openRequestsOf(tenantId: string): Promise<OpenRequest[]> {
    const { journal } = this.need(tenantId)
    const own = [...journal.open]
    return this.replica ? [...own, ...(await this.replica.othersOpen(tenantId))] : own
  }

  /** Replicated: other replicas' entries of a tenant's journal as they come (live streams); else nothing. */
  followOthers(tenantId: string, listener: (entry: JournalEntry) => void): () => void {
    return this.replica ? this.replica.followJournal(tenantId, listener) : () => undefined
  }

  /** Adds a runtime fault to a tenant (validated first: 400 with the issues). */
  async addFault(tenantId: string, input: unknown): Promise<FaultView> {
    if (!this.replica) return this.addFaultHere(tenantId, input)
    const fault = this.need(tenantId).engine.validate(input)
    return this.replica.submit('mocks.fault.add', { tenant: tenantId, fault }, { everywhere: true })
  }

  private async addFaultHere(tenantId: string, input: unknown): Promise<FaultView> {
    const { engine } = this.need(tenantId)
    const fault = engine.add(input)
    await engine.settled()
    return fault
  }

  /** Removes runtime or scenario faults of a tenant by id; how many were installed. */
  async removeFaults(tenantId: string, ids: string[]): Promise<number> {
    if (!this.replica) return this.removeFaultsHere(tenantId, ids)
    this.need(tenantId)
    return this.replica.submit('mocks.fault.remove', { tenant: tenantId, ids }, { everywhere: true })
  }

  private async removeFaultsHere(tenantId: string, ids: string[]): Promise<number> {
    const { engine } = this.need(tenantId)
    const removed = ids.filter((id) => engine.remove(id)).length
    await engine.settled()
    return removed
  }

  /** A requested id is well formed and free (checked where the command is taken and where applied). */
  private checkNewId(id: string | undefined): void {
    if (id !== undefined && !isTenantId(id)) throw new TenantError(400, 'invalid_tenant', tenantIdProblem(id))
    if (id !== undefined && this.router.get(id))
      throw new TenantError(409, 'tenant_exists', `Tenant "${id}" exists: delete it first or pick another id`)
  }

  private checkDeletable(id: string): void {
    if (id === DEFAULT_TENANT)
      throw new TenantError(400, 'default_tenant', 'The default tenant cannot be deleted: reset it instead')
  }

  /** A new tenant seeded from a scenario (name or inline), with a given id or a fresh one. */
  async createTenant(request: ScenarioRequest, id?: string): Promise<TenantCreated> {
    if (!this.replica) return this.createTenantHere(request, id)
    this.checkNewId(id)
    this.resolveRequest(request)
    // The id is chosen once, here, and travels in the command: every replica makes the same tenant.
    return this.replica.submit(
      'mocks.tenant.create',
      { request, id: id ?? `t-${randomBytes(6).toString('hex')}` },
      { everywhere: true },
    )
  }

  private async createTenantHere(request: ScenarioRequest, id?: string): Promise<TenantCreated> {
    this.checkNewId(id)
    // Its states are removed by id: a new tenant of that id waits until the old one is gone.
    if (id !== undefined && this.dropping.has(id))
      throw new TenantError(409, 'tenant_exists', `Tenant "${id}" is being deleted: try again in a moment`)
    if (this.router.others().length >= this.tenancy.max)
      throw new TenantError(
        429,
        'tenant_limit',
        `At most ${this.tenancy.max} tenants may be live (MOCKS_MAX_TENANTS): delete one, or wait for idle ones to be removed`,
      )
    const scenario = this.resolveRequest(request)
    const tenant = this.router.add(id ?? `t-${randomBytes(6).toString('hex')}`)
    this.replica?.watchJournal(tenant.id, tenant.journal)
    try {
      for (const [name, entry] of this.services) {
        if (isHttpFake(entry.fake)) tenant.engine.attach(name, this.tenantControls(tenant, name))
      }
      await this.queued(tenant, () => this.apply(scenario, tenant))
    } catch (err) {
      await this.dropTenant(tenant)
      throw err
    }
    if (tenant.deleted)
      throw new TenantError(
        404,
        'unknown_tenant',
        `Tenant "${tenant.id}" was deleted while it was being created`,
      )
    this.onTenantsChanged()
    this.logger.info({ tenant: tenant.id, scenario: scenario.name }, 'tenant created')
    return {
      id: tenant.id,
      scenario: scenario.name,
      header: { name: 'X-Mocks-Tenant', value: tenant.id },
      cookie: { name: TENANT_COOKIE, value: tenant.id },
      env: Object.assign({}, ...this.fakes.map((f) => f.tenantEnv?.(tenant.id, scenario, this.config) ?? {})),
    }
  }

  /** Deletes a tenant and everything it held (sockets closed, held requests cut, files removed). */
  async deleteTenant(id: string): Promise<void> {
    if (!this.replica) return this.deleteTenantHere(id)
    this.checkDeletable(id)
    this.need(id)
    return this.replica.submit('mocks.tenant.delete', { id }, { everywhere: true })
  }

  private async deleteTenantHere(id: string): Promise<void> {
    this.checkDeletable(id)
    const tenant = this.need(id)
    await this.dropTenant(tenant)
    this.onTenantsChanged()
    this.logger.info({ tenant: id }, 'tenant deleted')
  }

  /** Ids whose states are being removed (a new tenant may not take the id until they are). */
  private readonly dropping = new Set<string>()

  private async dropTenant(tenant: Tenant): Promise<void> {
    // New requests naming it get 404 at once; what it holds goes after any switch in progress
    // (which would otherwise put a state back), in the tenant's own queue.
    if (!this.router.remove(tenant)) return
    this.dropping.add(tenant.id)
    // Held requests are cut (the install's epoch aborts), timers stop.
    const cut = () => {
      tenant.engine.install([], 0, tenant.scenario?.name ?? 'deleted')
      tenant.engine.clear()
    }
    cut()
    try {
      await this.queued(tenant, async () => {
        // The fakes close their sockets (1001) and remove files; anything left is cut.
        await Promise.allSettled([...this.services.values()].map((s) => s.fake.dropTenant?.(tenant.id)))
        cut()
        for (const link of tenant.sockets.keys()) link.peer.terminate()
        tenant.journal.end()
        await tenant.engine.settled()
      })
    } finally {
      this.dropping.delete(tenant.id)
    }
  }

  /** A tenant's `down`: nothing closes the shared listener; its sockets on the service are cut. */
  private tenantControls(tenant: Tenant, service: ServiceName): ServiceControls {
    return {
      closesListener: false,
      down: async () => tenant.cutSockets(service),
      up: async () => undefined,
    }
  }

  /**
   * The default tenant drives the real listeners only while it is alone: with any other tenant
   * live its `down` acts as a tenant's does, so a presenter never takes down a parallel suite.
   */
  private onTenantsChanged(): void {
    const alone = this.router.others().length === 0
    const engine = this.faults
    for (const [name, controls] of this.listeners) {
      // A shared service (the database) is the default tenant's alone: its down stays real.
      if (this.isSharedService(name)) continue
      engine.detach(name)
      engine.attach(name, alone ? controls : this.tenantControls(this.router.default, name))
    }
    // Re-attaching decides afresh whether the listener must be down.
    engine.refreshOutages()
    this.scheduleSweep()
  }

  private scheduleSweep(): void {
    const wanted = this.router.others().length > 0
    if (!wanted && this.sweeper) {
      clearInterval(this.sweeper)
      this.sweeper = undefined
    } else if (wanted && !this.sweeper) {
      const every = Math.max(50, Math.min(this.tenancy.idleMs / 4, 30_000))
      this.sweeper = setInterval(() => void this.sweepIdle(), every)
      this.sweeper.unref?.()
    }
  }

  /** Removes tenants idle longer than MOCKS_TENANT_IDLE_MS (no request, no open socket). */
  async sweepIdle(now = Date.now()): Promise<string[]> {
    if (this.sweeping) return []
    if (this.replica) return this.sweepIdleCluster(this.replica)
    this.sweeping = true
    const removed: string[] = []
    try {
      // Each checked again just before it goes: a request may have come meanwhile, or the id
      // may name another tenant by now.
      const late = now - Date.now()
      for (const t of this.router.others()) {
        if (this.router.get(t.id) !== t || !t.idle(Date.now() + late, this.tenancy.idleMs)) continue
        await this.dropTenant(t)
        removed.push(t.id)
      }
    } finally {
      this.sweeping = false
    }
    if (removed.length) {
      this.onTenantsChanged()
      this.logger.info({ tenants: removed }, 'idle tenants removed')
    }
    return removed
  }

  private sweeping = false

  /**
   * Replicated: requests spread over replicas, so idleness is judged cluster-wide. Each replica
   * notes when it last saw each tenant in use (now, while busy here); a tenant none has seen for
   * MOCKS_TENANT_IDLE_MS is deleted through the log, as a DELETE would be (every replica at one
   * point). Two replicas deciding at once: the later delete is refused (the tenant is gone).
   */
  private async sweepIdleCluster(replica: ReplicaLink): Promise<string[]> {
    this.sweeping = true
    const removed: string[] = []
    try {
      for (const t of this.router.others()) {
        const now = Date.now()
        // Busy here: a request, a socket, a live stream (the replica's journal publisher is one
        // subscriber of every tenant's journal, not a watcher).
        const busy = t.inflight > 0 || t.sockets.size > 0 || t.journal.watchers > 1
        const local = busy ? now : t.lastSeen
        const seen = await replica.tenantSeen(t.id, local, 2 * this.tenancy.idleMs + 60_000)
        if (now - seen < this.tenancy.idleMs || this.router.get(t.id) !== t) continue
        try {
          await replica.submit('mocks.tenant.delete', { id: t.id })
          removed.push(t.id)
        } catch {
          // Another replica's sweep deleted it first.
        }
      }
    } catch (err) {
      this.logger.debug({ err: (err as Error).message }, 'replica: idle sweep skipped (Redis?)')
    } finally {
      this.sweeping = false
    }
    if (removed.length) this.logger.info({ tenants: removed }, 'idle tenants removed (cluster-wide)')
    return removed
  }

  /** Gives the real listener controls to the runtime (the default tenant drives them while alone). */
  attachListener(service: ServiceName, controls: ServiceControls): void {
    this.listeners.set(service, controls)
    const alone = this.router.others().length === 0 || this.isSharedService(service)
    this.faults.attach(service, alone ? controls : this.tenantControls(this.router.default, service))
  }

  health(tenantId: string = DEFAULT_TENANT) {
    const services: Record<string, { url: string | null; state: 'up' | 'down' | 'in-process' }> = {}
    const tenant = this.router.get(tenantId)
    for (const [name, s] of this.services) {
      // A tenant's outage closes no listener: its own `down` in force says it.
      const out = tenant?.engine.outage(name) === true && !(s.server && !s.server.listening)
      services[name] = {
        url: s.server ? frontendUrl(s.server.url) : null, // the banner's URL, a frontend's
        state: s.server ? (s.server.listening && !out ? 'up' : 'down') : out ? 'down' : 'in-process',
      }
    }
    return {
      status: 'ok',
      scenario: this.router.get(tenantId)?.scenario?.name ?? null,
      ...(tenantId === DEFAULT_TENANT ? {} : { tenant: tenantId }),
      tenants: this.router.others().length,
      services,
      control: this.control ? frontendUrl(this.control.url) : null,
    }
  }

  async close(): Promise<void> {
    await this.replica?.close()
    if (this.sweeper) clearInterval(this.sweeper)
    this.sweeper = undefined
    for (const t of this.router.others()) await this.dropTenant(t)
    this.faults.clear()
    await this.faults.settled()
    await Promise.all([
      ...[...this.services.values()].map(async (s) => {
        await s.server?.close()
        await s.fake.close?.()
      }),
      this.control?.close(),
    ])
  }
}

export async function startMocks(opts: StartOptions): Promise<Mocks> {
  const { config } = opts
  const known = opts.fakes ?? FAKES
  // Replicated mode loads its module (and ioredis) only when MOCKS_REDIS_URL is set.
  const replica = config.replication
    ? (await import('../replica/index.ts')).createReplica(config.replication, createLogger('replica'))
    : undefined
  const mocks = new Mocks(config, opts.journalLimit, known, replica)
  for (const name of opts.only ?? []) {
    if (!known.some((f) => f.name === name))
      throw new Error(`No fake "${name}" (known: ${known.map((f) => f.name).join(', ')})`)
  }
  // Registry order (auth first there, so the URL chat and media validate sessions against is
  // known before they serve).
  const running = known.filter((f) => !opts.only || opts.only.includes(f.name))
  for (const descriptor of running) {
    const { name } = descriptor
    if (config.ports[name] === undefined)
      throw new Error(`The config has no port for ${name}: load it with loadConfig(env, only, fakes)`)
    // Each fake serves its own slice of the control API, scoped to it.
    const fake = descriptor.create({
      config,
      logger: createLogger(name),
      faults: mocks.router,
      control: createControlApp(mocks, name),
      loopback: mocks.loopback,
      ...(replica ? { replication: replica } : {}),
    })
    if (isHttpFake(fake) === (descriptor.transport === 'tcp'))
      throw new Error(`${name}: transport '${descriptor.transport}' does not match what create() returned`)
    mocks.services.set(name, { descriptor, fake, server: undefined })
  }
  markStartup('fakes-created')
  // The replica's own start-up scenario (not a command of the log); then the log replayed.
  await mocks.switchHere({ name: config.scenario }, DEFAULT_TENANT)
  markStartup('seeded')
  try {
    await replica?.start()
  } catch (err) {
    await mocks.close()
    throw err
  }
  if (opts.listen === false) return mocks
  try {
    for (const [name, entry] of mocks.services) {
      const port = opts.ephemeralPorts ? 0 : (config.ports[name] ?? 0)
      const logger = createLogger(name)
      const { fake } = entry
      let server: ServiceListener
      if (isHttpFake(fake)) {
        const http = await startServer({
          app: fake.app,
          port,
          host: config.host,
          logger,
          websocket: fake.websocket,
        })
        mocks.loopback.add(loopbackOrigins(config.host, http.port), http)
        server = http
      } else server = await fake.listen({ port, host: config.host, logger })
      entry.server = server
      // With ephemeral ports, URLs derived from ports (AUTH_SERVICE_URL, BASE_URL) follow them.
      config.ports[name] = server.port
      entry.descriptor.derive?.(config)
      mocks.attachListener(name, { down: () => server.stopListening(), up: () => server.resumeListening() })
    }
    markStartup('fakes-listening')
    if (opts.control !== false) {
      const app = new Hono().route('/__mocks', createControlApp(mocks)).route('/', createDemoApp(mocks))
      markStartup('control-and-demo-created')
      mocks.control = await startServer({
        app,
        port: opts.ephemeralPorts ? 0 : (config.ports.control ?? CONTROL_PORT.port),
        host: config.host,
        logger: createLogger('control'),
      })
      // The demo's origin (allowed even when MOCKS_ALLOWED_ORIGINS replaces the list) follows its port.
      config.ports.control = mocks.control.port
      refreshDerivedUrls(config)
      markStartup('control-listening')
    }
  } catch (err) {
    await mocks.close()
    throw err
  }
  // Scenario faults that take a listener down apply now that listeners exist. (Replicated: the
  // faults came from the log, keyed by its entries; re-installing would give them new keys.)
  if (replica) mocks.faults.refreshOutages()
  else mocks.faults.install(mocks.scenario.faults, mocks.scenario.seed, mocks.scenario.name)
  await mocks.faults.settled()
  return mocks
}
