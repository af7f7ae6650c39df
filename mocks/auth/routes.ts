import type { Context, Hono } from 'hono'
import { bodyLimit } from 'hono/body-limit'
import { z } from 'zod'
import { randomId } from '../core/ids.ts'
import { configOriginMatcher } from '../core/origins.ts'
import { caughtUpWithin } from '../core/replication.ts'
import { requestHeaders } from '../core/request-headers.ts'
import { cookieValue, cookieVerifier, signSessionToken } from '../core/session-cookie.ts'
import { DEFAULT_TENANT, tenantOf } from '../core/tenant.ts'
import { signWsToken } from '../core/ws-token.ts'
import { createFakeApp } from '../fake/app.ts'
import type { FakeDeps } from '../fake/descriptor.ts'
import { FORM_OR_JSON, JSON_ONLY, readBody, validationMessage } from './body.ts'
import { authEnvelope } from './envelope.ts'
import { sessionIp } from './ip.ts'
import {
  type AuthState,
  addUser,
  EmailTakenError,
  endSession,
  SESSION_ENDED,
  SESSION_MADE,
  type SessionRow,
  storeSession,
  type UserRow,
  userByEmail,
} from './state.ts'

// better-auth 1.7's email routes as family-hub mounts them under /api/auth, answered as the
// real server answers them (the parity suite, tests/parity, compares the two side by side).
// Error bodies are better-auth's `{message, code}` with its own codes and messages.

const MESSAGES = {
  INVALID_EMAIL_OR_PASSWORD: 'Invalid email or password',
  INVALID_EMAIL: 'Invalid email',
  PASSWORD_TOO_SHORT: 'Password too short',
  PASSWORD_TOO_LONG: 'Password too long',
  USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL: 'User already exists. Use another email.',
  INVALID_ORIGIN: 'Invalid origin',
  MISSING_OR_NULL_ORIGIN: 'Missing or null Origin',
  CROSS_SITE_NAVIGATION_LOGIN_BLOCKED:
    'Cross-site navigation login blocked. This request appears to be a CSRF attack.',
  INVALID_CALLBACK_URL: 'Invalid callbackURL',
  VALIDATION_ERROR: 'Validation Error',
  BAD_REQUEST: 'Invalid JSON in request body',
  BANNED_USER:
    'You have been banned from this application. Please contact support if you believe this is an error.',
  METHOD_NOT_ALLOWED_DEFER_SESSION_REQUIRED:
    'POST method requires deferSessionRefresh to be enabled in session config',
  PAYLOAD_TOO_LARGE: 'Request body too large',
  UNAUTHORIZED: 'Unauthorized',
  UNSUPPORTED_MEDIA_TYPE: 'Unsupported Media Type',
  FIELD_NOT_ALLOWED: 'Field not allowed to be set',
} as const

type Code = keyof typeof MESSAGES

function fail(
  c: Context,
  status: 400 | 401 | 403 | 405 | 413 | 415 | 422,
  code: Code,
  message: string = MESSAGES[code],
) {
  return c.json({ message, code }, status)
}

// better-auth's endpoint schemas (zod 4, the same keys in the same order, so the same issues in
// the same order): sign-up checks the email format in its schema (VALIDATION_ERROR), sign-in in
// its handler (INVALID_EMAIL); sign-up keeps unknown keys (the record) for its field checks.
const SignInBody = z.object({
  email: z.string(),
  password: z.string(),
  callbackURL: z.string().optional(),
  rememberMe: z.boolean().default(true).optional(),
})

const SignUpBody = z
  .object({
    name: z.string(),
    email: z.email(),
    password: z.string().nonempty(),
    image: z.string().optional(),
    callbackURL: z.string().optional(),
    rememberMe: z.boolean().optional(),
  })
  .and(z.record(z.string(), z.any()))

const SignOutBody = z
  .object({
    callbackURL: z.string().optional(),
    disableRedirect: z.boolean().optional(),
    state: z.string().optional(),
  })
  .optional()

/**
 * The admin plugin's user fields a sign-up body may not set (better-auth's parseUserInput, in
 * the plugin schema's order): `input: false` without a default, refused when truthy; `banned`
 * has a default, so a sent value is ignored, as a falsy value of the others is.
 */
