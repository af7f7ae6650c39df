import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Redis } from '@upstash/redis'
import { describe, expect, it, vi } from 'vitest'
import { start } from '../mocks/cli/commands.ts'
import { DEFAULT_UPSTASH_TOKEN } from '../mocks/upstash/settings.ts'
import { startTestMocks } from './helpers.ts'
import { upstashClientSuite } from './upstash-suite.ts'

// The embedded Redis (ioredis-mock) behind the Upstash fake.
upstashClientSuite('embedded Redis', () => ({}))

describe('the start-up banner', () => {
  it('prints the token in force: a scenario’s own upstash.token, else the configured one', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'upstash-banner-'))
    writeFileSync(
      join(dir, 'own-token.yaml'),
      'name: own-token\nupstash:\n  token: team-presence-token-123\n',
    )
    writeFileSync(join(dir, 'default.yaml'), 'name: default\n')
    const env = { MOCKS_SCENARIOS_DIR: dir, PORT: '0', MOCKS_LOG_LEVEL: 'silent' }
    const printed = async (scenario: string) => {
      let text = ''
      const cli = await start(['--only', 'upstash', '--scenario', scenario], {
        env,
        write: (t) => (text += t),
      })
      try {
        const value = (name: string) => text.match(new RegExp(`^${name}=(\\S+)$`, 'm'))?.[1]
        const [url, token] = [value('UPSTASH_REDIS_REST_URL'), value('UPSTASH_REDIS_REST_TOKEN')]
        // Pasted as printed, the vendor client gets in.
        const redis = new Redis({ url: url!, token: token!, retry: false, enableTelemetry: false })
        expect(await redis.set('pasted', 'works')).toBe('OK')
        return token
      } finally {
        await cli.stop()
      }
    }
    try {
      expect(await printed('own-token')).toBe('team-presence-token-123')
      expect(await printed('default')).toBe(DEFAULT_UPSTASH_TOKEN)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})

describe('CORS for browsers using @upstash/redis', () => {
  it('the preflight allows every header the vendor client sends, retries included', async () => {
    const t = await startTestMocks({ services: ['upstash'] })
    const real = globalThis.fetch
    const sent = new Set<string>()
    let calls = 0
    const spy = vi.spyOn(globalThis, 'fetch').mockImplementation(async (input, init) => {
      for (const name of new Headers(init?.headers).keys()) sent.add(name)
      // The first call fails as a network error would, so the client's retry headers are seen too.
      if (calls++ === 0) throw new TypeError('fetch failed')
      return real(input, init)
    })
    try {
      // The client as a browser app would make it: every default on (telemetry, base64,
      // read-your-writes), one retry.
      const redis = new Redis({
        url: t.url('upstash'),
        token: DEFAULT_UPSTASH_TOKEN,
        enableTelemetry: true,
        retry: { retries: 1, backoff: () => 0 },
      })
      expect(await redis.set('k', 'v')).toBe('OK')
      expect(await redis.get('k')).toBe('v')
    } finally {
      spy.mockRestore()
    }
    try {
      // What the client is known to send; the capture must have seen each (else it proves nothing).
      expect([...sent]).toEqual(
        expect.arrayContaining([
          'authorization',
          'content-type',
          'upstash-encoding',
          'upstash-sync-token',
          'upstash-telemetry-runtime',
          'upstash-telemetry-platform',
          'upstash-telemetry-sdk',
          'upstash-telemetry-retry',
        ]),
      )
      for (const path of ['/', '/pipeline', '/multi-exec', '/get/k']) {
        const res = await real(`${t.url('upstash')}${path}`, {
          method: 'OPTIONS',
          headers: {
            origin: 'http://localhost:5173',
            'access-control-request-method': 'POST',
            'access-control-request-headers': [...sent].sort().join(','),
          },
        })
        expect(res.status, path).toBe(204)
        expect(res.headers.get('access-control-allow-origin')).toBe('*')
        // Allowed as asked: a cached preflight must not serve another request's header list.
        expect(res.headers.get('vary') ?? '', path).toMatch(/access-control-request-headers/i)
        const allowed = (res.headers.get('access-control-allow-headers') ?? '').toLowerCase().split(/\s*,\s*/)
        for (const name of sent) expect(allowed, `${path}: ${name}`).toContain(name)
      }
    } finally {
      await t.close()
    }
  })
})
