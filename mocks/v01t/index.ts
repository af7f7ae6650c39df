import type { FakeDeps, FakeService } from '../core/fake.ts'
import type { Scenario } from '../core/scenario/schema.ts'
import { CurrentState } from '../core/state.ts'
import { createV01tApp } from './app.ts'
import { createV01tState, type V01tState } from './state.ts'

export { createV01tState, type V01tState } from './state.ts'

/** Fake V01T CMS (devarno-landing's public content API), port 8000 by default. */
export interface V01tFake extends FakeService {
  /** The state in force (tests, tooling); replaced whole on every scenario switch. */
  state(): V01tState
}

export function createV01tFake(deps: FakeDeps): V01tFake {
  const current = new CurrentState<V01tState>('v01t')
  const app = createV01tApp(deps, current.stateOf)
  return {
    name: 'v01t',
    app,
    state: () => current.get(),
    async applyScenario(scenario: Scenario) {
      const next = await createV01tState(scenario, deps)
      // One assignment: a request sees the old state or the new one, never a mix.
      current.replace(next)?.dispose()
    },
  }
}
