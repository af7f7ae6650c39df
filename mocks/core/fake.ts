import type { Hono } from 'hono'
import type { FaultEngine } from '../faults/engine.ts'
import type { MocksConfig, ServiceName } from './config.ts'
import type { Logger } from './logger.ts'
import type { Scenario } from './scenario/schema.ts'

// What a fake gives the runtime. A fake never imports another fake; the runtime (and the
// control plane) talk to each one through this interface only.

export interface FakeDeps {
  config: MocksConfig
  logger: Logger
  faults: FaultEngine
}

export interface FakeService {
  readonly name: ServiceName
  /** The whole service, including its own `/__mocks/*` slice. Node and msw both serve `app.fetch`. */
  readonly app: Hono
  /** Reseed from a resolved scenario. Replaces all state at once: no request sees a mix. */
  applyScenario(scenario: Scenario): Promise<void>
  /** Present when the service accepts WebSocket upgrades (the server creates the ws server). */
  readonly websocket?: { maxPayload: number }
  /** Release timers and sockets (WS hub) when the server stops. */
  close?(): Promise<void> | void
}
