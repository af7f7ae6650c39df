import type { Context, Hono } from 'hono'
import { bodyLimit } from 'hono/body-limit'
import { z } from 'zod'
import { randomId } from '../core/ids.ts'
import { createOriginMatcher } from '../core/origins.ts'
import {
  cookieVerifier,
  SECURE_SESSION_COOKIE,
  SESSION_COOKIE,
  sessionCookieFrom,
  signSessionToken,
} from '../core/session-cookie.ts'
import type { FakeDeps } from '../fake/descriptor.ts'
import type { AuthCollections, SessionRow, UserRow } from './store.ts'

// better-auth 1.x's email routes, as family-hub mounts them under /api/auth. Error bodies
// are better-auth's `{message, code}` with its own codes and messages.

export interface AuthState {
  store: AuthCollections
  noSession: '401' | '200-null'
  sessionTtlDays: number
}

const MESSAGES = {
  INVALID_EMAIL_OR_PASSWORD: 'Invalid email or password',
  INVALID_EMAIL: 'Invalid email',
  PASSWORD_TOO_SHORT: 'Password too short',
  PASSWORD_TOO_LONG: 'Password too long',
  USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL: 'User already exists. Use another email.',
  INVALID_ORIGIN: 'Invalid origin',
  MISSING_OR_NULL_ORIGIN: 'Missing or null Origin',
  INVALID_CALLBACK_URL: 'Invalid callbackURL',
  VALIDATION_ERROR: 'Validation Error',
  BODY_MUST_BE_AN_OBJECT: 'Body must be an object',
  BANNED_USER:
    'You have been banned from this application. Please contact support if you believe this is an error.',
  PAYLOAD_TOO_LARGE: 'Request body too large',
} as const

type Code = keyof typeof MESSAGES

function fail(
  c: Context,
  status: 400 | 401 | 403 | 413 | 415 | 422,
  code: Code,
  message: string = MESSAGES[code],
) {
  return c.json({ message, code }, status)
}

const SignInBody = z.object({
  email: z.string(),
  password: z.string(),
  rememberMe: z.boolean().optional(),
  callbackURL: z.string().optional(),
})

const SignUpBody = z.object({
  name: z.string(),
  email: z.string(),
  password: z.string(),
  image: z.string().optional(),
  rememberMe: z.boolean().optional(),
  callbackURL: z.string().optional(),
})

const SignOutBody = z
  .object({
    callbackURL: z.string().optional(),
    disableRedirect: z.boolean().optional(),
    state: z.string().optional(),
  })
  .optional()

/** The public user object (no password), with the matrix's fields. */
export function publicUser(u: UserRow) {
  return {
    id: u.id,
    email: u.email,
    name: u.name,
    image: u.image,
    role: u.role,
    emailVerified: u.emailVerified,
    banned: u.banned,
    createdAt: u.createdAt,
    updatedAt: u.updatedAt,
  }
}

export function publicSession(s: SessionRow) {
  return {
    id: s.id,
    userId: s.userId,
    expiresAt: s.expiresAt,
    ipAddress: s.ipAddress,
    userAgent: s.userAgent,
  }
}

