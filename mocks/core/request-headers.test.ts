import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { serve } from '@hono/node-server'
import { Hono } from 'hono'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { requestHeaders } from './request-headers.ts'

// The same answers whether headers come from Node's IncomingMessage (a real server) or from the
// Request's Headers (msw, app.request), repeated headers included.

const app = new Hono()
app.all('*', (c) => {
  const h = requestHeaders(c)
  const again = requestHeaders(c)
  return c.json({
    same: h === again,
    cookie: h.get('Cookie'),
    dup: h.get('x-dup'),
    missing: h.get('x-missing'),
    entries: h.entries().filter(([k]) => k.startsWith('x-') || k === 'cookie'),
  })
})

let server: ReturnType<typeof serve>
let port = 0
beforeAll(async () => {
  server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' })
  await new Promise<void>((resolve) => server.once('listening', resolve))
  port = (server.address() as AddressInfo).port
})
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())))

/** Sends the headers exactly as listed (repeats kept) over a real socket. */
function overSocket(raw: string[]): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const req = http.request({
      host: '127.0.0.1',
      port,
      path: '/',
      headers: ['Host', `127.0.0.1:${port}`, ...raw],
    })
    req.on('response', (res) => {
      let body = ''
      res.on('data', (d: Buffer) => {
        body += d.toString()
      })
      res.on('end', () => resolve(JSON.parse(body)))
    })
    req.on('error', reject)
    req.end()
  })
}

describe('requestHeaders', () => {
  it('reads the same values from a real socket and from a Request, once per request', async () => {
    const viaNode = await overSocket([
      'Cookie',
      'a=1',
      'Cookie',
      'b=2',
      'X-Dup',
      'one',
      'X-Dup',
      'two',
      'X-One',
      'v',
    ])
    const headers = new Headers()
    headers.append('cookie', 'a=1; b=2')
    headers.append('x-dup', 'one')
    headers.append('x-dup', 'two')
    headers.append('x-one', 'v')
    const viaRequest = await (await app.request('/', { headers })).json()
    const want = {
      same: true,
      cookie: 'a=1; b=2',
      dup: 'one, two',
      missing: null,
      // In name order both ways (Headers iterates sorted), whatever order they were sent in.
      entries: [
        ['cookie', 'a=1; b=2'],
        ['x-dup', 'one, two'],
        ['x-one', 'v'],
      ],
    }
    expect(viaNode).toEqual(want)
    expect(viaRequest).toEqual(want)
  })
})
