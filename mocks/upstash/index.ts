import { createFakeApp } from '../core/app.ts'
import { DEFAULT_UPSTASH_TOKEN } from '../core/config.ts'
import type { FakeDeps, FakeService } from '../core/fake.ts'
import type { Scenario } from '../core/scenario/schema.ts'
import { RedisBackend } from './backend.ts'
import { registerUpstashRoutes } from './routes.ts'
import { seedBackend, type UpstashState } from './state.ts'

export { RedisBackend } from './backend.ts'
export type { UpstashState } from './state.ts'

export interface UpstashFake extends FakeService {
  /** The state in force (tests, tooling). */
  state(): UpstashState
}

export interface UpstashFakeOptions {
  /** Overrides `MOCKS_UPSTASH_REDIS_URL` / the prefix from the config (tests). */
  redisUrl?: string
  prefix?: string
}

/**
 * Fake Upstash Redis REST API (port 8084, `MOCKS_UPSTASH_PORT`), printed as
 * `UPSTASH_REDIS_REST_URL` and `UPSTASH_REDIS_REST_TOKEN`. Embedded Redis by default;
 * a real one under a key prefix with `MOCKS_UPSTASH_REDIS_URL`.
 */
export function createUpstashFake(deps: FakeDeps, options: UpstashFakeOptions = {}): UpstashFake {
  const redisUrl = options.redisUrl ?? deps.config.upstashRedisUrl
  // Made on the first scenario (the runtime applies one before serving).
  let backend: Promise<RedisBackend> | undefined
  const getBackend = () => {
    backend ??= RedisBackend.create({
      ...(redisUrl ? { url: redisUrl } : {}),
      prefix: options.prefix ?? deps.config.upstashPrefix,
    }).catch((err: unknown) => {
      backend = undefined // the next scenario tries again
      throw err
    })
    return backend
  }
  // Browsers call Upstash directly too (its REST API answers CORS for any origin).
  const app = createFakeApp('upstash', deps, {
    cors: {
      origin: '*',
      allowMethods: ['HEAD', 'GET', 'POST', 'PUT', 'OPTIONS'],
      allowHeaders: ['authorization', 'content-type', 'upstash-encoding', 'upstash-sync-token'],
      maxAge: 86400,
    },
  })
  let state: UpstashState | undefined
  const current = (): UpstashState => {
    if (!state) throw new Error('upstash fake used before a scenario was applied')
    return state
  }
  registerUpstashRoutes(app, current)

  return {
    name: 'upstash',
    app,
    state: current,
    async applyScenario(scenario: Scenario) {
      const section = scenario.upstash
      const redis = await getBackend()
      await seedBackend(redis, section)
      state = {
        token: section.token ?? DEFAULT_UPSTASH_TOKEN,
        maxRequestBytes: section.maxRequestBytes,
        backend: redis,
      }
      deps.logger.debug(
        { scenario: scenario.name, backend: redis.kind, keys: Object.keys(section.keys).length },
        'upstash seeded',
      )
    },
    close: async () => {
      await (await backend)?.close()
    },
  }
}
