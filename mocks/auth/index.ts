import type { FakeDeps, FakeService } from '../core/fake.ts'
import type { Scenario } from '../core/scenario/schema.ts'
import { createAuthApp } from './routes.ts'
import { type AuthState, createAuthState } from './state.ts'

export type { AuthState } from './state.ts'

export interface AuthFake extends FakeService {
  /** The state in force (tests, the parity suite); replaced whole on every scenario switch. */
  state(): AuthState
}

/** Fake better-auth (family-hub's /api/auth), port 8083 by default. */
export function createAuthFake(deps: FakeDeps): AuthFake {
  let state: AuthState | undefined
  const current = (): AuthState => {
    if (!state) throw new Error('auth fake used before a scenario was applied')
    return state
  }
  const app = createAuthApp(deps, current)
  return {
    name: 'auth',
    app,
    state: current,
    async applyScenario(scenario: Scenario) {
      state = createAuthState(scenario, deps)
    },
  }
}
