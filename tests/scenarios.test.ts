import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { DEFAULT_UPSTASH_TOKEN } from '../mocks/upstash/settings.ts'
import { connectResult, startTestMocks, type TestMocks } from './helpers.ts'

// Every scenario in the catalogue produces, over real sockets, the failure it names.

let t: TestMocks
beforeAll(async () => {
  t = await startTestMocks()
})
afterAll(() => t.close())

async function use(name: string) {
  await t.mocks.switchScenario({ name })
}

/** Opens the chat socket: 'open' or the HTTP status the upgrade was refused with. */
function wsAttempt(token: string): Promise<{ outcome: 'open' | number | string; ws?: WebSocket }> {
  return new Promise((resolve) => {
    const ws = new WebSocket(`${t.url('chat').replace('http', 'ws')}/ws?token=${encodeURIComponent(token)}`)
    ws.once('open', () => resolve({ outcome: 'open', ws }))
    ws.once('unexpected-response', (_req, res) => {
      resolve({ outcome: res.statusCode ?? 0 })
      ws.terminate()
    })
    ws.once('error', (err: NodeJS.ErrnoException) => resolve({ outcome: err.code ?? err.message }))
  })
}

const history = (cookie: string) =>
  fetch(`${t.url('chat')}/api/v1/messages?channel=general`, { headers: { cookie } })
const v01tList = () => fetch(`${t.url('v01t')}/trace/flight-path/artefact/?page_size=50`)

