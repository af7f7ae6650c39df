import type { ErrorEnvelope } from '../core/envelope.ts'
import { codeForStatus } from '../core/envelope.ts'
import { TenantStates } from '../core/state.ts'
import { DEFAULT_TENANT } from '../core/tenant.ts'
import { createFakeApp } from '../fake/app.ts'
import {
  defineFake,
  type FakeDeps,
  type FakeService,
  scopeOf,
  sectionOf,
  type TenantScope,
} from '../fake/descriptor.ts'
import type { Scenario } from '../fake/scenario.ts'
import { RedisBackend } from './backend.ts'
import { tenantToken, tokenOf, tokenTenant } from './protocol.ts'
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
  /** A tenant's state (default: the default tenant's; tests, tooling). */
  state(tenant?: string): UpstashState
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
  // One Redis per tenant, made on its first scenario (the runtime applies one before serving).
  // A tenant's keys live under a prefix of their own, never inside the default tenant's.
  const backends = new Map<string, Promise<RedisBackend>>()
  // Ends in ':' so no tenant's prefix (`<base>-t-<id>:`) ever falls inside the default's.
  const configured = options.prefix ?? deps.config.upstashPrefix
  const basePrefix = configured.endsWith(':') ? configured : `${configured}:`
  // Embedded: each tenant has a world of its own (ioredis-mock keys worlds by host), so a
  // tenant's reset, FLUSHDB or deletion can only ever empty its own keys. ioredis-mock keeps a
  // host's world for the life of the process: a deleted tenant's host, once emptied, goes to
  // the next tenant rather than a new one leaking per tenant.
  const baseHost = `embedded-${crypto.randomUUID()}`
  const hosts = new Map<string, string>()
  const spareHosts: string[] = []
  let hostsMade = 0
  const hostOf = (tenant: string) => {
    let host = hosts.get(tenant)
    if (!host) {
      host = tenant === DEFAULT_TENANT ? baseHost : (spareHosts.pop() ?? `${baseHost}-${++hostsMade}`)
      hosts.set(tenant, host)
    }
    return host
  }
  const prefixOf = (tenant: string) =>
    tenant === DEFAULT_TENANT ? basePrefix : `${basePrefix.replace(/:+$/, '')}-t-${tenant}:`
  const getBackend = (tenant: string) => {
    let backend = backends.get(tenant)
    if (!backend) {
      backend = RedisBackend.create({
        ...(redisUrl ? { url: redisUrl } : { embeddedHost: hostOf(tenant) }),
        prefix: prefixOf(tenant),
      }).catch((err: unknown) => {
        backends.delete(tenant) // the next scenario tries again
        throw err
      })
      backends.set(tenant, backend)
    }
    return backend
  }
  // Browsers call Upstash directly too (its REST API answers CORS for any origin). The
  // preflight allows whatever headers it is asked for (no allowHeaders: hono/cors reflects
  // them, with Vary): @upstash/redis sends Content-Type, authorization, Upstash-Encoding,
  // upstash-sync-token and Upstash-Telemetry-Runtime/-Platform/-Sdk (-Retry on a retry), more
  // with each release, and a browser names its tenant with X-Mocks-Tenant or baggage.
  const app = createFakeApp(upstash, deps, {
    cors: {
      origin: '*',
      allowMethods: ['HEAD', 'GET', 'POST', 'PUT', 'OPTIONS'],
      maxAge: 86400,
    },
  })
  const states = new TenantStates<UpstashState>('upstash')
  registerUpstashRoutes(app, states.stateOf)

  return {
    name: 'upstash',
    app,
    state: (tenant) => states.get(tenant),
    async applyScenario(scenario: Scenario, tenant?: TenantScope) {
      const { id } = scopeOf(deps, tenant)
      const section = sectionOf(upstash.scenario!, scenario) as ReturnType<typeof upstashSection.parse>
      const redis = await getBackend(id)
      await seedBackend(redis, section)
      const token = section.token ?? deps.config.upstashToken
      states.replace(id, {
        token,
        ...(id === DEFAULT_TENANT ? {} : { tenantToken: tenantToken(token, id) }),
        maxRequestBytes: section.maxRequestBytes,
        backend: redis,
      })
      deps.logger.debug(
        { scenario: scenario.name, tenant: id, backend: redis.kind, keys: Object.keys(section.keys).length },
        'upstash seeded',
      )
    },
    async dropTenant(tenant) {
      states.remove(tenant)
      const backend = backends.get(tenant)
      backends.delete(tenant)
      const host = hosts.get(tenant)
      hosts.delete(tenant)
      const redis = await backend?.catch(() => undefined)
      // Nothing of a deleted tenant stays behind, in a real Redis or in the embedded world
      // handed to the next tenant (a world that could not be emptied is not handed on).
      const emptied = redis
        ? await redis.dispose().then(
            () => true,
            () => false,
          )
        : true
      await redis?.close()
      if (host && emptied && tenant !== DEFAULT_TENANT) spareHosts.push(host)
    },
    close: async () => {
      const all = await Promise.allSettled(backends.values())
      await Promise.all(all.map((r) => (r.status === 'fulfilled' ? r.value.close() : undefined)))
    },
  }
}

/** The token a scenario sets (`upstash.token`), if it sets one. */
function scenarioToken(scenario: Scenario | undefined): string | undefined {
  return (scenario as { upstash?: { token?: string } } | undefined)?.upstash?.token
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
  // What @upstash/redis's Redis.fromEnv() reads: the token in force, the scenario's own
  // `upstash.token` when it sets one (the banner passes the scenario), else the configured one.
  frontend: {
    urls: ['UPSTASH_REDIS_REST_URL'],
    extra: ({ env, scenario }) => ({
      UPSTASH_REDIS_REST_TOKEN: scenarioToken(scenario) ?? (env.MOCKS_UPSTASH_TOKEN || DEFAULT_TOKEN),
    }),
  },
  configure: configureUpstash,
  // Each tenant's own token names it (`<token>@<tenant>`), from the token its scenario puts in force.
  tenantEnv: (tenant, scenario, config) => ({
    UPSTASH_REDIS_REST_TOKEN: tenantToken(scenarioToken(scenario) ?? config.upstashToken, tenant),
  }),
  tenantSignal: (headers, search) => tokenTenant(tokenOf(headers.get('authorization') ?? undefined, search)),
  create: (deps) => createUpstashFake(deps),
})
