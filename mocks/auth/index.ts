import { createFakeApp } from '../core/app.ts'
import type { FakeDeps, FakeService } from '../core/fake.ts'
import type { Scenario } from '../core/scenario/schema.ts'
import { type AuthState, registerAuthRoutes } from './routes.ts'
import { buildAuthStore } from './store.ts'

/** Fake better-auth (family-hub's /api/auth), port 8083 by default. */
export function createAuthFake(deps: FakeDeps): FakeService {
  const app = createFakeApp('auth', deps)
  let state: AuthState | undefined
  const current = (): AuthState => {
    if (!state) throw new Error('auth fake used before a scenario was applied')
    return state
  }
  registerAuthRoutes(app, deps, current)
  return {
    name: 'auth',
    app,
    async applyScenario(scenario: Scenario) {
      const store = await buildAuthStore(scenario)
      state = {
        store,
        noSession: scenario.auth.noSession,
        sessionTtlDays: scenario.auth.sessionTtlDays,
        wsTokenTtlSeconds: scenario.auth.wsTokenTtlSeconds,
      }
    },
  }
}
