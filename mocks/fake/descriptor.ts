/**
 * The service descriptor API. A fake is described once, by the `defineFake({...})` its folder's
 * index.ts exports, and listed once in mocks/registry.ts (`FAKES`); everything that lists fakes
 * derives from the descriptors: config (`port`, `portEnv`; `configure` reads the fake's own env
 * settings, `derive` sets values that follow where it is reached, such as AUTH_SERVICE_URL), the
 * scenario schema and its generated JSON schema (`scenario`: a top-level key, a zod schema with a
 * default, cross-reference `check`s; a fake read its section with `sectionOf`), error bodies
 * (`envelope`: the app's 404/500s and a `status` fault without body), the fault engine's
 * transports (`transport`: 'http', 'http+ws' or 'tcp'), msw's origins and WebSocket path
 * (`frontend.urls`/`wsUrls`, `wsPath`), the banner's and the testcontainers helper's env block
 * (`frontend`, `publicUrlEnv`), the CLI's `--only`, health, and its own control routes
 * (`controlRoutes`). `create(deps)` builds it: for 'http' and 'http+ws' a `FakeService` whose Hono
 * `app` Node and msw both serve (built with `createFakeApp(descriptor, deps)`, which mounts the
 * control slice, CORS and the fault engine in the one right order); for 'tcp' a `TcpFakeService`
 * whose `listen` binds its own listener (`listenTcp` in tcp.ts), which msw cannot serve and
 * `down` faults close and reopen. A descriptor with no `scenario` adds nothing to scenario files.
 * The list is injectable: `startMocks`, `loadConfig`, the scenario loader, the CLI, msw, the
 * testcontainers helper and the schema generator take `fakes` (default: `FAKES`).
 */

import type { Context, Hono } from 'hono'
import type { z } from 'zod'
import type { Env, MocksConfig, PortSpec, ServiceName } from '../core/config.ts'
import { type ErrorEnvelope, plainEnvelope } from '../core/envelope.ts'
import type { Logger } from '../core/logger.ts'
import type { LoopbackRegistry } from '../core/loopback.ts'
import type { Replication } from '../core/replication.ts'
import type { HeaderLookup } from '../core/request-headers.ts'
import { DEFAULT_TENANT } from '../core/tenant.ts'
import type { Transport } from '../core/transport.ts'
import type { FaultPort } from '../faults/engine.ts'
import type { Scenario } from './scenario.ts'

// What a fake gives the runtime. A fake never imports another fake; the runtime (and the
// control plane) talk to each one through these interfaces only.

export interface FakeDeps {
  config: MocksConfig
  logger: Logger
  /** The fault engine, or the tenancy layer's router in front of one engine per tenant. */
  faults: FaultPort
  /**
   * The fake's own slice of the control API, mounted at `/__mocks` in front of everything else
   * (CORS, faults, journal), so those never see a control path. Absent in unit tests.
   */
  control?: Hono
  /**
   * Replicated mode (README "Replicas"): the world's ordered log. A fake submits its state
   * mutations through it and applies them in its handlers; absent in one process.
   */
  replication?: Replication
  /**
   * This process's HTTP listeners, by origin: a fake calling another's URL (chat's and media's
   * get-session) is served in-process through them (core/loopback.ts). Absent: the network.
   */
  loopback?: LoopbackRegistry
}

/** The tenant a state is built for, and the fault port serving it (its WS sockets, sessions). */
export interface TenantScope {
  readonly id: string
  readonly faults: FaultPort
}

interface FakeBase {
  readonly name: ServiceName
  /**
   * Reseed one tenant's state from a resolved scenario (the default tenant when `tenant` is
   * left out). Replaces that state at once: no request sees a mix; other tenants are untouched.
   */
  applyScenario(scenario: Scenario, tenant?: TenantScope): Promise<void>
  /** Forget a tenant: its sockets closed, its files removed, its state gone. */
  dropTenant?(tenant: string): Promise<void> | void
  /** Release timers and sockets (WS hub) when the server stops. */
  close?(): Promise<void> | void
}

/** An HTTP fake ('http' or 'http+ws'). */
export interface FakeService extends FakeBase {
  /** The whole service, including its own `/__mocks/*` slice. Node and msw both serve `app.fetch`. */
  readonly app: Hono
  /** Present when the service accepts WebSocket upgrades (the server creates the ws server). */
  readonly websocket?: { maxPayload: number }
}

/** A bound listener: what the runtime starts, stops (`down`) and reports in health. */
export interface ServiceListener {
  readonly port: number
  readonly host: string
  /** `http://host:port` (health and the banner show it; a TCP fake's `frontend.extra` rewrites it). */
  readonly url: string
  readonly listening: boolean
  /** Close the listener and every open connection (HTTP and WS too): the port refuses connections. */
  stopListening(): Promise<void>
  /** Listen again on the same port. */
  resumeListening(): Promise<void>
  close(): Promise<void>
}

/** A raw-TCP fake ('tcp', e.g. a database wire protocol): it binds its own listener. */
export interface TcpFakeService extends FakeBase {
  listen(opts: { port: number; host: string; logger: Logger }): Promise<ServiceListener>
}

export type AnyFakeService = FakeService | TcpFakeService

/** Reports one problem in a scenario at a dotted path (`chat.messages.3.sender`). */
export type AddIssue = (path: string, message: string) => void