export function registerAuthRoutes(app: Hono, deps: FakeDeps, state: () => AuthState): void {
  const secret = deps.config.betterAuthSecret
  const verifyCookie = cookieVerifier(secret)
  const trusted = createOriginMatcher(deps.config.allowedOrigins)

  const cookieName = (c: Context) =>
    new URL(c.req.url).protocol === 'https:' ? SECURE_SESSION_COOKIE : SESSION_COOKIE
  const cookieAttrs = (c: Context) =>
    `Path=/; HttpOnly; SameSite=Lax${new URL(c.req.url).protocol === 'https:' ? '; Secure' : ''}`
  const setSessionCookie = (c: Context, token: string, maxAge: number | undefined) => {
    const age = maxAge === undefined ? '' : `; Max-Age=${maxAge}`
    c.header('set-cookie', `${cookieName(c)}=${signSessionToken(token, secret)}${age}; ${cookieAttrs(c)}`, {
      append: true,
    })
  }
  const clearSessionCookie = (c: Context) => {
    c.header('set-cookie', `${cookieName(c)}=; Max-Age=0; ${cookieAttrs(c)}`, { append: true })
  }

  /** The live session for the request's cookie: signature checked, not expired, user not banned. */
  const currentSession = (c: Context): { session: SessionRow; user: UserRow } | null => {
    const value = sessionCookieFrom(c.req.header('cookie'))
    if (!value) return null
    const token = verifyCookie(value)
    if (!token) return null
    const { store } = state()
    const session = store.sessions.findFirst((q) => q.where({ token }))
    if (!session) return null
    if (Date.parse(session.expiresAt) <= Date.now()) {
      store.sessions.delete(session)
      return null
    }
    const user = store.users.findFirst((q) => q.where({ id: session.userId }))
    if (!user || user.banned) return null
    return { session, user }
  }

  /**
   * better-auth's origin check: a POST that carries cookies must come from a trusted Origin
   * (or Referer); callbackURL, when given, must point at a trusted origin too.
   */
  const originProblem = (c: Context, callbackURL?: string) => {
    if (c.req.header('cookie')) {
      const origin = c.req.header('origin') ?? refererOrigin(c.req.header('referer'))
      if (!origin || origin === 'null') return fail(c, 403, 'MISSING_OR_NULL_ORIGIN')
      if (!trusted(origin) && origin !== new URL(c.req.url).origin) return fail(c, 403, 'INVALID_ORIGIN')
    }
    if (callbackURL && !callbackURL.startsWith('/') && !trusted(safeOrigin(callbackURL))) {
      return fail(c, 403, 'INVALID_CALLBACK_URL')
    }
    return null
  }

  const readJson = async <T extends z.ZodType>(c: Context, schema: T, optional = false) => {
    const text = await c.req.text()
    if (!text.trim()) {
      if (optional) return { ok: true as const, data: undefined as z.infer<T> }
      return { ok: false as const, res: fail(c, 400, 'BODY_MUST_BE_AN_OBJECT') }
    }
    let raw: unknown
    try {
      raw = JSON.parse(text)
    } catch {
      return { ok: false as const, res: fail(c, 400, 'VALIDATION_ERROR', 'Invalid JSON body') }
    }
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
      return { ok: false as const, res: fail(c, 400, 'BODY_MUST_BE_AN_OBJECT') }
    }
    const parsed = schema.safeParse(raw)
    if (!parsed.success) {
      const first = parsed.error.issues[0]
      const where = first?.path.length ? `[body.${first.path.join('.')}] ` : ''
      return {
        ok: false as const,
        res: fail(c, 400, 'VALIDATION_ERROR', `${where}${first?.message ?? MESSAGES.VALIDATION_ERROR}`),
      }
    }
    return { ok: true as const, data: parsed.data as z.infer<T> }
  }

  const createSession = async (c: Context, user: UserRow): Promise<SessionRow> => {
    const { store, sessionTtlDays } = state()
    const now = new Date()
    const session = await store.sessions.create({
      id: randomId(32),
      token: randomId(32),
      userId: user.id,
      expiresAt: new Date(now.getTime() + sessionTtlDays * 86_400_000).toISOString(),
      ipAddress: c.req.header('x-forwarded-for')?.split(',')[0]?.trim() || '127.0.0.1',
      userAgent: c.req.header('user-agent') ?? '',
      createdAt: now.toISOString(),
    })
    deps.faults.registerSession(session.token, { userId: user.id, email: user.email })
    return session
  }

  const limit = bodyLimit({ maxSize: 64 * 1024, onError: (c) => fail(c, 413, 'PAYLOAD_TOO_LARGE') })

  app.get('/api/auth/ok', (c) => c.json({ ok: true }))

  app.get('/api/auth/get-session', (c) => {
    c.header('cache-control', 'no-store')
    const found = currentSession(c)
    if (found) return c.json({ user: publicUser(found.user), session: publicSession(found.session) })
    // A cookie that named no live session is cleared, as better-auth does.
    if (sessionCookieFrom(c.req.header('cookie'))) clearSessionCookie(c)
    if (state().noSession === '200-null') return c.json(null)
    return c.json({ user: null, session: null }, 401)
  })

  app.post('/api/auth/sign-in/email', limit, async (c) => {
    const body = await readJson(c, SignInBody)
    if (!body.ok) return body.res
    const problem = originProblem(c, body.data.callbackURL)
    if (problem) return problem
    const { email, password, rememberMe, callbackURL } = body.data
    if (!z.email().safeParse(email).success) return fail(c, 400, 'INVALID_EMAIL')
    const user = state().store.users.findFirst((q) => q.where({ email: email.toLowerCase() }))
    if (!user || user.password !== password) return fail(c, 401, 'INVALID_EMAIL_OR_PASSWORD')
    if (user.banned) return fail(c, 403, 'BANNED_USER')
    const session = await createSession(c, user)
    setSessionCookie(c, session.token, rememberMe === false ? undefined : state().sessionTtlDays * 86_400)
    return c.json({
      redirect: Boolean(callbackURL),
      token: session.token,
      ...(callbackURL ? { url: callbackURL } : {}),
      user: publicUser(user),
    })
  })

  app.post('/api/auth/sign-up/email', limit, async (c) => {
    const body = await readJson(c, SignUpBody)
    if (!body.ok) return body.res
    const problem = originProblem(c, body.data.callbackURL)
    if (problem) return problem
    const { name, email, password, image, rememberMe } = body.data
    if (!z.email().safeParse(email).success) return fail(c, 400, 'INVALID_EMAIL')
    if (password.length < 8) return fail(c, 400, 'PASSWORD_TOO_SHORT')
    if (password.length > 128) return fail(c, 400, 'PASSWORD_TOO_LONG')
    if (!name.trim()) return fail(c, 400, 'VALIDATION_ERROR', '[body.name] Name is required')
    const { store } = state()
    const normalized = email.toLowerCase()
    if (store.users.findFirst((q) => q.where({ email: normalized })))
      return fail(c, 422, 'USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL')
    const now = new Date().toISOString()
    const user = await store.users.create({
      id: randomId(32),
      email: normalized,
      name,
      image: image ?? null,
      role: 'member',
      emailVerified: false,
      banned: false,
      createdAt: now,
      updatedAt: now,
      password,
    })
    const session = await createSession(c, user)
    setSessionCookie(c, session.token, rememberMe === false ? undefined : state().sessionTtlDays * 86_400)
    return c.json({ token: session.token, user: publicUser(user) })
  })

  app.post('/api/auth/sign-out', limit, async (c) => {
    const body = await readJson(c, SignOutBody, true)
    if (!body.ok) return body.res
    const problem = originProblem(c, body.data?.callbackURL)
    if (problem) return problem
    const value = sessionCookieFrom(c.req.header('cookie'))
    const token = value ? verifyCookie(value) : null
    if (token) {
      state().store.sessions.deleteMany((q) => q.where({ token }))
      deps.faults.forgetSession(token)
    }
    clearSessionCookie(c)
    return c.json({ success: true })
  })
}

function refererOrigin(referer: string | undefined): string | undefined {
  if (!referer) return undefined
  return safeOrigin(referer)
}

function safeOrigin(url: string): string {
  try {
    return new URL(url).origin
  } catch {
    return 'null'
  }
}
