// Environment configuration shared by every fake. Names follow the integration matrix and
// DESIGN §1; every default can be overridden by env so a fake can stand beside real services.

export type ServiceName = 'auth' | 'chat' | 'media' | 'v01t'
export const SERVICE_NAMES: readonly ServiceName[] = ['auth', 'chat', 'media', 'v01t']

/** The control API's paths: never faulted, journaled or given a fake's CORS. */
export function isControlPath(path: string): boolean {
  return path === '/__mocks' || path.startsWith('/__mocks/')
}

export const DEFAULT_PORTS = {
  v01t: 8000,
  media: 8081,
  chat: 8082,
  auth: 8083,
  control: 8090,
} as const

/** Env names that override each port when several services run in one process. */
export const PORT_ENV = {
  v01t: 'MOCKS_V01T_PORT',
  media: 'MOCKS_MEDIA_PORT',
  chat: 'MOCKS_CHAT_PORT',
  auth: 'MOCKS_AUTH_PORT',
  control: 'MOCKS_CONTROL_PORT',
} as const

export const DEFAULT_ALLOWED_ORIGINS = [
  'https://casa.devarno.cloud',
  'https://*.devarno.cloud',
  'http://localhost:3000',
  'http://127.0.0.1:8090',
  'http://localhost:8090',
] as const

/** A fixed development secret (>= 32 chars, as better-auth requires) so seeded cookies are stable. */
export const DEFAULT_AUTH_SECRET = 'devarno-mocks-development-secret-not-for-production'

export interface MocksConfig {
  host: string
  ports: Record<ServiceName | 'control', number>
  /** Where chat and media validate sessions (may point at a real family-hub). */
  authServiceUrl: string
  /** Base of the absolute URLs media-service advertises. */
  mediaBaseUrl: string
  betterAuthSecret: string
  maxFileSize: number
  maxAvatarSize: number
  storagePath: string | undefined
  allowedOrigins: string[]
  scenario: string
  scenariosDir: string
  controlToken: string | undefined
  logLevel: string
  /** Chat and media treat a get-session slower than this as an outage. */
  authTimeoutMs: number
  /** Which derived URLs came from env (and so stay put when ports are chosen at start-up). */
  explicit: { authServiceUrl: boolean; mediaBaseUrl: boolean }
}

/** Recomputes URLs derived from ports (after ephemeral ports are known), keeping explicit ones. */
export function refreshDerivedUrls(config: MocksConfig): void {
  if (!config.explicit.authServiceUrl) config.authServiceUrl = `http://127.0.0.1:${config.ports.auth}`
  if (!config.explicit.mediaBaseUrl) config.mediaBaseUrl = `http://localhost:${config.ports.media}`
}

export type Env = Record<string, string | undefined>

export class ConfigError extends Error {
  override name = 'ConfigError'
}

function intFromEnv(env: Env, name: string, fallback: number, min = 0): number {
  const raw = env[name]
  if (raw === undefined || raw === '') return fallback
  const value = Number(raw)
  if (!Number.isInteger(value) || value < min) {
    throw new ConfigError(
      `${name}=${JSON.stringify(raw)} is not a whole number >= ${min}; unset it or fix it`,
    )
  }
  return value
}

/**
 * Reads the configuration from env. `only` names the single service a process runs, so the
 * generic `PORT` applies to it as it does for the real service.
 */
export function loadConfig(env: Env = process.env, only?: ServiceName): MocksConfig {
  const ports = {
    v01t: intFromEnv(env, PORT_ENV.v01t, DEFAULT_PORTS.v01t),
    media: intFromEnv(env, PORT_ENV.media, DEFAULT_PORTS.media),
    chat: intFromEnv(env, PORT_ENV.chat, DEFAULT_PORTS.chat),
    auth: intFromEnv(env, PORT_ENV.auth, DEFAULT_PORTS.auth),
    control: intFromEnv(env, PORT_ENV.control, DEFAULT_PORTS.control),
  }
  if (only && env.PORT) ports[only] = intFromEnv(env, 'PORT', ports[only])
  const secret = env.BETTER_AUTH_SECRET || DEFAULT_AUTH_SECRET
  if (secret.length < 32) {
    throw new ConfigError('BETTER_AUTH_SECRET must be at least 32 characters, as better-auth requires')
  }
  const origins = env.MOCKS_ALLOWED_ORIGINS
    ? env.MOCKS_ALLOWED_ORIGINS.split(',')
        .map((o) => o.trim())
        .filter(Boolean)
    : [...DEFAULT_ALLOWED_ORIGINS]
  return {
    host: env.MOCKS_HOST || '127.0.0.1',
    ports,
    authServiceUrl: (env.AUTH_SERVICE_URL || `http://127.0.0.1:${ports.auth}`).replace(/\/+$/, ''),
    mediaBaseUrl: (env.BASE_URL || `http://localhost:${ports.media}`).replace(/\/+$/, ''),
    betterAuthSecret: secret,
    maxFileSize: intFromEnv(env, 'MAX_FILE_SIZE', 10 * 1024 * 1024, 1),
    maxAvatarSize: intFromEnv(env, 'MAX_AVATAR_SIZE', 2 * 1024 * 1024, 1),
    storagePath: env.STORAGE_PATH || undefined,
    allowedOrigins: origins,
    scenario: env.MOCKS_SCENARIO || 'default',
    scenariosDir: env.MOCKS_SCENARIOS_DIR || new URL('../../scenarios/', import.meta.url).pathname,
    controlToken: env.MOCKS_CONTROL_TOKEN || undefined,
    logLevel: env.MOCKS_LOG_LEVEL || env.LOG_LEVEL || 'info',
    authTimeoutMs: intFromEnv(env, 'MOCKS_AUTH_TIMEOUT_MS', 5000, 1),
    explicit: { authServiceUrl: Boolean(env.AUTH_SERVICE_URL), mediaBaseUrl: Boolean(env.BASE_URL) },
  }
}
