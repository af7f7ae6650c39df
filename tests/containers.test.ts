import { readFileSync } from 'node:fs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { MocksNotRunningError } from '../mocks/client/index.ts'
import { DEFAULT_AUTH_SECRET } from '../mocks/core/config.ts'
import {
  ContainerRuntimeUnavailableError,
  detectContainerRuntime,
  frontendEnv,
  HEALTH_PATH,
  type MocksContainer,
  startMocksContainer,
} from '../mocks/testcontainers/index.ts'

// The testcontainers helper against a real container runtime: builds compose/Dockerfile,
// starts the image, and drives every fake through the mapped ports. Where no runtime exists
// these tests are reported as SKIPPED with the reason (never as passed), and the helper's
// no-runtime path is tested instead.

const started = performance.now()
const runtime = await detectContainerRuntime()
const detectMs = Math.round(performance.now() - started)
const NOT_RUN = runtime.available ? '' : `NOT RUN: ${runtime.reason}`
if (!runtime.available) {
  process.stderr.write(
    `\n[tests/containers.test.ts] the container tests did NOT run: ${runtime.reason}. They are reported as skipped.\n\n`,
  )
}

describe('container runtime detection', () => {
  it('answers quickly either way', () => {
    expect(detectMs).toBeLessThan(3000)
  })
})

describe('startMocksContainer without a container runtime', () => {
  it('rejects with a plain error saying why', async (ctx) => {
    ctx.skip(runtime.available, 'a container runtime exists here: the no-runtime path cannot be reached')
    const err = await startMocksContainer().catch((e: unknown) => e)
    expect(err).toBeInstanceOf(ContainerRuntimeUnavailableError)
    expect((err as Error).message).toMatch(/no container runtime found .*start Docker or set DOCKER_HOST/)
  })
})

describe('startMocksContainer options', () => {
  it('refuses port env: ports inside the container are fixed, the host side is mapped', async () => {
    await expect(startMocksContainer({ env: { MOCKS_CHAT_PORT: '9000' } })).rejects.toThrow(
      /MOCKS_CHAT_PORT: ports inside the container are fixed/,
    )
    await expect(startMocksContainer({ env: { PORT: '9000' } })).rejects.toThrow(/PORT: ports inside/)
  })

  it('builds the frontend env block from the mapped URLs', () => {
    const urls = {
      chat: 'http://localhost:32001',
      media: 'http://localhost:32002',
      auth: 'http://localhost:32003',
      v01t: 'http://localhost:32004',
      control: 'http://localhost:32005',
    }
    expect(frontendEnv(urls, 's'.repeat(32), 'tok')).toEqual({
      CHAT_SERVICE_URL: 'http://localhost:32001',
      NEXT_PUBLIC_CHAT_WS_URL: 'ws://localhost:32001',
      MEDIA_SERVICE_URL: 'http://localhost:32002',
      AUTH_SERVICE_URL: 'http://localhost:32003',
      BETTER_AUTH_SECRET: 's'.repeat(32),
      V01T_API_URL: 'http://localhost:32004',
      NEXT_PUBLIC_V01T_API_URL: 'http://localhost:32004',
      MOCKS_CONTROL_URL: 'http://localhost:32005',
      MOCKS_CONTROL_TOKEN: 'tok',
    })
  })
})

