import { describe, expect, it } from 'vitest'
import { plainEnvelope } from '../core/envelope.ts'
import { Journal } from '../core/journal.ts'
import { createLogger } from '../core/logger.ts'
import { createFakeApp } from '../fake/app.ts'
import { loadConfig } from '../runtime/config.ts'
import { faultHost } from '../runtime/fault-host.ts'
import { FaultEngine } from './engine.ts'

// The engine looks faults with one literal path up by the request's path and tests the others
// one by one: whatever the mix, the faults that act are the ones that match, in install order.

function setup() {
  const config = loadConfig({})
  const journal = new Journal()
  const faults = new FaultEngine({ ...faultHost(config), journal, logger: createLogger('faults') })
  const app = createFakeApp(
    { name: 'v01t', envelope: plainEnvelope },
    { config, logger: createLogger('v01t'), faults },
  )
  app.all('*', (c) => c.text('ok'))
  const status = async (path: string, method = 'GET') => (await app.request(path, { method })).status
  return { faults, journal, status }
}

describe('fault lookup', () => {
  it('acts with the first matching fault in install order, literal paths and others mixed', async () => {
    const { faults, status } = setup()
    const literal = faults.add({
      service: 'v01t',
      match: { path: '/a/b' },
      effect: { type: 'status', status: 503 },
    })
    faults.add({ service: 'v01t', match: { method: 'POST' }, effect: { type: 'status', status: 500 } })
    faults.add({ service: 'v01t', match: { path: '/p/:id' }, effect: { type: 'status', status: 502 } })
    faults.add({ service: 'auth', match: { path: '/c' }, effect: { type: 'status', status: 504 } })
    expect(await status('/a/b')).toBe(503)
    expect(await status('/a/b/')).toBe(503)
    expect(await status('/a/b//')).toBe(200)
    expect(await status('/a/bc')).toBe(200)
    expect(await status('/a/b', 'POST')).toBe(503)
    expect(await status('/x', 'POST')).toBe(500)
    expect(await status('/p/42')).toBe(502)
    expect(await status('/p/42', 'POST')).toBe(500)
    // Another service's fault on a path never acts here.
    expect(await status('/c')).toBe(200)

    // Removed and added again: now after the POST fault, which acts first.
    faults.remove(literal.id)
    expect(await status('/a/b')).toBe(200)
    faults.add({ service: 'v01t', match: { path: '/a/b/' }, effect: { type: 'status', status: 503 } })
    expect(await status('/a/b', 'POST')).toBe(500)
    expect(await status('/a/b')).toBe(503)
  })

  it('a reset installs the scenario faults in place of every other', async () => {
    const { faults, status } = setup()
    faults.add({ service: 'v01t', match: { path: '/a' }, effect: { type: 'status', status: 503 } })
    faults.install(
      [{ service: 'v01t', match: { path: '/b' }, effect: { type: 'status', status: 500 } }],
      1,
      's',
    )
    expect(await status('/a')).toBe(200)
    expect(await status('/b')).toBe(500)
    faults.clear()
    expect(await status('/b')).toBe(200)
  })
})
