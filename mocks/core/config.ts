import { hostname } from 'node:os'
import { DEFAULT_WS_TOKEN_SECRET } from './ws-token.ts'

// Environment configuration shared by every fake. Names follow the integration matrix and
// DESIGN §1; every default can be overridden by env so a fake can stand beside real services.
// The kernel knows no service: which ports exist (and their env names) comes from the fakes'
// descriptors, passed in as `services` (mocks/runtime/config.ts passes the registry's).

import { DEFAULT_ROLE_MAP, parseRoleMap, type RoleMap } from './roles.ts'

/** A fake's name, as its descriptor gives it (mocks/registry.ts lists them). */
export type ServiceName = string

/** The control API's paths: never faulted, journaled or given a fake's CORS. */
export function isControlPath(path: string): boolean {
  return path === '/__mocks' || path.startsWith('/__mocks/')
}

/** The control plane's own port and env name (it is no fake). */
export const CONTROL_PORT = { name: 'control', port: 8090, portEnv: 'MOCKS_CONTROL_PORT' } as const

/** What config needs to know of a service: its name, default port and port env name. */
export interface PortSpec {
  readonly name: string
  readonly port: number
  readonly portEnv: string
}

/**
 * Browser origins allowed by default (CORS with credentials, WS Origin): the matrix's
 * production origins and, for development, any localhost / 127.0.0.1 port (a frontend's dev
 * server and the demo, whatever their ports). `MOCKS_EXTRA_ORIGINS` adds to these;
 * `MOCKS_ALLOWED_ORIGINS` replaces them (the demo's own origin is then still added).
 */
export const DEFAULT_ALLOWED_ORIGINS = [
  'https://casa.devarno.cloud',
  'https://*.devarno.cloud',
  'http://localhost:*',
  'http://127.0.0.1:*',
] as const

/** The demo (dashboard and reference client) is served by the control plane: its origins follow that port. */
export function demoOrigins(controlPort: number): string[] {
  return [`http://127.0.0.1:${controlPort}`, `http://localhost:${controlPort}`]
}

function originList(raw: string | undefined): string[] {
  return (raw ?? '')
    .split(',')
    .map((o) => o.trim().replace(/\/+$/, ''))
    .filter(Boolean)
}

/** The allow-list from the origin settings and the control port (the demo's origin). */
export function allowedOriginsFor(settings: MocksConfig['originSettings'], controlPort: number): string[] {
  const base = settings.replaced ?? [...DEFAULT_ALLOWED_ORIGINS, ...settings.extra]
  return [...new Set([...base, ...demoOrigins(controlPort)])]
}

/** A fixed development secret (>= 32 chars, as better-auth requires) so seeded cookies are stable. */
export const DEFAULT_AUTH_SECRET = 'devarno-mocks-development-secret-not-for-production'

/** Ephemeral WS tokens' HS256 secret (>= 32 chars) when `WS_TOKEN_SECRET` is unset (core/ws-token.ts). */
export { DEFAULT_WS_TOKEN_SECRET } from './ws-token.ts'

export interface MocksConfig {
  host: string
  /** Each service's port (and `control`'s); updated to the real one once a listener is bound. */
  ports: Record<ServiceName, number>
  /** Where chat and media validate sessions (may point at a real family-hub). */
  authServiceUrl: string
  betterAuthSecret: string
  /** Signs and checks ephemeral WS tokens (HS256): `WS_TOKEN_SECRET`, >= 32 characters. */
  wsTokenSecret: string
  /** Derived from `originSettings` and the control port (see `allowedOriginsFor`). */
  allowedOrigins: string[]
  /** `MOCKS_ALLOWED_ORIGINS` (replaces the defaults) and `MOCKS_EXTRA_ORIGINS` (adds to them). */
  originSettings: { replaced: string[] | undefined; extra: string[] }
  scenario: string
  scenariosDir: string
  controlToken: string | undefined
  logLevel: string
  /** Chat and media treat a get-session slower than this as an outage. */
  authTimeoutMs: number
  /** better-auth role name -> the role chat and media act on (MOCKS_AUTH_ROLE_MAP over the default). */
  authRoleMap: RoleMap
  /** Which derived URLs came from env (and so stay put when ports are chosen at start-up). */
  explicit: Record<string, boolean>
  /** Tenants idle (no request, no open socket) this long are removed: `MOCKS_TENANT_IDLE_MS`. */
  tenantIdleMs: number
  /** Live tenants besides the default: `MOCKS_MAX_TENANTS`. */
  maxTenants: number
  /** The verdict rules (the matrix's "Correct Behavior"): `MOCKS_VERDICTS_FILE`. */
  verdictsFile: string
  /**
   * Replicated mode (README "Replicas"): `MOCKS_REDIS_URL`, the key prefix
   * (`MOCKS_REDIS_PREFIX`) and this replica's name (`MOCKS_REPLICA`); undefined: one process.
   */
  replication: ReplicationSettings | undefined
}

