import type { Env, MocksConfig } from '../core/config.ts'

// The Upstash fake's own settings, read into the shared config by its descriptor's `configure`
// (the kernel's config knows no service; the fields are declared here by module augmentation).

/** The token when neither the scenario (`upstash.token`) nor `MOCKS_UPSTASH_TOKEN` names one. */
export const DEFAULT_UPSTASH_TOKEN = 'devarno-mocks-upstash-development-token'
export const DEFAULT_UPSTASH_PREFIX = 'devarno-mocks:upstash:'

declare module '../core/config.ts' {
  interface MocksConfig {
    /**
     * `MOCKS_UPSTASH_REDIS_URL`: a real Redis behind the Upstash fake (keys under
     * `upstashPrefix`); unset = embedded. Never `REDIS_URL`, which belongs to the frontend.
     */
    upstashRedisUrl: string | undefined
    /** `MOCKS_UPSTASH_PREFIX`: every key of the fake lives under it in that Redis. */
    upstashPrefix: string
    /** `MOCKS_UPSTASH_TOKEN`: the token accepted when the scenario names none. */
    upstashToken: string
  }
}

export function configureUpstash(config: MocksConfig, env: Env): void {
  config.upstashRedisUrl = env.MOCKS_UPSTASH_REDIS_URL || undefined
  config.upstashPrefix = env.MOCKS_UPSTASH_PREFIX || DEFAULT_UPSTASH_PREFIX
  config.upstashToken = env.MOCKS_UPSTASH_TOKEN || DEFAULT_UPSTASH_TOKEN
}
