import { TenantStates } from '../core/state.ts'
import { defineFake, type FakeDeps, type FakeService, scopeOf, type TenantScope } from '../fake/descriptor.ts'
import { type Scenario, v01tSection } from '../fake/scenario.ts'
import { createV01tApp } from './app.ts'
import { v01tEnvelope } from './envelope.ts'
import { createV01tState, type V01tState } from './state.ts'

export { createV01tState, type V01tState } from './state.ts'

export interface V01tFake extends FakeService {
  /** A tenant's state (default: the default tenant's); replaced whole on every scenario switch. */
  state(tenant?: string): V01tState
}

/** Fake V01T CMS (devarno-landing's public content API), port 8000 by default. */
export function createV01tFake(deps: FakeDeps): V01tFake {
  const states = new TenantStates<V01tState>('v01t')
  const app = createV01tApp(v01t, deps, states.stateOf)
  return {
    name: 'v01t',
    app,
    state: (tenant) => states.get(tenant),
    async applyScenario(scenario: Scenario, tenant?: TenantScope) {
      const next = await createV01tState(scenario, deps)
      // One assignment: a request sees the old state or the new one, never a mix.
      states.replace(scopeOf(deps, tenant).id, next)?.dispose()
    },
    dropTenant(tenant) {
      states.remove(tenant)?.dispose()
    },
  }
}

/** Fake V01T CMS: its descriptor (mocks/fake/descriptor.ts), listed in mocks/registry.ts. */
export const v01t = defineFake({
  name: 'v01t',
  title: 'V01T CMS',
  port: 8000,
  portEnv: 'MOCKS_V01T_PORT',
  transport: 'http',
  envelope: v01tEnvelope,
  scenario: {
    key: 'v01t',
    schema: v01tSection,
    // Application slugs, component types and record slugs unique where V01T keys them.
    check(s, add) {
      const apps = new Set<string>()
      s.v01t.applications.forEach((a, i) => {
        if (apps.has(a.slug)) add(`v01t.applications.${i}.slug`, `duplicate application "${a.slug}"`)
        apps.add(a.slug)
        const comps = new Set<string>()
        a.components.forEach((c, j) => {
          if (comps.has(c.slug))
            add(`v01t.applications.${i}.components.${j}.slug`, `duplicate component type "${c.slug}"`)
          comps.add(c.slug)
          const slugs = new Set<string>()
          c.records.forEach((r, k) => {
            if (slugs.has(r.slug))
              add(`v01t.applications.${i}.components.${j}.records.${k}.slug`, `duplicate slug "${r.slug}"`)
            slugs.add(r.slug)
          })
        })
      })
    },
  },
  // V01T is reached by two names: server side and in the browser.
  frontend: { urls: ['V01T_API_URL', 'NEXT_PUBLIC_V01T_API_URL'] },
  create: createV01tFake,
})