const ADMIN_INPUT_FALSE = ['role', 'banReason', 'banExpires'] as const

function adminFieldSet(body: Record<string, unknown>): string | undefined {
  return ADMIN_INPUT_FALSE.find((key) => Boolean(body[key]))
}

/**
 * The public user object (no password) with better-auth's core fields, plus the admin plugin's
 * (role, banned, banReason, banExpires) when the scenario models it (`auth.adminPlugin`, the
 * default: family-hub runs it).
 */
export function publicUser(u: UserRow, adminPlugin: boolean) {
  return {
    id: u.id,
    email: u.email,
    name: u.name,
    image: u.image,
    emailVerified: u.emailVerified,
    createdAt: u.createdAt,
    updatedAt: u.updatedAt,
    ...(adminPlugin ? { role: u.role, banned: u.banned, banReason: null, banExpires: null } : {}),
  }
}

/** better-auth 1.7's session object (the admin plugin adds impersonatedBy). */
export function publicSession(s: SessionRow, adminPlugin: boolean) {
  return {
    id: s.id,
    token: s.token,
    userId: s.userId,
    expiresAt: s.expiresAt,
    createdAt: s.createdAt,
    updatedAt: s.updatedAt,
    ipAddress: s.ipAddress,
    userAgent: s.userAgent,
    ...(adminPlugin ? { impersonatedBy: null } : {}),
  }
}

/** better-auth's `dontRememberMe` session lifetime (internal adapter) and default `updateAge`. */
const DONT_REMEMBER_SECONDS = 86_400
const UPDATE_AGE_SECONDS = 86_400

/** The cookies better-auth clears when a session ends or is unknown (sign-out, get-session). */
const SESSION_COOKIES = ['session_token', 'session_data', 'dont_remember'] as const

/**
 * The fake better-auth's app. Created once; every route finds the state in force through
 * `stateOf(c)` (the scenario's, or a tenant's), never through a closure over one state.
 */
export function createAuthApp(deps: FakeDeps, stateOf: (c: Context) => AuthState): Hono {
  const app = createFakeApp({ name: 'auth', envelope: authEnvelope }, deps)
  registerAuthRoutes(app, deps, stateOf)
  return app
}

