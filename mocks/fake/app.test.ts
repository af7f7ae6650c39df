import { IncomingMessage, ServerResponse } from 'node:http'
import { Socket } from 'node:net'
import { Hono } from 'hono'
import { describe, expect, it } from 'vitest'
import { plainEnvelope } from '../core/envelope.ts'
import { Journal } from '../core/journal.ts'
import { createLogger } from '../core/logger.ts'
import { promiseOf } from '../core/promises.ts'
import { FaultEngine } from '../faults/engine.ts'
import { loadConfig } from '../runtime/config.ts'
import { faultHost } from '../runtime/fault-host.ts'
import { createFakeApp } from './app.ts'

// Faults, journal and CORS are kept off `/__mocks/*` by how the app is mounted: the control
// slice first, with a catch-all, so nothing registered after it ever sees a control path.

/** A fault engine and its journal, as the runtime gives a fake. */
function engine() {
  const config = loadConfig({})
  const journal = new Journal()
  const faults = new FaultEngine({ ...faultHost(config), journal, logger: createLogger('faults') })
  return { config, journal, faults }
}

/** A fake app whose `/sync` route throws `thrown` and whose `/async` route rejects with it. */
function throwing(thrown: unknown) {
  const { config, journal, faults } = engine()
  const app = createFakeApp(
    { name: 'v01t', envelope: plainEnvelope },
    { config, logger: createLogger('t'), faults },
  )
  app.get('/sync', () => {
    throw thrown
  })
  app.get('/async', async () => {
    await Promise.resolve()
    throw thrown
  })
  return { app, journal, faults }
}

describe('createFakeApp', () => {
  it('serves the control slice ahead of CORS, faults and the journal', async () => {
    const { config, journal, faults } = engine()
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

  it('answers and journals a request with no promise when no fault acts and the route is synchronous', async () => {
    const { config, journal, faults } = engine()
    const app = createFakeApp(
      { name: 'v01t', envelope: plainEnvelope },
      { config, logger: createLogger('t'), faults },
      { cors: { origin: '*', allowMethods: ['GET'] } },
    )
    app.get('/x/:id', (c) => c.text(`ok ${c.req.param('id')}`))
    // As @hono/node-server calls it: Node's request and response in the env.
    const incoming = new IncomingMessage(new Socket())
    incoming.headers = { host: 'localhost', origin: 'https://casa.devarno.cloud' }
    const outgoing = new ServerResponse(incoming)
    const answer = app.fetch(new Request('http://localhost/x/7'), { incoming, outgoing })
    expect(answer).toBeInstanceOf(Response)
    expect((answer as Response).status).toBe(200)
    expect(outgoing.getHeader('access-control-allow-origin')).toBe('*')
    expect(journal.list({}).map((e) => [e.route, e.status])).toEqual([['/x/:id', 200]])
    // A fault acting: the same request through a promise, still journaled once.
    faults.add({ service: 'v01t', effect: { type: 'status', status: 503 } })
    const faulted = app.fetch(new Request('http://localhost/x/8'), { incoming, outgoing })
    expect(faulted).toBeInstanceOf(Promise)
    expect((await faulted).status).toBe(503)
    expect(journal.list({}).map((e) => [e.path, e.status])).toEqual([
      ['/x/7', 200],
      ['/x/8', 503],
    ])
  })
  it('journals a route that throws, synchronously or by rejecting, once, with the error answer', async () => {
    const { app, journal } = throwing(new Error('boom'))
    expect((await app.request('/sync')).status).toBe(500)
    expect((await app.request('/async')).status).toBe(500)
    expect(journal.list({}).map((e) => [e.path, e.status])).toEqual([
      ['/sync', 500],
      ['/async', 500],
    ])
    expect(journal.open.size).toBe(0)
  })

  it('journals a route that throws what is not an Error once, and passes it on to the caller', async () => {
    const { app, journal, faults } = throwing('plain')
    // Never an answer made up from it: the caller gets it (a Node server answers 500).
    const call = (path: string) => promiseOf(() => app.fetch(new Request(`http://localhost${path}`)))
    await expect(call('/sync')).rejects.toBe('plain')
    await expect(call('/async')).rejects.toBe('plain')
    // The same behind a fault that acts and lets the request through (the journal's async path).
    faults.add({ service: 'v01t', effect: { type: 'latency', ms: 1 } })
    await expect(call('/async')).rejects.toBe('plain')
    // Each journaled once, with no answer from the fake, and none left open.
    expect(journal.list({}).map((e) => [e.path, e.status, e.fault?.type ?? null])).toEqual([
      ['/sync', null, null],
      ['/async', null, null],
      ['/async', null, 'latency'],
    ])
    expect(journal.open.size).toBe(0)
  })

  it("gives a HEAD answer its GET body's Content-Length; a fault's own answer is left as it is", async () => {
    const { config, journal, faults } = engine()
    const app = createFakeApp(
      { name: 'v01t', envelope: plainEnvelope },
      { config, logger: createLogger('t'), faults },
    )
    app.get('/x', (c) => c.text('héllo'))
    app.get('/sized', (c) => c.body('abc', 200, { 'content-length': '3' }))
    const head = await app.request('/x', { method: 'HEAD' })
    expect(head.status).toBe(200)
    expect(head.headers.get('content-length')).toBe('6')
    expect(head.headers.get('content-type')).toMatch(/^text\/plain/)
    expect(await head.text()).toBe('')
    expect((await app.request('/sized', { method: 'HEAD' })).headers.get('content-length')).toBe('3')
    expect((await app.request('/x')).headers.get('content-length')).toBeNull()
    expect(journal.list({ method: 'HEAD' }).map((e) => [e.path, e.status])).toEqual([
      ['/x', 200],
      ['/sized', 200],
    ])
    faults.add({ service: 'v01t', effect: { type: 'status', status: 503 } })
    const faulted = await app.request('/x', { method: 'HEAD' })
    expect(faulted.status).toBe(503)
    expect(faulted.headers.get('content-length')).toBeNull()
  })
})