/** A fake's top-level section in scenario files. */
export interface ScenarioSection<T = unknown> {
  /** The top-level key (`chat:`). */
  readonly key: string
  /** Validates the section; must have a `.default(...)` so scenarios may leave it out. */
  readonly schema: z.ZodType<T>
  /** Cross-references zod cannot see (ids that must exist in another section, duplicates). */
  check?(scenario: Scenario, add: AddIssue): void
}

/** Env values a frontend (family-hub, devarno-landing) reads to reach this service. */
export interface FrontendEnv {
  /** Env names whose value is the service's base URL (`CHAT_SERVICE_URL`); msw serves those origins. */
  readonly urls?: readonly string[]
  /** Env names whose value is the URL with a ws:// scheme ('http+ws' only). */
  readonly wsUrls?: readonly string[]
  /**
   * Anything else (a token, a `postgres://` URL), from where the service is reached, the env
   * the mocks were configured from (the process's, or a container's) and, when the caller knows
   * it (the banner), the scenario in force: a value a scenario can set must be the one it set.
   */
  extra?(ctx: {
    url: string
    host: string
    port: number
    env: Env
    scenario?: Scenario
  }): Record<string, string>
}

export interface FakeDescriptor<F extends AnyFakeService = AnyFakeService> extends PortSpec {
  /** Short name: scenario fault `service:`, `--only`, health, journal (`chat`). */
  readonly name: ServiceName
  /** What it fakes, for people (`chat-service`). */
  readonly title: string
  /** Default port (`port`), overridden by env `portEnv` (`MOCKS_CHAT_PORT`), or `PORT` when run alone. */
  readonly port: number
  readonly portEnv: string
  readonly transport: Transport
  readonly scenario?: ScenarioSection
  /** Its error body; default `{error, code}`. */
  readonly envelope: ErrorEnvelope
  readonly frontend: FrontendEnv
  /**
   * The env name the service reads for the public base URL it advertises (media's `BASE_URL`):
   * a container helper fixes that port on the host before starting and sets this env.
   */
  readonly publicUrlEnv?: string
  /** Reads the service's own settings from env into the config (fields it declares on MocksConfig). */
  configure?(config: MocksConfig, env: Env): void
  /**
   * Config values that follow where this service is reached: called at load and once it listens
   * (from `config.ports`, unless set by env), and by msw with the `origin` it serves it on.
   */
  derive?(config: MocksConfig, origin?: string): void
  /** 'http+ws': the path WebSocket upgrades are accepted on (msw's socket bridge routes it). */
  readonly wsPath?: string
  /**
   * A tenant named by the service's own credential (chat: the `tnt` claim of an ephemeral WS
   * token), checked against the other tenant signals like them.
   */
  tenantSignal?(headers: HeaderLookup, search: string): string | undefined
  /** Env a frontend uses to reach one tenant through this service's credential (Upstash's token). */
  tenantEnv?(tenant: string, scenario: Scenario, config: MocksConfig): Record<string, string>
  /** Control API routes of its own, on the control port and every fake's `/__mocks` slice (auth's `/users`). */
  controlRoutes?(app: Hono, host: ControlRouteHost): void
  create(deps: FakeDeps): F
}

/** What a fake's control routes may read: the config, and the scenario of the tenant a call acts on. */
export interface ControlRouteHost {
  readonly config: MocksConfig
  scenarioOf(c: Context): Scenario
  tenantOf(c: Context): string
}

type DescriptorInput<F extends AnyFakeService> = Omit<FakeDescriptor<F>, 'envelope' | 'frontend'> &
  Partial<Pick<FakeDescriptor<F>, 'envelope' | 'frontend'>>

/** Checks a descriptor once, where it is defined, and fills the defaults. */
export function defineFake<F extends AnyFakeService>(input: DescriptorInput<F>): FakeDescriptor<F> {
  if (!/^[a-z][a-z0-9-]*$/.test(input.name) || input.name === 'control') {
    throw new Error(
      `defineFake: "${input.name}" must be lower-case letters, digits and dashes, and not "control"`,
    )
  }
  if (!Number.isInteger(input.port) || input.port < 0 || input.port > 65535) {
    throw new Error(`defineFake(${input.name}): port ${input.port} is not a TCP port`)
  }
  if (input.transport !== 'http+ws' && input.frontend?.wsUrls?.length) {
    throw new Error(`defineFake(${input.name}): wsUrls need transport 'http+ws'`)
  }
  return { envelope: plainEnvelope, frontend: {}, ...input }
}

/** True for the HTTP fakes (what msw serves and the fault engine's HTTP pipeline fronts). */
export function isHttpFake(fake: AnyFakeService): fake is FakeService {
  return 'app' in fake
}

/** The scope a fake builds for: the one given, else the default tenant's on the fake's own port. */
export function scopeOf(deps: Pick<FakeDeps, 'faults'>, tenant?: TenantScope): TenantScope {
  return tenant ?? { id: DEFAULT_TENANT, faults: deps.faults }
}

/** The section of `scenario` a descriptor owns, typed by its schema (fakes added beside the built-ins). */
export function sectionOf<T>(section: ScenarioSection<T>, scenario: Scenario): T {
  return (scenario as Record<string, unknown>)[section.key] as T
}
