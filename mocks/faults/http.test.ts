import { Hono } from 'hono'
import { describe, expect, it } from 'vitest'
import { Journal } from '../core/journal.ts'
import { createLogger } from '../core/logger.ts'
import { FaultEngine, type FaultHost } from './engine.ts'

// The HTTP pipeline and its journal, in-process, with a host made up for the test: the engine
// takes services, identity and error bodies from it and from nowhere else.

function setup(host: Partial<FaultHost> = {}) {
  const journal = new Journal()
  const faults = new FaultEngine({
    services: { web: 'http', hub: 'http+ws' },
    identify: ({ headers }) => headers.get('x-session') ?? undefined,
    errorBody: (service, status) => ({ from: service, status }),
    ...host,
    journal,
    logger: createLogger('test'),
  })
  faults.setIdentities([['tok-ann', { userId: 'ann', email: 'ann@x.test' }]])
  const app = new Hono()
  app.use('*', faults.http('web' as never))
  app.get('/items/:id', (c) => c.text('item'))
  return { faults, journal, app }
}

describe('fault pipeline', () => {
  it("a status fault's default body is the host's error body for the service", async () => {
    const { faults, app } = setup()
    faults.add({ service: 'web', effect: { type: 'status', status: 503 } })
    const res = await app.request('/items/1')
    expect(res.status).toBe(503)
    expect(await res.json()).toEqual({ from: 'web', status: 503 })
  })

  it('a status or ws-reject fault with a null body status (204, 205, 304) answers it without a body', async () => {
    for (const status of [204, 205, 304]) {
      const { faults, app } = setup()
      faults.add({ service: 'web', effect: { type: 'status', status } })
      const res = await app.request('/items/1')
      expect(res.status).toBe(status)
      expect(await res.text()).toBe('')
      faults.add({ service: 'hub', effect: { type: 'ws-reject', status } })
      const hub = new Hono()
      hub.use('*', faults.http('hub' as never))
      hub.get('/ws', (c) => c.text('upgraded'))
      const refused = await hub.request('/ws', { headers: { upgrade: 'websocket', connection: 'Upgrade' } })
      expect(refused.status).toBe(status)
      expect(await refused.text()).toBe('')
    }
  })

  it('user and session matches use the host identify and the session directory', async () => {
    const { faults, app, journal } = setup()
    faults.add({ service: 'web', match: { user: 'ANN@x.test' }, effect: { type: 'status', status: 500 } })
    expect((await app.request('/items/1')).status).toBe(200)
    expect((await app.request('/items/1', { headers: { 'x-session': 'tok-bob' } })).status).toBe(200)
    expect((await app.request('/items/1', { headers: { 'x-session': 'tok-ann' } })).status).toBe(500)
    expect(journal.list().map((e) => e.userId)).toEqual([undefined, undefined, 'ann'])
    faults.registerSession('tok-bob', { userId: 'bob', email: 'ann@x.test' })
    expect((await app.request('/items/1', { headers: { 'x-session': 'tok-bob' } })).status).toBe(500)
    expect(faults.tokenFrom('ignored')).toBeUndefined()
  })

  it('journals each request once, crediting the effect that decided the answer', async () => {
    const { faults, app, journal } = setup()
    expect((await app.request('/items/1?a=1')).status).toBe(200)
    faults.add({ id: 'slow', service: 'web', effect: { type: 'latency', ms: 5 } })
    expect((await app.request('/items/2')).status).toBe(200)
    faults.add({
      id: 'boom',
      service: 'web',
      match: { path: '/items/3' },
      effect: { type: 'status', status: 502 },
    })
    expect((await app.request('/items/3')).status).toBe(502)
    const entries = journal.list()
    expect(entries.map((e) => [e.path, e.route, e.query, e.status, e.fault?.id ?? null])).toEqual([
      ['/items/1', '/items/:id', '?a=1', 200, null],
      ['/items/2', '/items/:id', '', 200, 'slow'],
      // Latency only held it: the status fault that answered gets the credit; the fake never
      // saw the request, so its route is its path.
      ['/items/3', '/items/3', '', 502, 'boom'],
    ])
    expect(entries[1]?.durationMs).toBeGreaterThanOrEqual(5)
  })

  it('down with no listener to close answers a network error in-process', async () => {
    const { faults, app, journal } = setup()
    faults.add({ service: 'web', effect: { type: 'down' } })
    const res = await app.request('/items/1')
    expect(res.type).toBe('error')
    expect(journal.list().at(-1)?.fault?.type).toBe('down')
  })

  it('a switch holds new requests until released', async () => {
    const { faults, app } = setup()
    const release = faults.pause()
    let done = false
    const pending = Promise.resolve(app.request('/items/1')).then((r) => {
      done = true
      return r.status
    })
    await new Promise((r) => setTimeout(r, 20))
    expect(done).toBe(false)
    release()
    expect(await pending).toBe(200)
  })
})
