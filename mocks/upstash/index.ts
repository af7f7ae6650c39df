import type { ErrorEnvelope } from '../core/envelope.ts'
import { codeForStatus } from '../core/envelope.ts'
import { createFakeApp } from '../fake/app.ts'
import { defineFake, type FakeDeps, type FakeService, sectionOf } from '../fake/descriptor.ts'
import type { Scenario } from '../fake/scenario.ts'
import { RedisBackend } from './backend.ts'
import { registerUpstashRoutes } from './routes.ts'
import { upstashSection } from './scenario.ts'
import { configureUpstash, DEFAULT_UPSTASH_TOKEN as DEFAULT_TOKEN } from './settings.ts'
import { seedBackend, type UpstashState } from './state.ts'

export { RedisBackend } from './backend.ts'
export { DEFAULT_UPSTASH_TOKEN } from './settings.ts'
export type { UpstashState } from './state.ts'

/** Upstash answers `{error}` alone, in Redis's words ("ERR ..."). */
export const upstashEnvelope: ErrorEnvelope = {
  body: (message) => ({ error: /^[A-Z]+ /.test(message) ? message : `ERR ${message}` }),
  code: codeForStatus,
}

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
  const app = createFakeApp(upstash, deps, {
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
      const section = sectionOf(upstash.scenario!, scenario) as ReturnType<typeof upstashSection.parse>
      const redis = await getBackend()
      await seedBackend(redis, section)
      state = {
        token: section.token ?? deps.config.upstashToken,
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

/** Fake Upstash Redis REST: its descriptor (mocks/fake/descriptor.ts), listed in mocks/registry.ts. */
export const upstash = defineFake({
  name: 'upstash',
  title: 'Upstash Redis (REST)',
  port: 8084,
  portEnv: 'MOCKS_UPSTASH_PORT',
  transport: 'http',
  envelope: upstashEnvelope,
  scenario: { key: 'upstash', schema: upstashSection },
  // What @upstash/redis's Redis.fromEnv() reads. The token is the configured one; a scenario
  // with its own `upstash.token` replaces it while in force.
  frontend: {
    urls: ['UPSTASH_REDIS_REST_URL'],
    extra: ({ env }) => ({
      UPSTASH_REDIS_REST_TOKEN: env.MOCKS_UPSTASH_TOKEN || DEFAULT_TOKEN,
    }),
  },
  configure: configureUpstash,
  create: (deps) => createUpstashFake(deps),
})
