import { createServer } from 'node:net'
import { describe, expect, it, vi } from 'vitest'
import { createDemoApp, type DemoHost } from './index.ts'
import { backoffDelay, JITTER, retrying } from './public/lib/backoff.js'
import { describeUploadFailure, formatBytes, type Outcome } from './public/lib/media.js'

// The demo's server side in-process (static files, config, WS token) and the client's pure
// logic (backoff schedule, upload error messages). The browser behaviour is in e2e/.

function host(limits: { maxFileSize?: number; maxAvatarSize?: number } = {}): DemoHost {
  const urls: Record<string, string> = {
    auth: 'http://127.0.0.1:8083',
    chat: 'http://127.0.0.1:8082',
    media: 'http://127.0.0.1:8081',
  }
  return {
    running: () => Object.keys(urls),
    url: (s) => urls[s],
    config: { authServiceUrl: 'http://127.0.0.1:8083', maxFileSize: 10_485_760, maxAvatarSize: 2_097_152 },
    scenario: { name: 'media-limits', media: { limits }, chat: { wsAuth: 'raw' }, upstash: {} },
  }
}

/** A port nothing listens on (taken, then released). */
function closedPort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number }
      server.close(() => resolve(port))
    })
  })
}

describe('demo pages', () => {
  const app = createDemoApp(host())

  it('serves the control panel at / and the client with their content types', async () => {
    const index = await app.request('/')
    expect(index.status).toBe(200)
    expect(index.headers.get('content-type')).toBe('text/html; charset=utf-8')
    expect(await index.text()).toContain('<iframe id="client" src="/client.html"')
    const js = await app.request('/lib/chat.js')
    expect(js.headers.get('content-type')).toBe('text/javascript; charset=utf-8')
    expect(js.headers.get('x-content-type-options')).toBe('nosniff')
    expect((await app.request('/style.css')).headers.get('content-type')).toBe('text/css; charset=utf-8')
  })

  it('serves nothing outside its folder, no type declarations, no other methods', async () => {
    for (const path of [
      '/../index.ts',
      '/%2e%2e/index.ts',
      '/lib/backoff.d.ts',
      '/demo.test.ts',
      '/nope.html',
    ]) {
      const res = await app.request(path)
      expect(res.status, path).toBe(404)
      expect(await res.json()).toMatchObject({ code: 'not_found' })
    }
    expect((await app.request('/', { method: 'POST' })).status).toBe(404)
  })

  it('says so when the pages are not part of the build', async () => {
    const bare = createDemoApp(host(), { publicDir: '/nonexistent/demo' })
    const res = await bare.request('/')
    expect(res.status).toBe(404)
    expect((await res.json()).error).toContain('not part of this build')
  })

  it('gives the client the service URLs and the upload limits in force', async () => {
    const res = await createDemoApp(host({ maxFileSize: 102_400 })).request('/api/config')
    expect(res.headers.get('cache-control')).toBe('no-store')
    expect(await res.json()).toEqual({
      scenario: 'media-limits',
      services: {
        auth: 'http://127.0.0.1:8083',
        chat: 'http://127.0.0.1:8082',
        media: 'http://127.0.0.1:8081',
      },
      limits: { maxFileSize: 102_400, maxAvatarSize: 2_097_152 },
    })
  })

  it('hands the HttpOnly session cookie to the page as the WebSocket token, or 401', async () => {
    const value = 'Tok.abc%2Bdef%3D'
    for (const name of ['better-auth.session_token', '__Secure-better-auth.session_token']) {
      const res = await app.request('/api/chat/ws-token', {
        headers: { cookie: `theme=dark; ${name}=${value}` },
      })
      expect(res.status).toBe(200)
      expect(await res.json()).toEqual({ token: value })
    }
    const none = await app.request('/api/chat/ws-token', { headers: { cookie: 'theme=dark' } })
    expect(none.status).toBe(401)
    expect(await none.json()).toEqual({ error: 'Not signed in: no session cookie', code: 'unauthorized' })
  })

  it('answers 503 in better-auth’s envelope when auth cannot be reached', async () => {
    const port = await closedPort()
    const down = createDemoApp({
      ...host(),
      url: (s) => (s === 'auth' ? `http://127.0.0.1:${port}` : undefined),
    })
    const res = await down.request('/api/auth/get-session')
    expect(res.status).toBe(503)
    expect(await res.json()).toEqual({
      message: 'Authentication service unavailable (ECONNREFUSED)',
      code: 'AUTH_SERVICE_UNAVAILABLE',
    })
  })
})

