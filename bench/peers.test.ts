import { describe, expect, it } from 'vitest'
import { request } from './net.ts'
import { javaVersion, processCpuUs, startPeer } from './peers.ts'

// The peers pnpm bench compares the fake with, started for real: each serves the captured
// status, headers and body bytes at the path, and its process CPU can be read.

const PATH = '/trace/devarno-ecosystem/node/?page_size=20'
// Templating markers and non-ASCII: served as bytes, never interpreted.
const captured = {
  status: 200,
  headers: { 'content-type': 'application/json', 'access-control-allow-origin': '*', vary: 'Origin' },
  body: Buffer.from('{"title":"{{faker \'x\'}} ünïcode","items":[1,2,3]}'),
}

describe('bench peers', () => {
  it('reads a process CPU time from /proc (this one)', () => {
    expect(processCpuUs(process.pid)).toBeGreaterThan(0)
    expect(processCpuUs(2 ** 30)).toBeNaN()
  })

  for (const name of ['mockoon', 'wiremock'] as const) {
    it.skipIf(name === 'wiremock' && !javaVersion().ok)(
      `${name} serves the captured bytes at the path and stops`,
      async () => {
        const started = await startPeer(name, PATH, captured)
        if (!started.ok) throw new Error(started.why)
        try {
          const res = await request(started.peer.url + PATH)
          expect(res.status).toBe(200)
          expect(res.body.equals(captured.body)).toBe(true)
          expect(res.headers['access-control-allow-origin']).toBe('*')
          expect(res.headers['content-type']).toMatch(/^application\/json/)
          expect(started.peer.cpu()).toBeGreaterThan(0)
        } finally {
          await started.peer.close()
        }
        expect(await request(started.peer.url + PATH).catch(() => 'closed')).toBe('closed')
      },
      60_000,
    )
  }
})