describe('startMocksContainer with a container runtime', () => {
  let mocks: MocksContainer | undefined
  let memberCookie = ''
  let memberToken = ''

  beforeAll(async () => {
    if (!runtime.available) return
    // Rebuild so the image under test is this checkout's (Docker's layer cache keeps it quick).
    mocks = await startMocksContainer({ build: true, scenario: 'default', startupTimeoutMs: 120_000 })
    const member = (await mocks.control.users()).users.find((u) => u.role === 'member' && !u.banned)
    memberToken = member?.cookieValue ?? ''
    memberCookie = `${member?.cookieName}=${memberToken}`
  }, 15 * 60_000)
  afterAll(async () => {
    await mocks?.stop()
  }, 60_000)

  const running = () => {
    if (!mocks) throw new Error('the container did not start')
    return mocks
  }

  it('reports every fake up, on the URLs the env block names', async (ctx) => {
    ctx.skip(!runtime.available, NOT_RUN)
    const m = running()
    const health = await m.control.health()
    expect(health.scenario).toBe('default')
    expect(Object.keys(health.services).sort()).toEqual(['auth', 'chat', 'media', 'upstash', 'v01t'])
    for (const s of Object.values(health.services)) expect(s.state).toBe('up')
    expect(m.env).toEqual(frontendEnv(m.urls, DEFAULT_AUTH_SECRET, m.env.MOCKS_CONTROL_TOKEN))
  })

  it('keeps the control plane closed to callers without the token', async (ctx) => {
    ctx.skip(!runtime.available, NOT_RUN)
    const res = await fetch(`${running().urls.control}${HEALTH_PATH}`)
    expect(res.status).toBe(401)
    expect(await res.json()).toMatchObject({ code: 'unauthorized' })
  })

  it('serves better-auth get-session for a seeded cookie', async (ctx) => {
    ctx.skip(!runtime.available, NOT_RUN)
    const res = await fetch(`${running().env.AUTH_SERVICE_URL}/api/auth/get-session`, {
      headers: { cookie: memberCookie },
    })
    expect(res.status).toBe(200)
    expect(((await res.json()) as { user: { role: string } }).user.role).toBe('member')
  })

  it('advertises media URLs the host can open (BASE_URL follows the mapped port)', async (ctx) => {
    ctx.skip(!runtime.available, NOT_RUN)
    const m = running()
    const png = readFileSync(new URL('../fixtures/media/sunset.png', import.meta.url))
    const form = new FormData()
    form.append('file', new Blob([png], { type: 'image/png' }), 'sunset.png')
    const res = await fetch(`${m.env.MEDIA_SERVICE_URL}/api/v1/upload`, {
      method: 'POST',
      headers: { cookie: memberCookie },
      body: form,
    })
    // The status is media's own concern (tests/media*); here the URLs it advertises matter.
    expect(res.ok, `upload answered ${res.status}`).toBe(true)
    const upload = (await res.json()) as { url: string; thumbnail_url: string; size_bytes: number }
    expect(upload.size_bytes).toBe(png.length)
    expect(upload.url.startsWith(`${m.env.MEDIA_SERVICE_URL}/`)).toBe(true)
    const file = await fetch(upload.url, { headers: { cookie: memberCookie } })
    expect(file.status).toBe(200)
    expect(Buffer.from(await file.arrayBuffer()).equals(png)).toBe(true)
    const thumb = await fetch(upload.thumbnail_url, { headers: { cookie: memberCookie } })
    expect(thumb.status).toBe(200)
  })

  it('answers chat over WebSocket on NEXT_PUBLIC_CHAT_WS_URL', async (ctx) => {
    ctx.skip(!runtime.available, NOT_RUN)
    const ws = new WebSocket(`${running().env.NEXT_PUBLIC_CHAT_WS_URL}/ws?token=${memberToken}`)
    const frame = await new Promise<unknown>((resolve, reject) => {
      ws.once('error', reject)
      ws.on('message', (data) => {
        const parsed = JSON.parse(String(data)) as { type: string }
        if (parsed.type === 'pong') resolve(parsed)
      })
      ws.once('open', () => ws.send(JSON.stringify({ type: 'ping' })))
    })
    ws.close()
    expect(frame).toEqual({ type: 'pong' })
  })

  it('serves V01T records', async (ctx) => {
    ctx.skip(!runtime.available, NOT_RUN)
    const res = await fetch(`${running().env.V01T_API_URL}/trace/flight-path/artefact/?page_size=50`)
    expect(res.status).toBe(200)
    expect(await res.json()).toMatchObject({ success: true })
  })

  it('switches scenario through the control client', async (ctx) => {
    ctx.skip(!runtime.available, NOT_RUN)
    const m = running()
    await m.control.useScenario('chat-down')
    expect((await m.control.health()).scenario).toBe('chat-down')
    await m.control.useScenario('default')
  })

  it('stop() removes the container', async (ctx) => {
    ctx.skip(!runtime.available, NOT_RUN)
    const m = running()
    await m.stop()
    mocks = undefined
    await expect(m.control.health()).rejects.toBeInstanceOf(MocksNotRunningError)
  })
})