describe('client backoff', () => {
  it('doubles from the base: 1 s, 2 s, 4 s; jitter only adds, at most 20 %', () => {
    const low = (n: number) => backoffDelay(n, { baseMs: 1000, random: () => 0 })
    const high = (n: number) => backoffDelay(n, { baseMs: 1000, random: () => 0.999999 })
    expect([1, 2, 3].map((n) => low(n).delayMs)).toEqual([1000, 2000, 4000])
    expect([1, 2, 3].map((n) => high(n).delayMs)).toEqual([1200, 2400, 4800])
    expect([1, 2, 3].map((n) => high(n).nominalMs)).toEqual([1000, 2000, 4000])
    expect(JITTER).toBe(0.2)
    for (let i = 0; i < 200; i++) {
      const { delayMs } = backoffDelay(3, { baseMs: 1000 })
      expect(delayMs).toBeGreaterThanOrEqual(4000)
      expect(delayMs).toBeLessThanOrEqual(4800)
    }
  })

  it('caps the nominal delay and refuses attempt numbers below 1', () => {
    expect(backoffDelay(10, { baseMs: 2000, capMs: 30_000, random: () => 0 }).delayMs).toBe(30_000)
    expect(() => backoffDelay(0, { baseMs: 1000 })).toThrow(RangeError)
    expect(() => backoffDelay(1.5, { baseMs: 1000 })).toThrow(RangeError)
  })

  it('retries only while asked, waiting the schedule in between', async () => {
    vi.useFakeTimers()
    try {
      const answers = [503, 503, 200]
      const seen: number[] = []
      const waits: number[] = []
      const run = retrying(
        async (attempt) => {
          seen.push(attempt)
          return answers[attempt - 1]!
        },
        {
          attempts: 5,
          baseMs: 1000,
          random: () => 0,
          shouldRetry: (s) => s >= 500,
          onRetry: ({ delayMs }) => waits.push(delayMs),
        },
      )
      await vi.advanceTimersByTimeAsync(999)
      expect(seen).toEqual([1])
      await vi.advanceTimersByTimeAsync(1)
      expect(seen).toEqual([1, 2])
      await vi.advanceTimersByTimeAsync(2000)
      expect(await run).toEqual({ result: 200, attempts: 3 })
      expect(waits).toEqual([1000, 2000])

      const capped = retrying(async () => 500, { attempts: 2, baseMs: 10, shouldRetry: () => true })
      await vi.advanceTimersByTimeAsync(20)
      expect(await capped).toEqual({ result: 500, attempts: 2 })
      expect(
        await retrying(async () => 404, { attempts: 3, baseMs: 10, shouldRetry: (s) => s >= 500 }),
      ).toEqual({
        result: 404,
        attempts: 1,
      })
    } finally {
      vi.useRealTimers()
    }
  })
})

describe('upload failure messages', () => {
  const limits = { maxFileSize: 10_485_760, maxAvatarSize: 102_400 }
  const http = (status: number, code = '', message = ''): Outcome => ({
    kind: 'http',
    status,
    code,
    message,
    data: null,
    ms: 5,
    requestId: 'r',
  })
  const say = (o: Outcome, type: 'file' | 'avatar' = 'file') => describeUploadFailure(o, { limits, type })

  it('names the service, the limit or the allowed types, and whether a retry can help', () => {
    expect(say({ kind: 'network', message: 'Failed to fetch', ms: 1, requestId: 'r' })).toEqual({
      message: 'media-service unavailable (could not connect)',
      retriable: true,
    })
    expect(say({ kind: 'timeout', timeoutMs: 30_000, ms: 30_000, requestId: 'r' })).toEqual({
      message: 'upload timed out after 30 s',
      retriable: true,
    })
    expect(say(http(413, 'payload_too_large'))).toEqual({
      message: 'file too large (max 10 MB)',
      retriable: false,
    })
    expect(say(http(413, 'payload_too_large'), 'avatar').message).toBe('file too large (max 100 KB)')
    expect(say(http(415, 'unsupported_media_type'))).toEqual({
      message: 'type not allowed (allowed: JPEG, PNG, GIF, WebP, PDF, MP4, WebM)',
      retriable: false,
    })
    expect(say(http(503, 'auth_unavailable')).message).toBe(
      'media-service unavailable: it cannot check your session (auth_unavailable)',
    )
    expect(say(http(500, 'internal_error', 'Internal server error'))).toEqual({
      message: 'media-service error (HTTP 500 internal_error: Internal server error)',
      retriable: true,
    })
    expect(say(http(502)).message).toBe('media-service unavailable (HTTP 502)')
    expect(say(http(401, 'unauthorized')).retriable).toBe(false)
    expect(say(http(403, 'forbidden', 'Children cannot upload')).message).toBe(
      'you may not upload files (Children cannot upload)',
    )
  })

  it('formats sizes in the binary units MAX_FILE_SIZE counts in', () => {
    expect([10_485_760, 2_097_152, 102_400, 10_240, 1536, 500].map(formatBytes)).toEqual([
      '10 MB',
      '2 MB',
      '100 KB',
      '10 KB',
      '1.5 KB',
      '500 bytes',
    ])
  })
})
