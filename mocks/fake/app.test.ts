import { Hono } from 'hono'
import { describe, expect, it } from 'vitest'
import { plainEnvelope } from '../core/envelope.ts'
import { Journal } from '../core/journal.ts'
import { createLogger } from '../core/logger.ts'
import { FaultEngine } from '../faults/engine.ts'
import { loadConfig } from '../runtime/config.ts'
import { faultHost } from '../runtime/fault-host.ts'
import { createFakeApp } from './app.ts'

// Faults, journal and CORS are kept off `/__mocks/*` by how the app is mounted: the control
// slice first, with a catch-all, so nothing registered after it ever sees a control path.

describe('createFakeApp', () => {
  it('serves the control slice ahead of CORS, faults and the journal', async () => {
    const config = loadConfig({})
    const journal = new Journal()
    const faults = new FaultEngine({
      ...faultHost(config),
      journal,
      logger: createLogger('faults'),
    })
    const control = new Hono()
    control.get('/health', (c) => c.json({ ok: true }))
    control.all('*', (c) => c.json({ error: 'no control route', code: 'not_found' }, 404))
    const app = createFakeApp(
      { name: 'v01t', envelope: plainEnvelope },
      { config, logger: createLogger('t'), faults, control },
      {
        cors: { origin: '*', allowMethods: ['GET'] },
      },
    )
    app.get('/x', (c) => c.text('ok'))
    faults.add({ service: 'v01t', effect: { type: 'status', status: 503 } })
    const origin = { origin: 'https://casa.devarno.cloud' }
    const health = await app.request('/__mocks/health', { headers: origin })
    expect(health.status).toBe(200)
    expect(health.headers.get('access-control-allow-origin')).toBeNull()
    expect((await app.request('/__mocks', { headers: origin })).status).toBe(404)
    const faulted = await app.request('/x', { headers: origin })
    expect(faulted.status).toBe(503)
    expect(faulted.headers.get('access-control-allow-origin')).toBe('*')
    expect(journal.list({}).map((e) => e.path)).toEqual(['/x'])
  })
})
