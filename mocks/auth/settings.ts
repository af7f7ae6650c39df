import { ConfigError, type Env, type MocksConfig } from '../core/config.ts'

// The fake auth's own setting, read into the shared config by its descriptor's `configure`
// (the kernel's config knows no service; see mocks/media/settings.ts).

declare module '../core/config.ts' {
  interface MocksConfig {
    /** `MOCKS_AUTH_NO_SESSION`: the no-session answer when a scenario names none. */
    authNoSession: '401' | '200-null'
  }
}

export function configureAuth(config: MocksConfig, env: Env): void {
  const raw = env.MOCKS_AUTH_NO_SESSION
  if (!raw) config.authNoSession = '401'
  else if (raw === '401' || raw === '200-null') config.authNoSession = raw
  else {
    throw new ConfigError(
      `MOCKS_AUTH_NO_SESSION=${JSON.stringify(raw)}: use 401 (the matrix) or 200-null (better-auth)`,
    )
  }
}
