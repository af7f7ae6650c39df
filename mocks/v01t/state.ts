import type { Logger } from '../core/logger.ts'
import type { Scenario } from '../fake/scenario.ts'
import { buildV01tStore, type V01tStore } from './store.ts'

// One V01T world as a value: the records collection and the read model built from it (with
// its per-component memos of orders and list bodies). No app, no server: the app reaches a
// state through `stateOf(c)`. V01T's public API is read-only, so a state holds no sockets,
// timers or files; dispose exists for the uniform lifecycle and drops the memos.

export interface V01tStateDeps {
  logger?: Logger
}

export interface V01tState {
  readonly scenario: Scenario
  readonly store: V01tStore
  dispose(): void
}

/** Builds a fresh state for a scenario. Throws (building nothing) when it cannot be seeded. */
export async function createV01tState(scenario: Scenario, deps: V01tStateDeps = {}): Promise<V01tState> {
  const store = await buildV01tStore(scenario)
  deps.logger?.debug(
    {
      scenario: scenario.name,
      components: [...store.applications]
        .map(([a, comps]) => [...comps].map(([t, v]) => `${a}/${t}=${v.rows.length}`).join(' '))
        .join(' '),
    },
    'v01t seeded',
  )
  return {
    scenario,
    store,
    dispose() {
      for (const components of store.applications.values()) {
        for (const view of components.values()) {
          view.orders.clear()
          view.bodies.clear()
          view.searches.clear()
        }
      }
    },
  }
}