describe('scenario catalogue', () => {
  it('default: everything answers', async () => {
    await use('default')
    const member = t.cookieFor('member')
    expect((await history(member)).status).toBe(200)
    expect((await v01tList()).status).toBe(200)
    expect(
      (await fetch(`${t.url('auth')}/api/auth/get-session`, { headers: { cookie: member } })).status,
    ).toBe(200)
    const ws = await wsAttempt(t.tokenFor('member'))
    expect(ws.outcome).toBe('open')
    ws.ws?.close()
  })

  it('chat-down: upgrade refused with 503, history 500', async () => {
    await use('chat-down')
    expect((await wsAttempt(t.tokenFor('member'))).outcome).toBe(503)
    const res = await history(t.cookieFor('member'))
    expect(res.status).toBe(500)
    expect(await res.json()).toEqual({ error: 'Internal server error', code: 'internal_error' })
  })

  it('chat-ws-flaky: open sockets are cut with 1006 after 2 s; a seeded third of upgrades refused', async () => {
    await use('chat-ws-flaky')
    const outcomes: (string | number)[] = []
    let opened: WebSocket | undefined
    for (let i = 0; i < 9; i++) {
      const a = await wsAttempt(t.tokenFor('member'))
      outcomes.push(a.outcome)
      if (a.ws && !opened) opened = a.ws
      else a.ws?.terminate()
    }
    expect(outcomes.filter((o) => o === 503).length).toBeGreaterThan(0)
    expect(outcomes.filter((o) => o === 'open').length).toBeGreaterThan(0)
    // Same seed, same refusals.
    await t.mocks.reset()
    const again: (string | number)[] = []
    for (let i = 0; i < 9; i++) {
      const a = await wsAttempt(t.tokenFor('member'))
      again.push(a.outcome)
      a.ws?.terminate()
    }
    expect(again).toEqual(outcomes)
    expect(opened).toBeDefined()
  })

  it('chat-ws-flaky: the cut is abrupt (1006) and lands after about 2 s', async () => {
    await use('chat-ws-flaky')
    let a = await wsAttempt(t.tokenFor('member'))
    while (a.outcome !== 'open') a = await wsAttempt(t.tokenFor('member'))
    const started = performance.now()
    const code = await new Promise<number>((resolve) => a.ws!.once('close', (c) => resolve(c)))
    expect(code).toBe(1006)
    expect(performance.now() - started).toBeGreaterThanOrEqual(1900)
  }, 10_000)

  it('chat-rest-500: history 500 while the socket works', async () => {
    await use('chat-rest-500')
    expect((await history(t.cookieFor('member'))).status).toBe(500)
    const ws = await wsAttempt(t.tokenFor('member'))
    expect(ws.outcome).toBe('open')
    ws.ws?.close()
  })

  it('chat-auth-rejected: upgrade refused 401, REST 401 on chat and media', async () => {
    await use('chat-auth-rejected')
    expect((await wsAttempt(t.tokenFor('member'))).outcome).toBe(401)
    expect((await history(t.cookieFor('member'))).status).toBe(401)
    expect(
      (await fetch(`${t.url('media')}/api/v1/files/none`, { headers: { cookie: t.cookieFor('member') } }))
        .status,
    ).toBe(401)
  })

  it('auth-down: auth refuses connections; chat and media answer 503 auth_unavailable', async () => {
    await use('auth-down')
    expect(await connectResult(t.url('auth'))).toBe('ECONNREFUSED')
    const res = await history(t.cookieFor('member'))
    expect(res.status).toBe(503)
    expect((await res.json()).code).toBe('auth_unavailable')
    const media = await fetch(`${t.url('media')}/api/v1/files/none`, {
      headers: { cookie: t.cookieFor('member') },
    })
    expect(media.status).toBe(503)
    expect((await media.json()).code).toBe('auth_unavailable')
    expect((await wsAttempt(t.tokenFor('member'))).outcome).toBe(503)
  })

  it('media-down: media refuses connections, the rest is up', async () => {
    await use('media-down')
    expect(await connectResult(t.url('media'))).toBe('ECONNREFUSED')
    expect(await connectResult(t.url('chat'))).toBe('connected')
  })

  it('media-slow: an upload is held past the 30 s client timeout (latency fault of 35 s)', async () => {
    await use('media-slow')
    const fault = t.mocks.faults.list('media').find((f) => f.id === 'media-upload-slow')
    expect(fault?.effect).toEqual({ type: 'latency', ms: 35000, jitterMs: 0 })
    // A client with a short timeout gives up while the upload is still held.
    const form = new FormData()
    form.set('file', new Blob([new Uint8Array([0x89, 0x50, 0x4e, 0x47])], { type: 'image/png' }), 'x.png')
    const err = await fetch(`${t.url('media')}/api/v1/upload`, {
      method: 'POST',
      body: form,
      headers: { cookie: t.cookieFor('member') },
      signal: AbortSignal.timeout(500),
    }).catch((e: unknown) => e)
    expect((err as Error).name).toBe('TimeoutError')
    // Downloads are unaffected.
    const dl = await fetch(`${t.url('media')}/api/v1/files/none`, {
      headers: { cookie: t.cookieFor('member') },
    })
    expect(dl.status).toBe(404)
  })

  it('media-upload-500: uploads answer 500 {error, code}', async () => {
    await use('media-upload-500')
    const form = new FormData()
    form.set('file', new Blob(['x'], { type: 'image/png' }), 'x.png')
    const res = await fetch(`${t.url('media')}/api/v1/upload`, {
      method: 'POST',
      body: form,
      headers: { cookie: t.cookieFor('member') },
    })
    expect(res.status).toBe(500)
    expect(await res.json()).toEqual({ error: 'Internal server error', code: 'internal_error' })
  })

  it('media-limits: 100 KiB files and 10 KiB avatars give 413', async () => {
    await use('media-limits')
    const upload = async (bytes: number, type?: string) => {
      const png = new Uint8Array(bytes)
      png.set([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])
      const form = new FormData()
      if (type) form.set('type', type)
      form.set('file', new Blob([png], { type: 'image/png' }), 'big.png')
      return (
        await fetch(`${t.url('media')}/api/v1/upload`, {
          method: 'POST',
          body: form,
          headers: { cookie: t.cookieFor('member') },
        })
      ).status
    }
    expect(await upload(102_401)).toBe(413)
    expect(await upload(10_241, 'avatar')).toBe(413)
  })

  it('v01t-down: refused', async () => {
    await use('v01t-down')
    expect(await connectResult(t.url('v01t'))).toBe('ECONNREFUSED')
  })

  it('v01t-timeout: accepted but never answered', async () => {
    await use('v01t-timeout')
    const err = await fetch(`${t.url('v01t')}/trace/flight-path/artefact/`, {
      signal: AbortSignal.timeout(400),
    }).catch((e: unknown) => e)
    expect((err as Error).name).toBe('TimeoutError')
  })

  it('v01t-slow: correct data after at least 2.5 s', async () => {
    await use('v01t-slow')
    const started = performance.now()
    const res = await v01tList()
    expect(performance.now() - started).toBeGreaterThanOrEqual(2500)
    expect((await res.json()).success).toBe(true)
  })

  it('v01t-500, v01t-404, v01t-400: V01T envelopes', async () => {
    for (const [name, status, code] of [
      ['v01t-500', 500, 'internal_error'],
      ['v01t-404', 404, 'not_found'],
      ['v01t-400', 400, 'invalid_params'],
    ] as const) {
      await use(name)
      const res = await v01tList()
      expect(res.status, name).toBe(status)
      const body = await res.json()
      expect(body).toMatchObject({ success: false, code })
      expect(typeof body.error).toBe('string')
    }
    // The injected 400 is the fake's own answer to a bad page_size, shape and words.
    await use('default')
    const own = await fetch(`${t.url('v01t')}/trace/devarno-ecosystem/node/?page_size=500`)
    expect(own.status).toBe(400)
    await use('v01t-400')
    expect(await (await v01tList()).json()).toEqual(await own.json())
  })

  it('flaky-retry: idempotent GETs fail exactly twice, then succeed', async () => {
    await use('flaky-retry')
    const member = t.cookieFor('member')
    const seq = async (f: () => Promise<Response>) => {
      const out: number[] = []
      for (let i = 0; i < 4; i++) out.push((await f()).status)
      return out
    }
    expect(await seq(() => history(member))).toEqual([503, 503, 200, 200])
    expect(await seq(v01tList)).toEqual([503, 503, 200, 200])
    expect(
      await seq(() => fetch(`${t.url('media')}/api/v1/files/none`, { headers: { cookie: member } })),
    ).toEqual([503, 503, 404, 404])
  })

  it("upstash-rate-limited: every call answers 429 with Upstash's body; upstash-down refuses", async () => {
    await use('upstash-rate-limited')
    const res = await fetch(`${t.url('upstash')}/get/x`, {
      headers: { authorization: `Bearer ${DEFAULT_UPSTASH_TOKEN}` },
    })
    expect(res.status).toBe(429)
    expect(await res.json()).toEqual({
      error: 'ERR max requests limit exceeded. Limit: 10000, Usage: 10000.',
    })
    await use('upstash-down')
    expect(await connectResult(t.url('upstash'))).toBe('ECONNREFUSED')
    await use('default')
    expect(await connectResult(t.url('upstash'))).toBe('connected')
  })

  it('everything-down: every port refuses; control still answers', async () => {
    await use('everything-down')
    for (const s of ['auth', 'chat', 'media', 'v01t', 'upstash'] as const)
      expect(await connectResult(t.url(s)), s).toBe('ECONNREFUSED')
    expect((await fetch(`${t.controlUrl}/__mocks/health`)).status).toBe(200)
    await use('default')
    for (const s of ['auth', 'chat', 'media', 'v01t', 'upstash'] as const)
      expect(await connectResult(t.url(s)), s).toBe('connected')
  })
})
