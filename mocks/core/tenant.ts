import type { Context } from 'hono'
import type { HeaderLookup } from './request-headers.ts'

// Tenants (DESIGN §9): every test its own world on one set of mocks. This module is the
// kernel's part: what a tenant id looks like, the signals a request carries, and which tenant
// a request was resolved to (the runtime resolves; fakes and the engine only read it).

/** The world that exists when no tenant is named: `pnpm dev:mocks`, the demo, msw. */
export const DEFAULT_TENANT = 'default'
/** For API clients and tests; the CORS layer of every fake allows it. */
export const TENANT_HEADER = 'x-mocks-tenant'
/** Set by the Playwright fixture for the mocks' hosts (no preflight, reaches WS handshakes). */
export const TENANT_COOKIE = 'mocks_tenant'
/** A member of the W3C `baggage` header, so trace-context propagation carries it server-side. */
export const TENANT_BAGGAGE_KEY = 'mocks.tenant'
/** Request headers a browser may send cross-origin for tenancy (CORS allow lists add these). */
export const TENANT_CORS_HEADERS = [TENANT_HEADER, 'baggage'] as const

const TENANT_ID = /^[a-z0-9][a-z0-9-]{0,62}$/

export function isTenantId(value: string): boolean {
  return TENANT_ID.test(value)
}

/** Why a value is not a tenant id, for error messages (never echoes more than a short prefix). */
export function tenantIdProblem(value: string): string {
  const shown = value.length > 40 ? `${value.slice(0, 40)}…` : value
  return `"${shown}" is not a tenant id: 1-63 characters, lower-case letters, digits and dashes, starting with a letter or digit`
}

export type TenantSource = 'header' | 'baggage' | 'cookie' | 'session' | 'service'

export interface TenantSignal {
  source: TenantSource
  /** As sent (not yet checked against the id pattern). */
  value: string
}

/** `mocks.tenant` of a W3C baggage header (members `key=value;props`, values percent-encoded). */
export function baggageTenant(header: string | null | undefined): string | undefined {
  if (!header?.includes(TENANT_BAGGAGE_KEY)) return undefined
  for (const member of header.split(',')) {
    const eq = member.indexOf('=')
    if (eq < 0 || member.slice(0, eq).trim() !== TENANT_BAGGAGE_KEY) continue
    const raw = member
      .slice(eq + 1)
      .split(';')[0]!
      .trim()
    try {
      return decodeURIComponent(raw)
    } catch {
      return raw
    }
  }
  return undefined
}

/** The `mocks_tenant` cookie's value, if the Cookie header has one. */
export function cookieTenant(header: string | null | undefined): string | undefined {
  if (!header?.includes(TENANT_COOKIE)) return undefined
  for (const pair of header.split(';')) {
    const eq = pair.indexOf('=')
    if (eq < 0 || pair.slice(0, eq).trim() !== TENANT_COOKIE) continue
    const raw = pair.slice(eq + 1).trim()
    try {
      return decodeURIComponent(raw)
    } catch {
      return raw
    }
  }
  return undefined
}

/** The explicit signals of a request, in the documented order: header, baggage, cookie. */
export function explicitTenantSignals(headers: HeaderLookup): TenantSignal[] {
  const out: TenantSignal[] = []
  const header = headers.get(TENANT_HEADER)
  if (header !== null && header !== undefined) out.push({ source: 'header', value: header.trim() })
  const baggage = baggageTenant(headers.get('baggage'))
  if (baggage !== undefined) out.push({ source: 'baggage', value: baggage })
  const cookie = cookieTenant(headers.get('cookie'))
  if (cookie !== undefined) out.push({ source: 'cookie', value: cookie })
  return out
}

// Which tenant a request was resolved to: set once by the runtime in front of the fault
// engine, read by every `StateOf`. Kept on the Request itself, so it holds for the whole
// pipeline (routes, upgrade) and is gone with the request; a property, not a WeakMap entry
// (an ephemeron the GC must track) per request.
const RESOLVED = Symbol('mocks.tenant')
type Bound = Request & { [RESOLVED]?: string }

export function bindTenant(request: Request, tenant: string): void {
  ;(request as Bound)[RESOLVED] = tenant
}

export function tenantOfRequest(request: Request): string {
  return (request as Bound)[RESOLVED] ?? DEFAULT_TENANT
}

export function tenantOf(c: Context): string {
  return tenantOfRequest(c.req.raw)
}
