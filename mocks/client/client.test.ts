import { describe, expect, expectTypeOf, it } from 'vitest'
import { createControlClient, type FaultInput, type FaultView } from './index.ts'

// The client's bodies are typed from the server's own schemas; what it sends is what it was given.

describe('control client', () => {
  it('types faults and inline scenarios from the server schemas', () => {
    expectTypeOf<FaultInput['effect']>().toExtend<{ type: string }>()
    expectTypeOf<{ service: 'chat'; effect: { type: 'status'; status: 500 } }>().toExtend<FaultInput>()
    expectTypeOf<{ service: 'chat'; effect: { type: 'nope' } }>().not.toExtend<FaultInput>()
    expectTypeOf<{ service: 'chat'; effect: { type: 'latency' } }>().not.toExtend<FaultInput>() // ms is required
    expectTypeOf<{ service: 'chat'; effect: { type: 'hang' }; times: '2' }>().not.toExtend<FaultInput>()
    expectTypeOf<FaultView>().toHaveProperty('state')
    type Client = ReturnType<typeof createControlClient>
    expectTypeOf<Parameters<Client['useScenario']>[0]>().toExtend<string | { name: string }>()
    expectTypeOf<{ name: 'x'; seed: 'one' }>().not.toExtend<Parameters<Client['useScenario']>[0]>()
  })

  it('posts the fault as given and returns the server view', async () => {
    const sent: { url: string; body: unknown }[] = []
    const client = createControlClient({
      baseUrl: 'http://control.test',
      fetch: async (url, init) => {
        sent.push({ url: String(url), body: JSON.parse(String(init?.body)) })
        return Response.json(
          {
            service: 'chat',
            effect: { type: 'hang' },
            id: 'fault-1',
            source: 'runtime',
            fired: 0,
            state: 'active',
          },
          { status: 201 },
        )
      },
    })
    const view = await client.addFault({ service: 'chat', effect: { type: 'hang' }, times: 2 })
    expect(sent).toEqual([
      {
        url: 'http://control.test/__mocks/faults',
        body: { service: 'chat', effect: { type: 'hang' }, times: 2 },
      },
    ])
    expect(view.id).toBe('fault-1')
  })
})

describe('control client on a stale kept-alive socket', () => {
  const reset = () => Object.assign(new TypeError('fetch failed'), { cause: { code: 'ECONNRESET' } })
  it('sends an idempotent call once more after a reset; never a POST; a second reset is an error', async () => {
    const calls: string[] = []
    let failures = 1
    const client = createControlClient({
      baseUrl: 'http://control.test',
      fetch: async (_url, init) => {
        calls.push(init?.method ?? 'GET')
        if (failures-- > 0) throw reset()
        return Response.json({ users: [] })
      },
    })
    expect(await client.users()).toEqual({ users: [] })
    expect(calls).toEqual(['GET', 'GET'])

    calls.length = 0
    failures = 1
    await expect(client.reset()).rejects.toThrow('not answering at http://control.test (ECONNRESET)')
    expect(calls).toEqual(['POST'])

    calls.length = 0
    failures = 2
    await expect(client.users()).rejects.toThrow('(ECONNRESET)')
    expect(calls).toEqual(['GET', 'GET'])
  })
})

describe('control client with a tenant', () => {
  it('names its tenant on every call (the stream too), and creates and deletes tenants', async () => {
    const sent: { method: string; url: string; tenant: string | null; body?: unknown }[] = []
    const client = createControlClient({
      baseUrl: 'http://control.test',
      tenant: 't-one',
      fetch: async (url, init) => {
        const headers = new Headers(init?.headers)
        sent.push({
          method: init?.method ?? 'GET',
          url: String(url),
          tenant: headers.get('x-mocks-tenant'),
          ...(init?.body ? { body: JSON.parse(String(init.body)) } : {}),
        })
        if (init?.method === 'DELETE') return new Response(null, { status: 204 })
        return Response.json({ id: 't-two', scenario: 'chat-down' }, { status: 201 })
      },
    })
    expect(client.tenant).toBe('t-one')
    await client.useScenario('v01t-500')
    await client.createTenant('chat-down', 't-two')
    await client.deleteTenant('t-two')
    const stop = client.tail(() => undefined)
    await new Promise((r) => setTimeout(r, 10))
    stop()
    expect(sent).toEqual([
      {
        method: 'PUT',
        url: 'http://control.test/__mocks/scenario',
        tenant: 't-one',
        body: { name: 'v01t-500' },
      },
      {
        method: 'POST',
        url: 'http://control.test/__mocks/tenants',
        tenant: 't-one',
        body: { name: 'chat-down', id: 't-two' },
      },
      { method: 'DELETE', url: 'http://control.test/__mocks/tenants/t-two', tenant: 't-one' },
      { method: 'GET', url: 'http://control.test/__mocks/journal/stream', tenant: 't-one' },
    ])
  })
})
