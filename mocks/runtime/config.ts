import {
  allowedOriginsFor,
  CONTROL_PORT,
  type Env,
  type MocksConfig,
  readConfig,
  type ServiceName,
} from '../core/config.ts'
import type { FakeDescriptor } from '../fake/descriptor.ts'
import { FAKES } from '../registry.ts'

// The configuration of a set of fakes: the kernel's env reading, with each descriptor's port
// (and port env name), and the values that follow a port (`derive`).

/**
 * Reads the configuration from env. `only` names the single service a process runs, so the
 * generic `PORT` applies to it as it does for the real service.
 */
export function loadConfig(
  env: Env = process.env,
  only?: ServiceName,
  fakes: readonly FakeDescriptor[] = FAKES,
): MocksConfig {
  const config = readConfig(env, { services: fakes, only })
  for (const fake of fakes) fake.configure?.(config, env)
  refreshDerivedUrls(config, fakes)
  return config
}

/** Recomputes URLs derived from ports (after ephemeral ports are known), keeping explicit ones. */
export function refreshDerivedUrls(config: MocksConfig, fakes: readonly FakeDescriptor[] = FAKES): void {
  for (const fake of fakes) if (config.ports[fake.name] !== undefined) fake.derive?.(config)
  // The demo's origin (allowed even when MOCKS_ALLOWED_ORIGINS replaces the list) follows the control port.
  config.allowedOrigins = allowedOriginsFor(config.originSettings, config.ports.control ?? CONTROL_PORT.port)
}

/** Each service's default port, and the control plane's. */
export function defaultPorts(fakes: readonly FakeDescriptor[] = FAKES): Record<string, number> {
  return Object.fromEntries([...fakes, CONTROL_PORT].map((f) => [f.name, f.port]))
}

/** The env name that sets each service's port, and the control plane's. */
export function portEnvs(fakes: readonly FakeDescriptor[] = FAKES): Record<string, string> {
  return Object.fromEntries([...fakes, CONTROL_PORT].map((f) => [f.name, f.portEnv]))
}

export const DEFAULT_PORTS: Readonly<Record<string, number>> & { readonly control: number } = {
  ...defaultPorts(),
  control: CONTROL_PORT.port,
}
export const PORT_ENV: Readonly<Record<string, string>> & { readonly control: string } = {
  ...portEnvs(),
  control: CONTROL_PORT.portEnv,
}

export {
  ConfigError,
  DEFAULT_AUTH_SECRET,
  type Env,
  type MocksConfig,
  type ServiceName,
} from '../core/config.ts'