export interface ReplicationSettings {
  url: string
  prefix: string
  name: string
  /** A snapshot of the world every this many log entries (`MOCKS_SNAPSHOT_EVERY`, default 1000). */
  snapshotEvery?: number
}
// A fake's own settings are declared on MocksConfig by the fake (module augmentation) and read
// from env by its descriptor's `configure` (mocks/media/settings.ts).

export type Env = Record<string, string | undefined>

type KernelField =
  | 'host'
  | 'ports'
  | 'authServiceUrl'
  | 'betterAuthSecret'
  | 'wsTokenSecret'
  | 'allowedOrigins'
  | 'originSettings'
  | 'scenario'
  | 'scenariosDir'
  | 'controlToken'
  | 'logLevel'
  | 'authTimeoutMs'
  | 'authRoleMap'
  | 'explicit'
  | 'tenantIdleMs'
  | 'maxTenants'
  | 'verdictsFile'
  | 'replication'

export class ConfigError extends Error {
  override name = 'ConfigError'
}

export function intFromEnv(env: Env, name: string, fallback: number, min = 0): number {
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

function roleMapFromEnv(env: Env): RoleMap {
  try {
    return { ...DEFAULT_ROLE_MAP, ...parseRoleMap(env.MOCKS_AUTH_ROLE_MAP) }
  } catch (err) {
    throw new ConfigError((err as Error).message)
  }
}

export interface ReadConfigOptions {
  /** The services whose ports are read (their descriptors). */
  services?: readonly PortSpec[]
  /** The single service a process runs: the generic `PORT` applies to it, as for the real service. */
  only?: ServiceName | undefined
}

/**
 * Reads the configuration from env. A URL derived from a service's port (`authServiceUrl`) is
 * left empty unless set by env: the owning descriptor's `derive` fills it. Fakes' own settings
 * are read by their descriptors' `configure` (mocks/runtime/config.ts calls it).
 */
export function readConfig(env: Env = process.env, opts: ReadConfigOptions = {}): MocksConfig {
  const ports: Record<string, number> = {}
  for (const s of opts.services ?? []) ports[s.name] = intFromEnv(env, s.portEnv, s.port)
  ports.control = intFromEnv(env, CONTROL_PORT.portEnv, CONTROL_PORT.port)
  const only = opts.only
  if (only && env.PORT) ports[only] = intFromEnv(env, 'PORT', ports[only] ?? 0)
  const secret = env.BETTER_AUTH_SECRET || DEFAULT_AUTH_SECRET
  if (secret.length < 32) {
    throw new ConfigError('BETTER_AUTH_SECRET must be at least 32 characters, as better-auth requires')
  }
  const wsTokenSecret = env.WS_TOKEN_SECRET || DEFAULT_WS_TOKEN_SECRET
  if (wsTokenSecret.length < 32) {
    throw new ConfigError('WS_TOKEN_SECRET must be at least 32 characters (it signs HS256 WS tokens)')
  }
  const replaced = originList(env.MOCKS_ALLOWED_ORIGINS)
  const originSettings = {
    replaced: replaced.length ? replaced : undefined,
    extra: originList(env.MOCKS_EXTRA_ORIGINS),
  }
  // Fakes' own fields (declared on MocksConfig by them) are filled by their `configure`.
  const config: Pick<MocksConfig, KernelField> = {
    host: env.MOCKS_HOST || '127.0.0.1',
    ports,
    authServiceUrl: (env.AUTH_SERVICE_URL || '').replace(/\/+$/, ''),
    betterAuthSecret: secret,
    wsTokenSecret,
    allowedOrigins: allowedOriginsFor(originSettings, ports.control),
    originSettings,
    scenario: env.MOCKS_SCENARIO || 'default',
    scenariosDir: env.MOCKS_SCENARIOS_DIR || new URL('../../scenarios/', import.meta.url).pathname,
    controlToken: env.MOCKS_CONTROL_TOKEN || undefined,
    logLevel: env.MOCKS_LOG_LEVEL || env.LOG_LEVEL || 'info',
    authTimeoutMs: intFromEnv(env, 'MOCKS_AUTH_TIMEOUT_MS', 5000, 1),
    authRoleMap: roleMapFromEnv(env),
    explicit: { authServiceUrl: Boolean(env.AUTH_SERVICE_URL) },
    tenantIdleMs: intFromEnv(env, 'MOCKS_TENANT_IDLE_MS', 15 * 60_000, 1),
    maxTenants: intFromEnv(env, 'MOCKS_MAX_TENANTS', 64, 0),
    verdictsFile: env.MOCKS_VERDICTS_FILE || new URL('../../verdicts.yaml', import.meta.url).pathname,
    replication: env.MOCKS_REDIS_URL
      ? {
          url: env.MOCKS_REDIS_URL,
          prefix: env.MOCKS_REDIS_PREFIX || 'devarno-mocks:',
          name: env.MOCKS_REPLICA || `${hostname()}-${process.pid}`,
          snapshotEvery: intFromEnv(env, 'MOCKS_SNAPSHOT_EVERY', 1000, 1),
        }
      : undefined,
  }
  return config as MocksConfig
}
