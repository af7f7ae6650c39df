import { existsSync, readdirSync, statSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { extname, join, relative, sep } from 'node:path'
import { fileURLToPath } from 'node:url'
import { type Context, Hono } from 'hono'
import type { ServiceName } from '../core/config.ts'
import { requestHeaders } from '../core/request-headers.ts'
import { sessionCookieFrom } from '../core/session-cookie.ts'
import { explicitTenantSignals, isTenantId, TENANT_BAGGAGE_KEY, tenantIdProblem } from '../core/tenant.ts'
import { registerHouseholdRoutes } from './household.ts'
import { registerPresenceRoutes } from './presence.ts'

// The outage demo on the control port (DESIGN §5 "dashboard page"): static pages (a control
// panel at / and the reference client at /client.html) plus the few same-origin routes a real
// app would give its own frontend. better-auth lives inside family-hub, so the client reaches it
// same-origin: /api/auth/* is forwarded to the auth service (no CORS needed, cookies set for
// this host); /api/chat/ws-token is the matrix's "fetch token from server endpoint" resolution,
// so the page never parses document.cookie (the session cookie is HttpOnly).
//
// Tenants (issue 16): this server stands in for a frontend's own server, so it serves the world
// its caller is in. The tenant comes as the fixtures send it (the `mocks_tenant` cookie, or the
// X-Mocks-Tenant / baggage header); /api/config uses that tenant's scenario and names it, and
// the server's own calls carry it on (the Cookie verbatim to auth, `baggage: mocks.tenant=` to
// Upstash), as a server propagating trace context would.

/** What the demo needs from the running mocks (a structural slice of `Mocks`). */
export interface DemoHost {
  /** The services running, in registry order. */
  running(): readonly ServiceName[]
  url(service: ServiceName): string | undefined
  readonly config: {
    authServiceUrl: string
    maxFileSize: number
    maxAvatarSize: number
    upstashToken?: string
  }
  /** The default tenant's scenario. */
  readonly scenario: DemoScenario
  /** A live tenant (the runtime's `Mocks.tenant`); without it every request is the default tenant's. */
  tenant?(id: string): { readonly scenario: DemoScenario | undefined } | undefined
}

export interface DemoScenario {
  name: string
  media: { limits: { maxFileSize?: number; maxAvatarSize?: number } }
  chat: { wsAuth: 'raw' | 'ephemeral' | 'both' }
  /** Present when the Upstash fake is registered (its descriptor's section). */
  upstash?: { token?: string | undefined }
}

/** The world a request to the demo server is in: its tenant (none: the default) and scenario. */
export interface DemoWorld {
  tenant: string | undefined
  scenario: DemoScenario
}

/**
 * The tenant a request names (the first of X-Mocks-Tenant, baggage, the `mocks_tenant` cookie;
 * the fakes themselves refuse signals that disagree), or why it cannot be served.
 */
export function demoWorld(host: DemoHost, c: Context): DemoWorld | { status: 400 | 404; error: string } {
  const [signal] = host.tenant ? explicitTenantSignals(requestHeaders(c)) : []
  if (!signal || !host.tenant) return { tenant: undefined, scenario: host.scenario }
  if (!isTenantId(signal.value)) return { status: 400, error: tenantIdProblem(signal.value) }
  const scenario = host.tenant(signal.value)?.scenario
  if (!scenario)
    return {
      status: 404,
      error: `Unknown tenant "${signal.value}" (from the ${signal.source}): never created, or deleted`,
    }
  return { tenant: signal.value, scenario }
}

/** Headers carrying a tenant on this server's own calls (W3C baggage, as trace context propagates). */
export function tenantBaggage(world: DemoWorld): Record<string, string> {
  return world.tenant ? { baggage: `${TENANT_BAGGAGE_KEY}=${world.tenant}` } : {}
}

function tenantRefused(c: Context, problem: { status: 400 | 404; error: string }) {
  return c.json(
    { error: problem.error, code: problem.status === 404 ? 'unknown_tenant' : 'invalid_tenant' },
    problem.status,
  )
}

const PUBLIC_DIR = fileURLToPath(new URL('./public/', import.meta.url))

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.json': 'application/json; charset=utf-8',
}

/** URL path → file, built once from the folder: nothing outside it can ever be named. */
function listFiles(dir: string): Map<string, string> {
  const files = new Map<string, string>()
  if (!existsSync(dir)) return files
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const full = join(d, name)
      if (statSync(full).isDirectory()) walk(full)
      else if (CONTENT_TYPES[extname(name)] && !name.endsWith('.d.ts'))
        files.set(`/${relative(dir, full).split(sep).join('/')}`, full)
    }
  }
  walk(dir)
  return files
}

/** Request headers worth forwarding to better-auth (its origin check reads Origin/Referer). */
const FORWARDED = [
  'accept',
  'content-type',
  'cookie',
  'origin',
  'referer',
  'user-agent',
  'x-request-id',
  'traceparent',
  'baggage',
  'x-mocks-tenant',
]

const AUTH_PROXY_TIMEOUT_MS = 5000