function registerAuthRoutes(app: Hono, deps: FakeDeps, stateOf: (c: Context) => AuthState): void {
  const secret = deps.config.betterAuthSecret
  const verifyCookie = cookieVerifier(secret)
  const trusted = configOriginMatcher(deps.config, deps.logger, 'better-auth (origin check)')

  const isHttps = (c: Context) => new URL(c.req.url).protocol === 'https:'
  // better-auth's cookie names and attributes: `__Secure-` and Secure over https.
  const cookieName = (c: Context, name: string) => `${isHttps(c) ? '__Secure-' : ''}better-auth.${name}`
  const cookieAttrs = (c: Context) => `Path=/; HttpOnly; SameSite=Lax${isHttps(c) ? '; Secure' : ''}`
  const setCookie = (c: Context, name: string, value: string, maxAge?: number) => {
    const age = maxAge === undefined ? '' : `; Max-Age=${maxAge}`
    c.header('set-cookie', `${cookieName(c, name)}=${value}${age}; ${cookieAttrs(c)}`, { append: true })
  }
  const clearSessionCookies = (c: Context) => {
    for (const name of SESSION_COOKIES) setCookie(c, name, '', 0)
  }
  /** One of better-auth's cookies from the request, by the name its scheme gives it. */
  const requestCookie = (c: Context, name: string) =>
    cookieValue(requestHeaders(c).get('cookie'), cookieName(c, name))
  /** A validly signed `dont_remember` cookie: the session is one not to be remembered. */
  const dontRemember = (c: Context) => {
    const value = requestCookie(c, 'dont_remember')
    return value !== undefined && verifyCookie(value) !== null
  }
  const setSessionCookies = (c: Context, token: string, rememberMe: boolean | undefined) => {
    const remember = rememberMe !== false
    setCookie(c, 'session_token', signSessionToken(token, secret), remember ? ttlSeconds(c) : undefined)
    // better-auth marks a session not to be remembered with a signed `true`, a browser-session
    // cookie; a remembered sign-in clears one left by an earlier session.
    if (!remember) setCookie(c, 'dont_remember', signSessionToken('true', secret))
    else if (dontRemember(c)) setCookie(c, 'dont_remember', '', 0)
  }
  const ttlSeconds = (c: Context) => stateOf(c).sessionTtlDays * 86_400

  type Lookup = { kind: 'none' } | { kind: 'unknown' } | { kind: 'live'; session: SessionRow; user: UserRow }

  /**
   * The request's session as better-auth 1.7 finds it: no cookie, or one whose signature fails,
   * is simply no session; a signed token that names no live session (signed out, expired, the
   * user banned, whose sessions the admin plugin revokes) is `unknown`, and its cookies are cleared.
   */
  const lookup = (c: Context): Lookup => {
    // Node's parsed headers (requestHeaders), not c.req.header(): that builds a WHATWG Headers
    // on every get-session, which every chat and media request makes.
    // Only the name the request's scheme gives it, as better-auth reads its one configured name:
    // a `__Secure-` cookie sent over http (or a plain one over https) is no session.
    const value = requestCookie(c, 'session_token')
    if (!value) return { kind: 'none' }
    const token = verifyCookie(value)
    if (!token) return { kind: 'none' }
    const state = stateOf(c)
    const session = state.sessions.get(token)
    if (!session) return { kind: 'unknown' }
    if (Date.parse(session.expiresAt) <= Date.now()) {
      state.sessions.delete(token)
      return { kind: 'unknown' }
    }
    const user = state.users.get(session.userId)
    if (!user || user.banned) return { kind: 'unknown' }
    return { kind: 'live', session, user }
  }

  /** better-auth's origin check for a POST that carries a cookie, or any time forced. */
  const originProblem = (c: Context, force: boolean) => {
    if (!force && !c.req.header('cookie')) return null
    const origin = c.req.header('origin') || c.req.header('referer') || ''
    if (!origin || origin === 'null') return fail(c, 403, 'MISSING_OR_NULL_ORIGIN')
    if (!isTrusted(c, origin)) return fail(c, 403, 'INVALID_ORIGIN')
    return null
  }
  // Its own origin is always trusted, as better-auth trusts its baseURL.
  const isTrusted = (c: Context, url: string) => {
    const origin = safeOrigin(url)
    // Own origin first: a same-origin request is never logged as a refused origin.
    return origin === new URL(c.req.url).origin || trusted(origin)
  }

  /**
   * better-auth's CSRF check for sign-in and sign-up (formCsrfMiddleware): with a cookie, the
   * origin check; with any Sec-Fetch-* header (browsers, Node's fetch), a cross-site navigation
   * is refused and the origin must be present and trusted; otherwise an Origin or Referer, if
   * sent, must be trusted. A client with none of these (curl) passes. Runs after `readChecked`,
   * which has already made a cookie-bearing request pass the origin check: nothing more then.
   */
  const csrfProblem = (c: Context) => {
    if (c.req.header('cookie')) return null
    const site = c.req.header('sec-fetch-site')?.trim()
    const mode = c.req.header('sec-fetch-mode')?.trim()
    const dest = c.req.header('sec-fetch-dest')?.trim()
    if (site || mode || dest) {
      if (site === 'cross-site' && mode === 'navigate')
        return fail(c, 403, 'CROSS_SITE_NAVIGATION_LOGIN_BLOCKED')
      return originProblem(c, true)
    }
    if (c.req.header('origin') || c.req.header('referer')) return originProblem(c, true)
    return null
  }

  /** A callbackURL must be relative or on a trusted origin. */
  const callbackProblem = (c: Context, callbackURL: unknown) => {
    if (!callbackURL) return null
    // better-auth's APIError.fromStatus here: a message and no code.
    if (typeof callbackURL !== 'string')
      return c.json({ message: 'Invalid callbackURL: expected a string' }, 400)
    if (callbackURL.startsWith('/'))
      return isSafeRelativeURL(callbackURL) ? null : fail(c, 403, 'INVALID_CALLBACK_URL')
    if (isTrusted(c, callbackURL)) return null
    return fail(c, 403, 'INVALID_CALLBACK_URL')
  }

  /**
   * A POST's body in better-auth's order: better-call reads it (415 for a Content-Type the
   * endpoint does not allow, 400 for bad JSON); the router's origin check (a cookie-bearing
   * request's Origin, then the raw body's or query's callbackURL); only then the zod schema.
   */
  const readChecked = async <T extends z.ZodType>(c: Context, schema: T, allowed: readonly string[]) => {
    const read = await readBody(c, allowed)
    if (!read.ok) return { ok: false as const, res: fail(c, read.status, read.code, read.message) }
    const raw = read.body as { callbackURL?: unknown } | null | undefined
    const problem =
      originProblem(c, false) ?? callbackProblem(c, raw?.callbackURL || c.req.query('callbackURL'))
    if (problem) return { ok: false as const, res: problem }
    const parsed = schema.safeParse(read.body)
    if (!parsed.success)
      return {
        ok: false as const,
        res: fail(c, 400, 'VALIDATION_ERROR', validationMessage(parsed.error.issues)),
      }
    return { ok: true as const, data: parsed.data as z.infer<T> }
  }

  const createSession = async (
    c: Context,
    user: UserRow,
    opts: { signUp?: boolean; rememberMe?: boolean | undefined },
  ): Promise<SessionRow> => {
    const signUp = opts.signUp === true
    const now = new Date()
    // better-auth's internal adapter: a session not to be remembered lasts one day.
    const lifetime = opts.rememberMe === false ? DONT_REMEMBER_SECONDS : ttlSeconds(c)
    const session: SessionRow = {
      id: randomId(32),
      token: randomId(32),
      userId: user.id,
      expiresAt: new Date(now.getTime() + lifetime * 1000).toISOString(),
      ipAddress: sessionIp(c.req.header('x-forwarded-for')),
      userAgent: c.req.header('user-agent') ?? '',
      createdAt: now.toISOString(),
      updatedAt: now.toISOString(),
    }
    const tenant = tenantOf(c)
    // Replicated mode: every replica stores it (and a sign-up's user) from the world's log. A
    // sign-up is answered once every replica has its user (a sign-in with that email may go to
    // any of them); a session alone need not wait, since a replica that does not know it
    // catches up before it answers (`lookupSeen`).
    if (deps.replication) {
      await deps.replication.submit(
        SESSION_MADE,
        { tenant, session, ...(signUp ? { user } : {}) },
        { everywhere: signUp },
      )
      return session
    }
    const state = stateOf(c)
    if (signUp) addUser(state, user)
    storeSession(state, deps.faults.forTenant(tenant), session, user)
    return session
  }

  /**
   * better-auth's get-session refresh: a session within `sessionTtl - 1 day` of its expiry (so
   * older than a day, or a one-day rememberMe:false one) gets a full lifetime again and a new
   * cookie, unless the request carries the dont_remember cookie or `?disableRefresh`.
   */
  const refreshed = (c: Context, session: SessionRow, user: UserRow): SessionRow | Promise<SessionRow> => {
    const ttl = ttlSeconds(c) * 1000
    const now = Date.now()
    // Checked first: the common case (a fresh session) reads no cookie and no query.
    if (Date.parse(session.expiresAt) - ttl + UPDATE_AGE_SECONDS * 1000 > now) return session
    // z.coerce.boolean in better-auth's query schema: any non-empty value disables it.
    if (dontRemember(c) || c.req.queries('disableRefresh')?.some((v) => v !== '')) return session
    const stamp = new Date(now).toISOString()
    const next: SessionRow = { ...session, expiresAt: new Date(now + ttl).toISOString(), updatedAt: stamp }
    setCookie(c, 'session_token', signSessionToken(next.token, secret), ttlSeconds(c))
    const tenant = tenantOf(c)
    // Replicated mode: every replica stores it from the log, as a new session is.
    if (deps.replication)
      return deps.replication.submit(SESSION_MADE, { tenant, session: next }).then(() => next)
    storeSession(stateOf(c), deps.faults.forTenant(tenant), next, user)
    return next
  }

  /** A trusted callbackURL: `redirect: true`, its `url`, and a Location header on the 200. */
  const redirectTo = (c: Context, callbackURL: string | undefined) => {
    if (!callbackURL) return { redirect: false }
    c.header('location', callbackURL)
    return { redirect: true, url: callbackURL }
  }

  const limit = bodyLimit({ maxSize: 64 * 1024, onError: (c) => fail(c, 413, 'PAYLOAD_TOO_LARGE') })
  const noCache = (c: Context) => {
    c.header('cache-control', 'no-store')
    c.header('pragma', 'no-cache')
  }

  // better-call routes GET alone: a HEAD is a bare 404 (Hono would answer it with the GET route).
  const isHead = (c: Context) => c.req.method === 'HEAD'

  app.get('/api/auth/ok', (c) => (isHead(c) ? c.body(null, 404) : c.json({ ok: true })))

  /**
   * Replicated mode: a signed cookie whose session is unknown here may be one another replica
   * has just made (a sign-in answered there, this get-session sent here by a round-robin
   * balancer): this replica first catches up with the log as it is now (bounded), then looks
   * again. One round trip, only for an unknown session; none in one process.
   */
  const lookupSeen = (c: Context): Lookup | Promise<Lookup> => {
    const found = lookup(c)
    const log = deps.replication
    if (found.kind !== 'unknown' || !log) return found
    return caughtUpWithin(log).then(() => lookup(c))
  }

  const sessionAnswer = (c: Context, found: Lookup): Response | Promise<Response> => {
    const state = stateOf(c)
    if (found.kind === 'live') {
      const answer = (session: SessionRow) =>
        c.json({
          session: publicSession(session, state.adminPlugin),
          user: publicUser(found.user, state.adminPlugin),
        })
      const session = refreshed(c, found.session, found.user)
      return session instanceof Promise ? session.then(answer) : answer(session)
    }
    if (found.kind === 'unknown') clearSessionCookies(c)
    if (state.noSession === '200-null') return c.json(null)
    return c.json({ user: null, session: null }, 401)
  }

  app.get('/api/auth/get-session', (c): Response | Promise<Response> => {
    if (isHead(c)) return c.body(null, 404)
    noCache(c)
    const found = lookupSeen(c)
    // Only an unknown session in replicated mode waits (a promise): one process answers at once.
    if (!(found instanceof Promise)) return sessionAnswer(c, found)
    return found.then((f) => sessionAnswer(c, f))
  })

  // better-auth answers POST get-session only with deferSessionRefresh configured.
  app.post('/api/auth/get-session', (c) => {
    noCache(c)
    return fail(c, 405, 'METHOD_NOT_ALLOWED_DEFER_SESSION_REQUIRED')
  })

  // Ephemeral WS token for the signed-in session (the format family-hub should adopt; see
  // core/ws-token.ts): the chat socket then carries `?token=<JWT>`, not the session token.
  app.post('/api/auth/ws-token', async (c) => {
    c.header('cache-control', 'no-store')
    const problem = originProblem(c, false)
    if (problem) return problem
    const found = await lookupSeen(c)
    if (found.kind !== 'live') return fail(c, 401, 'UNAUTHORIZED')
    const tenant = tenantOf(c)
    const { token, expiresAt } = await signWsToken(
      // `tnt` names a tenant other than the default: the socket it opens lands there.
      { sub: found.user.id, sid: found.session.id, ...(tenant === DEFAULT_TENANT ? {} : { tnt: tenant }) },
      { secret: deps.config.wsTokenSecret, ttlSeconds: stateOf(c).wsTokenTtlSeconds },
    )
    return c.json({ token, expiresAt })
  })

  app.post('/api/auth/sign-in/email', limit, async (c) => {
    const body = await readChecked(c, SignInBody, FORM_OR_JSON)
    if (!body.ok) return body.res
    const problem = csrfProblem(c)
    if (problem) return problem
    const { email, password, rememberMe, callbackURL } = body.data
    if (!z.email().safeParse(email).success) return fail(c, 400, 'INVALID_EMAIL')
    const state = stateOf(c)
    const user = userByEmail(state, email)
    if (!user || user.password !== password) return fail(c, 401, 'INVALID_EMAIL_OR_PASSWORD')
    if (user.banned && state.adminPlugin) return fail(c, 403, 'BANNED_USER')
    const session = await createSession(c, user, { rememberMe })
    setSessionCookies(c, session.token, rememberMe)
    const { redirect, url } = redirectTo(c, callbackURL)
    return c.json({
      redirect,
      token: session.token,
      ...(url ? { url } : {}),
      user: publicUser(user, state.adminPlugin),
    })
  })

  app.post('/api/auth/sign-up/email', limit, async (c) => {
    const body = await readChecked(c, SignUpBody, FORM_OR_JSON)
    if (!body.ok) return body.res
    const problem = csrfProblem(c)
    if (problem) return problem
    const { name, email, password, image, rememberMe } = body.data
    if (password.length < 8) return fail(c, 400, 'PASSWORD_TOO_SHORT')
    if (password.length > 128) return fail(c, 400, 'PASSWORD_TOO_LONG')
    const state = stateOf(c)
    const notAllowed = state.adminPlugin ? adminFieldSet(body.data) : undefined
    if (notAllowed) return fail(c, 400, 'FIELD_NOT_ALLOWED', `${notAllowed} is not allowed to be set`)
    if (userByEmail(state, email)) return fail(c, 422, 'USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL')
    const now = new Date().toISOString()
    const user: UserRow = {
      id: randomId(32),
      email: email.toLowerCase(),
      name,
      image: image ?? null,
      role: 'member',
      emailVerified: false,
      banned: false,
      createdAt: now,
      updatedAt: now,
      password,
    }
    let session: SessionRow
    try {
      session = await createSession(c, user, { signUp: true, rememberMe })
    } catch (err) {
      // Replicated: another replica's sign-up with this email came first in the log.
      if (err instanceof EmailTakenError) return fail(c, 422, 'USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL')
      throw err
    }
    setSessionCookies(c, session.token, rememberMe)
    return c.json({ token: session.token, user: publicUser(user, state.adminPlugin) })
  })

  app.post('/api/auth/sign-out', limit, async (c) => {
    const body = await readChecked(c, SignOutBody, JSON_ONLY)
    if (!body.ok) return body.res
    const value = requestCookie(c, 'session_token')
    const token = value ? verifyCookie(value) : null
    if (token && deps.replication)
      await deps.replication.submit(SESSION_ENDED, { tenant: tenantOf(c), token }, { everywhere: true })
    else if (token) endSession(stateOf(c), deps.faults.forTenant(tenantOf(c)), token)
    clearSessionCookies(c)
    return c.json({ success: true })
  })

  // better-auth's router answers a path under /api/auth it does not know, and /api/auth itself,
  // with a bare 404 (a notFound handler, not a catch-all route: the journal names the route).
  app.notFound((c) =>
    c.req.path === '/api/auth' || c.req.path.startsWith('/api/auth/')
      ? c.body(null, 404)
      : c.json({ message: `No route for ${c.req.method} ${c.req.path}`, code: 'NOT_FOUND' }, 404),
  )
}

/**
 * better-auth's isSafeRelativeURL (trusted-origins): a root-relative callbackURL that no browser
 * or router can read as another host: no `//`, no backslash, no control character, no encoded
 * path separator, and it resolves to the same origin.
 */
function isSafeRelativeURL(value: string): boolean {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it refuses.
  if (value.startsWith('//') || value.includes('\\') || /[\u0000-\u001f\u007f-\u009f]/.test(value))
    return false
  const pathEnd = value.search(/[?#]/)
  if (/%2[fF]|%5[cC]/.test(pathEnd === -1 ? value : value.slice(0, pathEnd))) return false
  const base = 'https://better-auth.invalid'
  try {
    return new URL(value, base).origin === base
  } catch {
    return false
  }
}

function safeOrigin(url: string): string {
  try {
    return new URL(url).origin
  } catch {
    return 'null'
  }
}
