import { TenantStates } from '../core/state.ts'
import { defineFake, type FakeDeps, type FakeService, scopeOf, type TenantScope } from '../fake/descriptor.ts'
import { authSection, type Scenario } from '../fake/scenario.ts'
import { usersForControl } from '../fake/seeded.ts'
import { authEnvelope } from './envelope.ts'
import { createAuthApp } from './routes.ts'
import { configureAuth } from './settings.ts'
import {
  type AuthState,
  addUser,
  createAuthState,
  EmailTakenError,
  endSession,
  SESSION_ENDED,
  SESSION_MADE,
  type SessionRow,
  storeSession,
  type UserRow,
  userByEmail,
} from './state.ts'

export type { AuthState } from './state.ts'

export interface AuthFake extends FakeService {
  /** A tenant's state (default: the default tenant's; tests, the parity suite). */
  state(tenant?: string): AuthState
}

/** Fake better-auth (family-hub's /api/auth), port 8083 by default. */
export function createAuthFake(deps: FakeDeps): AuthFake {
  const states = new TenantStates<AuthState>('auth')
  const app = createAuthApp(deps, states.stateOf)
  // Replicated mode: sessions made or ended on any replica, applied here in the log's order.
  const log = deps.replication
  if (log) {
    log.handle(SESSION_MADE, (p: { tenant: string; session: SessionRow; user?: UserRow }) => {
      const state = states.peek(p.tenant)
      if (!state) return
      if (p.user) {
        // Applied in log order: the first sign-up with an email wins, the later one is refused.
        if (userByEmail(state, p.user.email)) throw new EmailTakenError()
        addUser(state, p.user)
      }
      const user = state.users.get(p.session.userId)
      if (user) storeSession(state, deps.faults.forTenant(p.tenant), p.session, user)
    })
    log.handle(SESSION_ENDED, (p: { tenant: string; token: string }) => {
      const state = states.peek(p.tenant)
      if (state) endSession(state, deps.faults.forTenant(p.tenant), p.token)
    })
  }
  return {
    name: 'auth',
    app,
    state: (tenant) => states.get(tenant),
    async applyScenario(scenario: Scenario, tenant?: TenantScope) {
      const { id } = scopeOf(deps, tenant)
      states.replace(id, createAuthState(scenario, deps, id))
    },
    dropTenant(tenant) {
      states.remove(tenant)
    },
  }
}

/** Fake better-auth: its descriptor (mocks/fake/descriptor.ts), listed in mocks/registry.ts. */
export const auth = defineFake({
  name: 'auth',
  title: 'better-auth',
  port: 8083,
  portEnv: 'MOCKS_AUTH_PORT',
  transport: 'http',
  envelope: authEnvelope,
  configure: configureAuth,
  scenario: {
    key: 'auth',
    schema: authSection,
    check(s, add) {
      const ids = new Set<string>()
      const emails = new Set<string>()
      s.auth.users.forEach((u, i) => {
        if (ids.has(u.id)) add(`auth.users.${i}.id`, `duplicate user id "${u.id}"`)
        if (emails.has(u.email.toLowerCase())) add(`auth.users.${i}.email`, `duplicate email "${u.email}"`)
        ids.add(u.id)
        emails.add(u.email.toLowerCase())
      })
    },
  },
  frontend: { urls: ['AUTH_SERVICE_URL'] },
  // Seeded users with passwords and signed cookies (tests sign in with them).
  controlRoutes(app, host) {
    app.get('/users', (c) =>
      c.json({ users: usersForControl(host.scenarioOf(c), host.config.betterAuthSecret, host.tenantOf(c)) }),
    )
  },
  // Where chat and media validate sessions follows this service's port, unless set by env.
  derive(config, origin) {
    if (origin) config.authServiceUrl = origin
    else if (!config.explicit.authServiceUrl) config.authServiceUrl = `http://127.0.0.1:${config.ports.auth}`
  },
  create: createAuthFake,
})
