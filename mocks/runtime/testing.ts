import { Journal } from '../core/journal.ts'
import { createLogger } from '../core/logger.ts'
import type { FakeDeps, FakeService } from '../fake/descriptor.ts'
import type { Scenario } from '../fake/scenario.ts'
import { seededIdentities, usersForControl } from '../fake/seeded.ts'
import { FaultEngine } from '../faults/engine.ts'
import { FAKES } from '../registry.ts'
import { type Env, loadConfig } from './config.ts'
import { faultHost } from './fault-host.ts'
import { ScenarioLoader } from './scenario-loader.ts'

// In-process harness for tests beside the code: one fake, its deps, a scenario applied,
// requests through `app.request()` with no socket.

export interface InProcessFake<F extends FakeService> {
  fake: F
  deps: FakeDeps
  scenario: Scenario
  /** `better-auth.session_token=<signed>` for a seeded user id. */
  cookieFor(userId: string): string
  use(scenario: string | Scenario): Promise<void>
}

export async function inProcess<F extends FakeService>(
  factory: (deps: FakeDeps) => F,
  scenario: string | Scenario = 'default',
  env: Env = {},
): Promise<InProcessFake<F>> {
  const config = loadConfig(env)
  const deps: FakeDeps = {
    config,
    logger: createLogger('test'),
    faults: new FaultEngine({
      ...faultHost(config),
      journal: new Journal(1000),
      logger: createLogger('faults'),
    }),
  }
  const fake = factory(deps)
  const loader = new ScenarioLoader(config.scenariosDir, FAKES, {
    checkFaults: (faults) => deps.faults.checkScenarioFaults(faults),
  })
  const harness: InProcessFake<F> = {
    fake,
    deps,
    scenario: undefined as unknown as Scenario,
    cookieFor(userId) {
      const u = usersForControl(harness.scenario, config.betterAuthSecret).find((x) => x.id === userId)
      if (!u?.cookieValue) throw new Error(`no seeded session for ${userId}`)
      return `${u.cookieName}=${u.cookieValue}`
    },
    async use(s) {
      const resolved = typeof s === 'string' ? loader.load(s) : s
      await fake.applyScenario(resolved)
      deps.faults.setIdentities(seededIdentities(resolved))
      deps.faults.install(resolved.faults, resolved.seed, resolved.name)
      harness.scenario = resolved
    },
  }
  await harness.use(scenario)
  return harness
}
