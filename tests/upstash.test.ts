import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Redis } from '@upstash/redis'
import { describe, expect, it } from 'vitest'
import { start } from '../mocks/cli/commands.ts'
import { DEFAULT_UPSTASH_TOKEN } from '../mocks/upstash/settings.ts'
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
