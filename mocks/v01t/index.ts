import { createFakeApp } from '../fake/app.ts'
import { defineFake, type FakeDeps, type FakeService } from '../fake/descriptor.ts'
import { type Scenario, v01tSection } from '../fake/scenario.ts'
import { v01tEnvelope } from './envelope.ts'
import { registerV01tRoutes } from './routes.ts'
import { buildV01tStore, type V01tStore } from './store.ts'

/** Fake V01T CMS (devarno-landing's public content API), port 8000 by default. */
export function createV01tFake(deps: FakeDeps): FakeService {
  // CORS in front of the fault engine, as django-cors-headers sits in front of V01T's views:
  // browsers (NEXT_PUBLIC_V01T_API_URL) can read every answer, an injected 500 included, and
  // preflights are answered whatever the path. The control slice stays same-origin.
  const app = createFakeApp(v01t, deps, {
    cors: { origin: '*', allowMethods: ['GET', 'HEAD', 'OPTIONS'], maxAge: 86400 },
  })
  let store: V01tStore | undefined
  registerV01tRoutes(app, () => {
    if (!store) throw new Error('v01t fake used before a scenario was applied')
    return store
  })

  return {
    name: 'v01t',
    app,
    async applyScenario(scenario: Scenario) {
      const next = await buildV01tStore(scenario)
      // One assignment: a request sees the old store or the new one, never a mix.
      store = next
      const counts = [...next.applications].map(([a, comps]) =>
        [...comps].map(([t, v]) => `${a}/${t}=${v.rows.length}`).join(' '),
      )
      deps.logger.debug({ scenario: scenario.name, components: counts.join(' ') }, 'v01t seeded')
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
