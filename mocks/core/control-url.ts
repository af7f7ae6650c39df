import { CONTROL_PORT, type Env } from './config.ts'

// Where the control plane is, found one way by everything that calls it (CLI, Playwright
// fixtures, the control client): MOCKS_CONTROL_URL, else the address the server itself binds
// (MOCKS_HOST and MOCKS_CONTROL_PORT, as readConfig reads them), else the default.

export interface ControlUrl {
  url: string
  /** The settings it came from, for messages: e.g. `MOCKS_CONTROL_PORT=9100` or `the default`. */
  source: string
}

/** A wildcard bind address is reached on loopback. */
function connectHost(host: string): string {
  if (host === '0.0.0.0' || host === '') return '127.0.0.1'
  if (host === '::' || host === '[::]') return '[::1]'
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host
}

export function resolveControlUrl(env: Env = typeof process === 'undefined' ? {} : process.env): ControlUrl {
  const explicit = env.MOCKS_CONTROL_URL?.trim()
  if (explicit) return { url: explicit.replace(/\/+$/, ''), source: `MOCKS_CONTROL_URL=${explicit}` }
  const host = env.MOCKS_HOST?.trim()
  const port = env[CONTROL_PORT.portEnv]?.trim()
  const set = [host && `MOCKS_HOST=${host}`, port && `${CONTROL_PORT.portEnv}=${port}`].filter(Boolean)
  return {
    url: `http://${connectHost(host || '127.0.0.1')}:${port || CONTROL_PORT.port}`,
    source: set.length
      ? set.join(', ')
      : 'the default (no MOCKS_CONTROL_URL, MOCKS_HOST or MOCKS_CONTROL_PORT set)',
  }
}
