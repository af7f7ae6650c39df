import { Hono } from 'hono'
import { CONTROL_PORT, type MocksConfig, type ServiceName } from '../core/config.ts'
import { Journal } from '../core/journal.ts'
import { createLogger, type Logger } from '../core/logger.ts'
import { markStartup } from '../core/startup.ts'
import { createDemoApp } from '../demo/index.ts'
import {
  type AnyFakeService,
  type FakeDescriptor,
  isHttpFake,
  type ServiceListener,
} from '../fake/descriptor.ts'
import type { Scenario } from '../fake/scenario.ts'
import { seededIdentities } from '../fake/seeded.ts'
import { FaultEngine } from '../faults/engine.ts'
import { FAKES } from '../registry.ts'
import { refreshDerivedUrls } from './config.ts'
import { createControlApp, type ScenarioRequest } from './control.ts'
import { faultHost } from './fault-host.ts'
import { frontendUrl } from './frontend-env.ts'

export type { ScenarioRequest } from './control.ts'

import { ScenarioError, ScenarioLoader } from './scenario-loader.ts'
import { startServer } from './server.ts'

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

export class Mocks {
  readonly journal: Journal
  readonly faults: FaultEngine
  readonly loader: ScenarioLoader
  readonly services = new Map<ServiceName, RunningFake>()
  readonly logger: Logger
  control: ServiceListener | undefined
  private current: Scenario | undefined
  private queue: Promise<unknown> = Promise.resolve()

  constructor(
    readonly config: MocksConfig,
    journalLimit = 5000,
    /** Every fake known to this runtime (the registry unless injected). */
    readonly fakes: readonly FakeDescriptor[] = FAKES,
  ) {
    this.logger = createLogger('mocks')
    this.journal = new Journal(journalLimit)
    this.faults = new FaultEngine({
      ...faultHost(config, fakes),
      journal: this.journal,
      logger: createLogger('faults'),
    })
    // Scenario faults get the checks runtime faults get (the loader imports no fault code).
    this.loader = new ScenarioLoader(config.scenariosDir, fakes, {
      checkFaults: (faults) => this.faults.checkScenarioFaults(faults),
    })
  }

  /** A running HTTP fake's app (tests, benchmarks); throws for an unknown or TCP service. */
  app(service: ServiceName): Hono {
    const fake = this.services.get(service)?.fake
    if (!fake || !isHttpFake(fake)) throw new Error(`${service} is not a running HTTP fake`)
    return fake.app
  }

  get scenario(): Scenario {
    if (!this.current) throw new Error('no scenario applied yet')
    return this.current
  }

  /** The services this runtime runs, in registry order. */
  running(): ServiceName[] {
    return [...this.services.keys()]
  }

  /** Base URL of a running service (its real port). */
  url(service: ServiceName): string | undefined {
    return this.services.get(service)?.server?.url
  }

  /** Apply a scenario by name or inline; serialized, so concurrent switches apply in order. */
  switchScenario(request: ScenarioRequest): Promise<Scenario> {
    const run = async () => {
      const scenario =
        'name' in request ? this.loader.load(request.name) : this.loader.resolveInline(request.scenario)
      markStartup('scenario-parsed')
      await this.apply(scenario)
      return scenario
    }
    const next = this.queue.then(run, run)
    this.queue = next.catch(() => undefined)
    return next
  }

  /** Back to the current scenario's first state: reseed, scenario faults only, empty journal. */
  reset(): Promise<Scenario> {
    const run = async () => {
      await this.apply(this.scenario)
      this.journal.clear()
      return this.scenario
    }
    const next = this.queue.then(run, run)
    this.queue = next.catch(() => undefined)
    return next
  }

  private async apply(scenario: Scenario): Promise<void> {
    const started = performance.now()
    const release = this.faults.pause()
    try {
      const results = await Promise.allSettled(
        [...this.services.values()].map(async (s) => {
          await s.fake.applyScenario(scenario)
          markStartup(`seeded:${s.descriptor.name}`)
        }),
      )
      const failed = results.flatMap((r, i) =>
        r.status === 'rejected' ? [{ r, name: [...this.services.keys()][i]! }] : [],
      )
      if (failed.length) {
        // Never leave services on different scenarios: put every fake back on the old one.
        const previous = this.current
        if (previous)
          await Promise.allSettled([...this.services.values()].map((s) => s.fake.applyScenario(previous)))
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
      this.faults.setIdentities(seededIdentities(scenario))
      this.faults.install(scenario.faults, scenario.seed, scenario.name)
      this.current = scenario
    } finally {
      release()
    }
    await this.faults.settled()
    this.logger.info(
      { scenario: scenario.name, ms: Math.round(performance.now() - started) },
      'scenario applied',
    )
  }

  health() {
    const services: Record<string, { url: string | null; state: 'up' | 'down' | 'in-process' }> = {}
    for (const [name, s] of this.services) {
      services[name] = {
        url: s.server ? frontendUrl(s.server.url) : null, // the banner's URL, a frontend's
        state: s.server ? (s.server.listening ? 'up' : 'down') : 'in-process',
      }
    }
    return {
      status: 'ok',
      scenario: this.current?.name ?? null,
      services,
      control: this.control ? frontendUrl(this.control.url) : null,
    }
  }

  async close(): Promise<void> {
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
  const mocks = new Mocks(config, opts.journalLimit, known)
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
      faults: mocks.faults,
      control: createControlApp(mocks, name),
    })
    if (isHttpFake(fake) === (descriptor.transport === 'tcp'))
      throw new Error(`${name}: transport '${descriptor.transport}' does not match what create() returned`)
    mocks.services.set(name, { descriptor, fake, server: undefined })
  }
  markStartup('fakes-created')
  await mocks.switchScenario({ name: config.scenario })
  markStartup('seeded')
  if (opts.listen === false) return mocks
  try {
    for (const [name, entry] of mocks.services) {
      const port = opts.ephemeralPorts ? 0 : (config.ports[name] ?? 0)
      const logger = createLogger(name)
      const { fake } = entry
      const server = isHttpFake(fake)
        ? await startServer({ app: fake.app, port, host: config.host, logger, websocket: fake.websocket })
        : await fake.listen({ port, host: config.host, logger })
      entry.server = server
      // With ephemeral ports, URLs derived from ports (AUTH_SERVICE_URL, BASE_URL) follow them.
      config.ports[name] = server.port
      entry.descriptor.derive?.(config)
      mocks.faults.attach(name, { down: () => server.stopListening(), up: () => server.resumeListening() })
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
  // Scenario faults that take a listener down apply now that listeners exist.
  mocks.faults.install(mocks.scenario.faults, mocks.scenario.seed, mocks.scenario.name)
  await mocks.faults.settled()
  return mocks
}
