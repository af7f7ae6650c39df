import { Journal } from '../core/journal.ts'
import { createLogger } from '../core/logger.ts'
import { promiseOf } from '../core/promises.ts'
import type { FakeDeps, FakeService } from '../fake/descriptor.ts'
import type { Scenario } from '../fake/scenario.ts'
import { seededIdentities, usersForControl } from '../fake/seeded.ts'
import { FaultEngine } from '../faults/engine.ts'
import { FAKES } from '../registry.ts'
import { type Env, loadConfig } from './config.ts'
import { faultHost } from './fault-host.ts'
import { ScenarioError, ScenarioLoader } from './scenario-loader.ts'

// The one in-process harness for tests beside the code: a fake under test (and, when it calls
// another service, companions such as auth, served in-process too), their deps, a scenario
// applied, requests through `app.request()` with no socket. Real sockets: tests/helpers.ts.

/** What the harness gives a factory beside its deps: get-session routed to the companions. */
export interface HarnessTools {
  fetch: typeof fetch
}

export type HarnessFactory<F extends FakeService> = (deps: FakeDeps, tools: HarnessTools) => F

export interface InProcessOptions {
  scenario?: string | Scenario
  env?: Env
  /**
   * Fakes served beside the one under test (for chat and media: auth, which their get-session
   * calls reach in-process). They share its deps (config, fault engine, journal) and scenario.
   */
  companions?: HarnessFactory<FakeService>[]
  /** Wraps (or replaces) the fetch the fake's outbound calls use: spies, failing auth. */
  fetch?: (viaCompanions: typeof fetch) => typeof fetch
}

export interface InProcessFake<F extends FakeService> {
  fake: F
  deps: FakeDeps
  journal: Journal
  faults: FaultEngine
  loader: ScenarioLoader
  companions: FakeService[]
  /** What the factories were given (`tools.fetch`: get-session routed to the companions). */
  tools: HarnessTools
  /** The scenario in force (after `extends`). */
  readonly scenario: Scenario
  /** `better-auth.session_token=<signed>` for a seeded user id. */
  cookieFor(userId: string): string
  /** The signed cookie value alone (the chat socket's `?token=`). */
  tokenFor(userId: string): string
  /** `fake.app.request`, with `as` adding that seeded user's session cookie. */
  request(path: string, init?: RequestInit & { as?: string }): Promise<Response>
  /** Applies a scenario (by name or resolved) to the fake and its companions, and installs its faults. */
  use(scenario: string | Scenario): Promise<void>
  /** `use` for an inline scenario as `PUT /__mocks/scenario` takes it (`extends` resolved; rejects on errors). */
  useInline(raw: unknown): Promise<void>
  /** Releases what the fakes hold (sockets, files, timers). */
  close(): Promise<void>
}

export async function inProcess<F extends FakeService>(
  factory: HarnessFactory<F>,
  scenarioOrOptions: string | Scenario | InProcessOptions = {},
  env: Env = {},
): Promise<InProcessFake<F>> {
  const opts: InProcessOptions =
    typeof scenarioOrOptions === 'string' || 'seed' in scenarioOrOptions
      ? { scenario: scenarioOrOptions as string | Scenario, env }
      : { env, ...scenarioOrOptions }
  const config = loadConfig(opts.env ?? {})
  const journal = new Journal(1000)
  // What the runtime tells the engine: services, identity, each service's error envelope.
  const faults = new FaultEngine({ ...faultHost(config), journal, logger: createLogger('faults') })
  const deps: FakeDeps = { config, logger: createLogger('test'), faults }
  const companions: FakeService[] = []
  const viaCompanions: typeof fetch = async (input, init) => {
    const url = new URL(input instanceof Request ? input.url : String(input))
    const auth = companions.find((c) => c.name === 'auth')
    if (auth && url.pathname.startsWith('/api/auth/')) return await auth.app.request(url.href, init)
    return await fetch(input, init)
  }
  const tools: HarnessTools = { fetch: opts.fetch ? opts.fetch(viaCompanions) : viaCompanions }
  for (const make of opts.companions ?? []) {
    companions.push(make({ ...deps, logger: createLogger('companion') }, tools))
  }
  const fake = factory(deps, tools)
  const loader = new ScenarioLoader(config.scenariosDir, FAKES, {
    checkFaults: (list) => faults.checkScenarioFaults(list),
  })
  let scenario: Scenario | undefined
  const current = () => {
    if (!scenario) throw new Error('no scenario applied yet')
    return scenario
  }
  const tokenFor = (userId: string) => {
    const u = usersForControl(current(), config.betterAuthSecret).find((x) => x.id === userId)
    if (!u?.cookieValue) throw new Error(`no seeded session for ${userId}`)
    return u.cookieValue
  }
  const cookieFor = (userId: string) => {
    const u = usersForControl(current(), config.betterAuthSecret).find((x) => x.id === userId)
    if (!u?.cookieValue) throw new Error(`no seeded session for ${userId}`)
    return `${u.cookieName}=${u.cookieValue}`
  }
  const harness: InProcessFake<F> = {
    fake,
    deps,
    journal,
    faults,
    loader,
    companions,
    tools,
    get scenario() {
      return current()
    },
    cookieFor,
    tokenFor,
    request(path, init = {}) {
      const { as, ...rest } = init
      // A promise however the app answers: synchronously, or by throwing (a non-Error thrown).
      if (as === undefined) return promiseOf(() => fake.app.request(path, rest))
      const headers = new Headers(rest.headers)
      headers.set('cookie', cookieFor(as))
      return promiseOf(() => fake.app.request(path, { ...rest, headers }))
    },
    async use(s) {
      const resolved = typeof s === 'string' ? loader.load(s) : s
      for (const c of companions) await c.applyScenario(resolved)
      await fake.applyScenario(resolved)
      faults.setIdentities(seededIdentities(resolved))
      faults.install(resolved.faults, resolved.seed, resolved.name)
      scenario = resolved
    },
    async useInline(raw) {
      await harness.use(loader.resolveInline(raw))
    },
    async close() {
      faults.clear()
      await faults.settled()
      await fake.close?.()
      for (const c of companions) await c.close?.()
    },
  }
  await harness.use(opts.scenario ?? 'default')
  return harness
}

/** The ScenarioError `fn` throws (tests of scenario loading); anything else is rethrown. */
export function scenarioErrorOf(fn: () => unknown): ScenarioError {
  try {
    fn()
  } catch (err) {
    if (err instanceof ScenarioError) return err
    throw err
  }
  throw new Error('expected a ScenarioError')
}
