import { Hono } from 'hono'
import type { FakeDeps, FakeService } from '../core/fake.ts'
import type { RunningServer } from '../core/server.ts'
import { createDbFake } from './index.ts'
import { tcpBehaviour } from './tcp-effects.ts'

// The db service as today's runtime takes a fake: a FakeService whose `listen` binds the TCP
// fault proxy instead of serving `app` (which holds only the control slice the runtime mounts).
// Faults come from the shared engine (`fireTcp`: windows, times, seeded probability), the
// listener is what `down` closes, and connections are journaled as `tcp-*` entries.

export function createDbService(
  deps: FakeDeps,
  env: Record<string, string | undefined> = process.env,
): FakeService {
  const { config, faults } = deps
  const fake = createDbFake({
    host: config.host,
    port: config.ports.db,
    env,
    scenariosDir: config.scenariosDir,
    decide: (_conn, moment) =>
      faults.fireTcp('db', (type) => tcpBehaviour(type)?.moments.includes(moment) ?? false),
    record: (e) =>
      faults.journal.record({
        service: 'db',
        kind: `tcp-${e.event}`,
        method: 'TCP',
        path: e.kind === 'http' ? 'neon-http' : (e.kind ?? ''),
        route: '',
        query: '',
        status: null,
        durationMs: e.event === 'close' ? e.durationMs : null,
        requestHeaders: {},
        fault: e.fault,
        connection: e.id,
        bytesIn: e.bytesIn,
        bytesOut: e.bytesOut,
        ...(e.text === undefined ? {} : { frame: e.text }),
      }),
    logger: deps.logger,
  })
  const { service } = fake
  return {
    name: 'db',
    app: new Hono(),
    applyScenario: (scenario) => fake.applyScenario(scenario.db),
    async listen({ port, host }): Promise<RunningServer> {
      await service.start(port)
      return {
        get port() {
          return service.port
        },
        host,
        get url() {
          return service.url
        },
        get listening() {
          return service.proxy.listening
        },
        stopListening: () => service.proxy.stopListening(),
        resumeListening: () => service.proxy.resumeListening(),
        close: () => service.proxy.close(),
      }
    },
    close: () => fake.close(),
  }
}
