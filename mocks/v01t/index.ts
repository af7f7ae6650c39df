import { createFakeApp } from '../fake/app.ts'
import type { FakeDeps, FakeService } from '../fake/descriptor.ts'
import type { Scenario } from '../fake/scenario.ts'
import { registerV01tRoutes } from './routes.ts'
import { buildV01tStore, type V01tStore } from './store.ts'

/** Fake V01T CMS (devarno-landing's public content API), port 8000 by default. */
export function createV01tFake(deps: FakeDeps): FakeService {
  // CORS in front of the fault engine, as django-cors-headers sits in front of V01T's views:
  // browsers (NEXT_PUBLIC_V01T_API_URL) can read every answer, an injected 500 included, and
  // preflights are answered whatever the path. The control slice stays same-origin.
  const app = createFakeApp('v01t', deps, {
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
