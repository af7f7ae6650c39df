import { Redis } from '@upstash/redis'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { DEFAULT_UPSTASH_TOKEN } from '../mocks/upstash/settings.ts'
import { connectResult, startTestMocks, type TestMocks, upstashRateLimit } from './helpers.ts'

// Faults on the Upstash fake, seen by @upstash/redis with its retries off (its default five
// retries would hide a `times` fault).

let t: TestMocks
let url: string

beforeAll(async () => {
  t = await startTestMocks({ services: ['upstash'] })
  url = t.url('upstash')
})
afterAll(() => t.close())
beforeEach(() => t.mocks.reset())

// Auto-pipelining off, so a single command goes to its own path (not /pipeline).
const client = () =>
  new Redis({
    url,
    token: DEFAULT_UPSTASH_TOKEN,
    retry: false,
    enableTelemetry: false,
    enableAutoPipelining: false,
  })

describe('Upstash faults', () => {
  it("rate limiting as Upstash answers it: 429 with its body, seen by the client as Upstash's error", async () => {
    t.mocks.faults.add(upstashRateLimit(2))
    const r = client()
    await expect(r.get('k')).rejects.toThrow(
      /^ERR max requests limit exceeded\. Limit: 10000, Usage: 10000\./,
    )
    await expect(r.set('k', 'v')).rejects.toThrow(/max requests limit exceeded/)
    expect(await r.set('k', 'v')).toBe('OK')
  })

  it("a bare 5xx answers Upstash's {error} shape", async () => {
    t.mocks.faults.add({
      service: 'upstash',
      match: { path: '/pipeline' },
      effect: { type: 'status', status: 503 },
    })
    const res = await fetch(`${url}/pipeline`, {
      method: 'POST',
      headers: { authorization: `Bearer ${DEFAULT_UPSTASH_TOKEN}` },
      body: JSON.stringify([['PING']]),
    })
    expect(res.status).toBe(503)
    expect(await res.json()).toEqual({ error: 'ERR Service unavailable' })
    // Only the matched path: single commands still work.
    expect(await client().ping()).toBe('PONG')
    await expect(client().pipeline().ping().exec()).rejects.toThrow(/ERR Service unavailable/)
  })

  it('latency delays the answer by at least its ms', async () => {
    t.mocks.faults.add({ service: 'upstash', effect: { type: 'latency', ms: 250 } })
    const started = performance.now()
    expect(await client().ping()).toBe('PONG')
    expect(performance.now() - started).toBeGreaterThanOrEqual(245)
  })

  it('hang never answers (the caller gives up)', async () => {
    t.mocks.faults.add({ service: 'upstash', effect: { type: 'hang' }, times: 1 })
    await expect(
      fetch(`${url}/ping`, {
        headers: { authorization: `Bearer ${DEFAULT_UPSTASH_TOKEN}` },
        signal: AbortSignal.timeout(300),
      }),
    ).rejects.toThrow(/aborted|timeout/i)
  })

  it('down refuses connections, and the service comes back when the fault goes', async () => {
    const fault = t.mocks.faults.add({ service: 'upstash', effect: { type: 'down' } })
    await t.mocks.faults.settled()
    expect(await connectResult(url)).toBe('ECONNREFUSED')
    await expect(client().ping()).rejects.toThrow()
    t.mocks.faults.remove(fault.id)
    await t.mocks.faults.settled()
    expect(await connectResult(url)).toBe('connected')
    expect(await client().ping()).toBe('PONG')
  })
})