export function createDemoApp(host: DemoHost, opts: { publicDir?: string } = {}): Hono {
  const files = listFiles(opts.publicDir ?? PUBLIC_DIR)
  const app = new Hono()

  app.get('/api/config', (c) => {
    c.header('cache-control', 'no-store')
    const world = demoWorld(host, c)
    if ('status' in world) return tenantRefused(c, world)
    const services: Partial<Record<ServiceName, string>> = {}
    for (const s of host.running()) {
      const url = host.url(s)
      if (url) services[s] = url
    }
    const limits = world.scenario.media.limits
    return c.json({
      scenario: world.scenario.name,
      // The page names it where a cookie cannot go (the control API's ?tenant=, V01T's baggage).
      ...(world.tenant ? { tenant: world.tenant } : {}),
      services,
      limits: {
        maxFileSize: limits.maxFileSize ?? host.config.maxFileSize,
        maxAvatarSize: limits.maxAvatarSize ?? host.config.maxAvatarSize,
      },
    })
  })

  // The client asks before every connect. With `chat.wsAuth` raw, the answer is the session
  // token (the matrix today); otherwise an ephemeral WS token from the auth service's
  // POST /api/auth/ws-token, as family-hub's server would issue it.
  app.get('/api/chat/ws-token', async (c) => {
    c.header('cache-control', 'no-store')
    const token = sessionCookieFrom(c.req.header('cookie'))
    if (!token) return c.json({ error: 'Not signed in: no session cookie', code: 'unauthorized' }, 401)
    const world = demoWorld(host, c)
    if ('status' in world) return tenantRefused(c, world)
    if (world.scenario.chat.wsAuth === 'raw') return c.json({ token })
    const base = (host.url('auth') ?? host.config.authServiceUrl).replace(/\/+$/, '')
    const headers = new Headers({ cookie: c.req.header('cookie') ?? '' })
    // A server-side call (family-hub's server asking its own auth): better-auth's origin check
    // on cookie POSTs sees the auth service's own origin.
    headers.set('origin', new URL(base).origin)
    for (const name of ['x-request-id', 'traceparent']) {
      const v = c.req.header(name)
      if (v !== undefined) headers.set(name, v)
    }
    let res: Response
    try {
      res = await fetch(`${base}/api/auth/ws-token`, {
        method: 'POST',
        headers,
        signal: AbortSignal.timeout(AUTH_PROXY_TIMEOUT_MS),
      })
    } catch (err) {
      return authUnavailable(c, err)
    }
    if (res.status === 401)
      return c.json({ error: 'Not signed in: no live session', code: 'unauthorized' }, 401)
    const body = (await res.json().catch(() => null)) as { token?: unknown; expiresAt?: unknown } | null
    if (!res.ok || typeof body?.token !== 'string') {
      return c.json(
        { error: `The auth service answered ${res.status} for a WS token`, code: 'ws_token_unavailable' },
        503,
      )
    }
    return c.json({ token: body.token, expiresAt: body.expiresAt })
  })

  // `host` is the runtime itself (a class): its methods are called on it, never copied off.
  registerPresenceRoutes(app, {
    url: (service) => host.url(service),
    get config() {
      return host.config
    },
    get scenario() {
      return host.scenario
    },
    world: (c) => demoWorld(host, c),
  })
  registerHouseholdRoutes(app, host)

  app.all('/api/auth/*', async (c) => {
    const base = (host.url('auth') ?? host.config.authServiceUrl).replace(/\/+$/, '')
    const url = new URL(c.req.url)
    const headers = new Headers()
    for (const name of FORWARDED) {
      const v = c.req.header(name)
      if (v !== undefined) headers.set(name, v)
    }
    const hasBody = c.req.method !== 'GET' && c.req.method !== 'HEAD'
    let res: Response
    try {
      res = await fetch(`${base}${url.pathname}${url.search}`, {
        method: c.req.method,
        headers,
        body: hasBody ? await c.req.arrayBuffer() : undefined,
        redirect: 'manual',
        signal: AbortSignal.timeout(AUTH_PROXY_TIMEOUT_MS),
      })
    } catch (err) {
      return authUnavailable(c, err)
    }
    const out = new Headers()
    for (const name of ['content-type', 'cache-control', 'location']) {
      const v = res.headers.get(name)
      if (v) out.set(name, v)
    }
    for (const cookie of res.headers.getSetCookie()) out.append('set-cookie', cookie)
    const bodyless = c.req.method === 'HEAD' || [204, 205, 304].includes(res.status)
    return new Response(bodyless ? null : await res.arrayBuffer(), {
      status: res.status,
      headers: out,
    })
  })

  app.get('*', async (c) => {
    const path = c.req.path === '/' ? '/index.html' : c.req.path
    const file = files.get(path)
    if (!file) {
      const hint = files.size
        ? 'Try / (control panel) or /client.html (reference client).'
        : 'The demo pages are not part of this build: run from a checkout (pnpm dev:mocks).'
      return c.json({ error: `No demo page at ${c.req.path}. ${hint}`, code: 'not_found' }, 404)
    }
    const body = await readFile(file)
    return c.body(body, 200, {
      'content-type': CONTENT_TYPES[extname(file)] ?? 'application/octet-stream',
      'cache-control': 'no-cache',
      'x-content-type-options': 'nosniff',
    })
  })

  app.all('*', (c) => c.json({ error: `${c.req.method} is not served here`, code: 'not_found' }, 404))
  return app
}

function authUnavailable(c: Context, err: unknown) {
  const cause = (err as { cause?: { code?: string } }).cause?.code
  const reason = (err as Error).name === 'TimeoutError' ? `no answer in ${AUTH_PROXY_TIMEOUT_MS} ms` : cause
  // better-auth's envelope, so the client reads one error shape from /api/auth/*.
  return c.json(
    {
      message: `Authentication service unavailable (${reason ?? 'unreachable'})`,
      code: 'AUTH_SERVICE_UNAVAILABLE',
    },
    503,
  )
}
