import { randomBytes } from 'node:crypto'
import http from 'node:http'
import https from 'node:https'
import { PARITY_ALLOWED, type ParityAllowance } from './parity-allowed.ts'

// Side by side: the same requests to the fake better-auth and a real one, compared as a client
// reads them: status, the headers it acts on (set-cookie names and attributes, cache-control,
// pragma, content-type, location) and the JSON's keys and types (plus `code`, `message`,
// `redirect`, `success` values). Used by the parity suite (tests/parity) and `pnpm mocks parity`.
// Requests go out through node:http with exactly the headers a case names: fetch would add
// Sec-Fetch-Mode, which better-auth's CSRF check reads.

export interface ParityAccount {
  email: string
  password: string
  name: string
}

/** Server-side changes a case needs (tests have them for both sides; a remote server has none). */
export interface ParityHooks {
  /** Bans the user with this email (the admin plugin's `banned: true`). */
  ban(email: string): Promise<void>
  /** Makes every session of the user with this email expired. */
  expire(email: string): Promise<void>
}

export interface ParitySide {
  /** Base URL; better-auth is mounted at `${url}/api/auth`. */
  url: string
  hooks?: ParityHooks
}

export interface ParityOptions {
  /** An account present on both sides (sign-in cases). */
  account: ParityAccount
  /** An origin both sides trust (for sign-in from a browser or Node client). */
  trustedOrigin: string
  /** Run the cases that create users (sign-up). Never on by default: a team's database. */
  createUsers: boolean
  /** Whether the real side runs the admin plugin (bans). */
  adminPlugin: boolean
  allowed?: readonly ParityAllowance[]
}

interface Answer {
  status: number
  headers: http.IncomingHttpHeaders
  text: string
  /** Values a case derives and compares (shapes alone would not show them), e.g. a lifetime. */
  facts?: Record<string, string>
}

interface Req {
  method?: string
  path: string
  headers?: Record<string, string>
  body?: string | object
  /** Send the body with no Content-Type at all (the default is JSON's). */
  noContentType?: boolean
}

/** What one side offers a case. */
export interface CaseContext {
  send(req: Req): Promise<Answer>
  /** Signs the account (or another) in with a trusted Origin; the Cookie header pairs it set. */
  signIn(account?: Pick<ParityAccount, 'email' | 'password'>): Promise<string>
  /** A user made for this case only (needs createUsers): the same email on both sides. */
  newUser(tag: string): Promise<{ account: ParityAccount; cookie: string }>
  hooks: ParityHooks | undefined
  account: ParityAccount
  origin: string
  /** The unique part of emails made in this run (same on both sides). */
  run: string
}

export interface ParityCase {
  name: string
  needs?: ('createUsers' | 'hooks' | 'admin')[]
  run(ctx: CaseContext): Promise<Answer>
}

export interface Difference {
  case: string
  field: string
  fake: string
  real: string
  /** The allow-list's reason, when this difference is accepted. */
  allowed?: string
}

export interface ParityReport {
  ran: string[]
  skipped: { case: string; reason: string }[]
  differences: Difference[]
}

const JSON_TYPE = { 'content-type': 'application/json' }

function request(base: string, req: Req): Promise<Answer> {
  const url = new URL(req.path, base)
  const body =
    req.body === undefined ? undefined : typeof req.body === 'string' ? req.body : JSON.stringify(req.body)
  const headers: Record<string, string> = {
    ...(body !== undefined && !req.noContentType ? JSON_TYPE : {}),
    ...req.headers,
  }
  if (body !== undefined) headers['content-length'] = String(Buffer.byteLength(body))
  return new Promise((resolve, reject) => {
    const r = (url.protocol === 'https:' ? https : http).request(
      url,
      { method: req.method ?? (body === undefined ? 'GET' : 'POST'), headers, agent: false },
      (res) => {
        const chunks: Buffer[] = []
        res.on('data', (c: Buffer) => chunks.push(c))
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            text: Buffer.concat(chunks).toString(),
          }),
        )
        res.on('error', reject)
      },
    )
    r.setTimeout(15_000, () => r.destroy(new Error(`${req.path}: no answer in 15 s`)))
    r.on('error', reject)
    r.end(body)
  })
}

/** `name=value` pairs from Set-Cookie headers, as a client would send them back. */
export function cookiePairs(headers: http.IncomingHttpHeaders): string {
  return (headers['set-cookie'] ?? [])
    .map((c) => c.split(';')[0]!.trim())
    .filter((pair) => !pair.endsWith('='))
    .join('; ')
}

export function sideContext(side: ParitySide, opts: ParityOptions, run: string): CaseContext {
  const send = (req: Req) => request(side.url, req)
  const signIn: CaseContext['signIn'] = async (account = opts.account) => {
    const res = await send({
      path: '/api/auth/sign-in/email',
      headers: { origin: opts.trustedOrigin },
      body: { email: account.email, password: account.password },
    })
    if (res.status !== 200)
      throw new Error(`${side.url}: sign-in as ${account.email} answered ${res.status} ${res.text}`)
    return cookiePairs(res.headers)
  }
  return {
    send,
    signIn,
    async newUser(tag) {
      const account = {
        email: `parity-${run}-${tag}@casa.test`,
        password: 'parity-password-1',
        name: `Parity ${tag}`,
      }
      const res = await send({
        path: '/api/auth/sign-up/email',
        headers: { origin: opts.trustedOrigin },
        body: account,
      })
      if (res.status !== 200)
        throw new Error(`${side.url}: sign-up ${account.email} answered ${res.status} ${res.text}`)
      return { account, cookie: cookiePairs(res.headers) }
    },
    hooks: side.hooks,
    account: opts.account,
    origin: opts.trustedOrigin,
    run,
  }
}

/** A Set-Cookie header as a client reads it: name, whether it sets or clears, attributes. */
function describeCookie(header: string): [string, string] {
  const [pair, ...attrs] = header.split(';').map((s) => s.trim())
  const eq = pair!.indexOf('=')
  const name = pair!.slice(0, eq)
  const value = pair!.slice(eq + 1)
  const parts = attrs
    .filter(Boolean)
    .map((a) => {
      const [k, v] = a.split('=')
      const key = k!.toLowerCase()
      if (key === 'expires') return 'expires'
      return v === undefined ? key : `${key}=${key === 'samesite' ? v.toLowerCase() : v}`
    })
    .sort()
  return [name, [value === '' ? '(empty)' : '(value)', ...parts].join('; ')]
}

/** Flattens a JSON value into path -> type (and the value for fields clients branch on). */
function shape(value: unknown, path: string, out: Map<string, string>): void {
  if (value === null) out.set(path, 'null')
  else if (Array.isArray(value)) {
    out.set(path, 'array')
    for (const [i, v] of value.entries()) shape(v, `${path}[${i}]`, out)
  } else if (typeof value === 'object') {
    out.set(path, 'object')
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) shape(v, `${path}.${k}`, out)
  } else {
    const key = path.slice(path.lastIndexOf('.') + 1)
    const shown =
      ['code', 'message', 'redirect', 'success', 'status'].includes(key) && path.split('.').length === 2
    out.set(path, shown ? `${typeof value} ${JSON.stringify(value)}` : typeof value)
  }
}

/** What a client reads from an answer, as field -> description. */
export function observe(a: Answer): Map<string, string> {
  const out = new Map<string, string>()
  out.set('status', String(a.status))
  for (const h of ['cache-control', 'pragma', 'content-type', 'location'] as const) {
    const v = a.headers[h]
    out.set(`header ${h}`, v === undefined ? '(none)' : String(v).toLowerCase().replace(/\s+/g, ''))
  }
  for (const [name, value] of Object.entries(a.facts ?? {})) out.set(`fact ${name}`, value)
  const cookies = (a.headers['set-cookie'] ?? []).map(describeCookie)
  out.set('set-cookie names', cookies.map(([n]) => n).join(', ') || '(none)')
  for (const [name, desc] of cookies) out.set(`set-cookie ${name}`, desc)
  if (!a.text) out.set('body', '(empty)')
  else {
    try {
      shape(JSON.parse(a.text), 'body', out)
    } catch {
      out.set('body', `text ${JSON.stringify(a.text.slice(0, 80))}`)
    }
  }
  return out
}

export function compare(name: string, fake: Answer, real: Answer): Difference[] {
  const f = observe(fake)
  const r = observe(real)
  const diffs: Difference[] = []
  for (const field of new Set([...r.keys(), ...f.keys()])) {
    const fv = f.get(field) ?? '(absent)'
    const rv = r.get(field) ?? '(absent)'
    if (fv !== rv) diffs.push({ case: name, field, fake: fv, real: rv })
  }
  return diffs
}

function allowance(d: Difference, allowed: readonly ParityAllowance[]): string | undefined {
  const hit = allowed.find(
    (a) =>
      (a.case === '*' || a.case === d.case) &&
      (a.field.endsWith('*') ? d.field.startsWith(a.field.slice(0, -1)) : a.field === d.field),
  )
  return hit?.reason
}

export async function runParity(
  fake: ParitySide,
  real: ParitySide,
  opts: ParityOptions,
  cases: readonly ParityCase[] = PARITY_CASES,
): Promise<ParityReport> {
  const run = randomBytes(4).toString('hex')
  const sides = { fake: sideContext(fake, opts, run), real: sideContext(real, opts, run) }
  const report: ParityReport = { ran: [], skipped: [], differences: [] }
  for (const c of cases) {
    const missing = (c.needs ?? []).find(
      (n) =>
        (n === 'createUsers' && !opts.createUsers) ||
        (n === 'hooks' && (!fake.hooks || !real.hooks)) ||
        (n === 'admin' && !opts.adminPlugin),
    )
    if (missing) {
      report.skipped.push({
        case: c.name,
        reason: {
          createUsers: 'creates users (--create-users)',
          hooks: 'needs database access',
          admin: 'needs the admin plugin',
        }[missing],
      })
      continue
    }
    const [f, r] = await Promise.all([c.run(sides.fake), c.run(sides.real)])
    report.ran.push(c.name)
    for (const d of compare(c.name, f, r)) {
      const reason = allowance(d, opts.allowed ?? PARITY_ALLOWED)
      report.differences.push(reason ? { ...d, allowed: reason } : d)
    }
  }
  return report
}

/** One line per difference, allowed ones marked; for the CLI and test failures. */
export function formatDifferences(diffs: readonly Difference[]): string {
  return diffs
    .map(
      (d) =>
        `${d.allowed ? '  (allowed) ' : '  '}${d.case} | ${d.field}\n      fake: ${d.fake}\n      real: ${d.real}${d.allowed ? `\n      why:  ${d.allowed}` : ''}`,
    )
    .join('\n')
}

// ---------------------------------------------------------------------------------------------
// The cases: every answer the issue compared, plus duplicates, wrong passwords, expired
// sessions, bans and sign-out. Each runs on both sides with that side's own cookies.

const SIGN_IN = '/api/auth/sign-in/email'
const SIGN_UP = '/api/auth/sign-up/email'
const SIGN_OUT = '/api/auth/sign-out'
const GET_SESSION = '/api/auth/get-session'
/** What Node's fetch (undici) adds to every request. */
const NODE_FETCH = { 'sec-fetch-mode': 'cors' }
const BROWSER = (origin: string) => ({
  origin,
  'sec-fetch-site': 'same-site',
  'sec-fetch-mode': 'cors',
  'sec-fetch-dest': 'empty',
})
/** A token in better-auth's alphabet, signed by nobody. */
const STRANGER = 'ParityStrangerToken0000000000001'

/** A get-session answer with one fact read from its session (`read` undefined: none shown). */
function withSessionFact(
  a: Answer,
  name: string,
  read: (session: Record<string, unknown>) => string | undefined,
): Answer {
  let shown = '(no session)'
  try {
    const session = (JSON.parse(a.text) as { session?: Record<string, unknown> } | null)?.session
    const value = session ? read(session) : undefined
    if (value !== undefined) shown = value
  } catch {}
  return { ...a, facts: { ...a.facts, [name]: shown } }
}

/**
 * A get-session answer with its session's remaining lifetime in whole hours (24 for a
 * rememberMe:false session, 168 for a week): both sides are asked at the same moment.
 */
const withLifetime = (a: Answer): Answer =>
  withSessionFact(a, 'session lifetime', (s) =>
    typeof s.expiresAt === 'string' && s.expiresAt
      ? `${Math.round((Date.parse(s.expiresAt) - Date.now()) / 3_600_000)}h`
      : undefined,
  )

/** Signs in with rememberMe: false; the Cookie header pairs it set (session_token, dont_remember). */
async function signInForgetful(x: CaseContext): Promise<string> {
  const res = await x.send({
    path: SIGN_IN,
    headers: { origin: x.origin },
    body: { email: x.account.email, password: x.account.password, rememberMe: false },
  })
  if (res.status !== 200) throw new Error(`sign-in with rememberMe: false answered ${res.status} ${res.text}`)
  return cookiePairs(res.headers)
}

/** A get-session answer with the `ipAddress` its session was given. */
const withIp = (a: Answer): Answer =>
  withSessionFact(a, 'session ipAddress', (s) =>
    s.ipAddress === undefined ? undefined : JSON.stringify(s.ipAddress),
  )

/** Each X-Forwarded-For a session is signed in with (absent: none sent), as a proxy may set it. */
const FORWARDED_FOR = [
  undefined,
  '203.0.113.7',
  '203.0.113.7, 10.0.0.1',
  'not-an-ip',
  '2001:db8:abcd:12:1:2:3:4',
  '::ffff:198.51.100.9',
] as const

const signInBody = (ctx: CaseContext, extra: Record<string, unknown> = {}) => ({
  email: ctx.account.email,
  password: ctx.account.password,
  ...extra,
})

export const PARITY_CASES: readonly ParityCase[] = [
  { name: 'GET /ok', run: (x) => x.send({ path: '/api/auth/ok' }) },
  { name: 'get-session without a cookie', run: (x) => x.send({ path: GET_SESSION }) },
  {
    name: 'get-session signed in',
    run: async (x) => x.send({ path: GET_SESSION, headers: { cookie: await x.signIn() } }),
  },
  {
    name: 'get-session from a browser (Sec-Fetch-*, trusted Origin)',
    run: async (x) =>
      x.send({ path: GET_SESSION, headers: { ...BROWSER(x.origin), cookie: await x.signIn() } }),
  },
  {
    name: 'get-session with an unsigned token',
    run: (x) => x.send({ path: GET_SESSION, headers: { cookie: `better-auth.session_token=${STRANGER}` } }),
  },
  {
    name: 'get-session with a wrongly signed cookie',
    run: (x) =>
      x.send({
        path: GET_SESSION,
        headers: { cookie: `better-auth.session_token=${STRANGER}.${'A'.repeat(43)}%3D` },
      }),
  },
  {
    name: 'get-session with a tampered session cookie',
    run: async (x) => {
      const cookie = await x.signIn()
      return x.send({
        path: GET_SESSION,
        // Another first character, always: replacing it with a fixed one left the token
        // untouched whenever it already began with that character.
        headers: {
          cookie: cookie.replace(/session_token=(.)/, (_, c) => `session_token=${c === 'Z' ? 'Y' : 'Z'}`),
        },
      })
    },
  },
  {
    name: 'get-session after sign-out (an unknown session)',
    run: async (x) => {
      const cookie = await x.signIn()
      await x.send({ path: SIGN_OUT, headers: { cookie, origin: x.origin }, body: {} })
      return x.send({ path: GET_SESSION, headers: { cookie } })
    },
  },
  {
    name: 'get-session of an expired session',
    needs: ['createUsers', 'hooks'],
    run: async (x) => {
      const { account, cookie } = await x.newUser('expired')
      await x.hooks!.expire(account.email)
      return x.send({ path: GET_SESSION, headers: { cookie } })
    },
  },
  {
    name: 'get-session of a banned user',
    needs: ['createUsers', 'hooks', 'admin'],
    run: async (x) => {
      const { account, cookie } = await x.newUser('banned-session')
      await x.hooks!.ban(account.email)
      return x.send({ path: GET_SESSION, headers: { cookie } })
    },
  },
  { name: 'POST get-session', run: (x) => x.send({ method: 'POST', path: GET_SESSION, body: {} }) },
  {
    name: 'sign-in from a browser (trusted Origin, Sec-Fetch-*)',
    run: (x) => x.send({ path: SIGN_IN, headers: BROWSER(x.origin), body: signInBody(x) }),
  },
  {
    name: 'sign-in from Node fetch without Origin (Sec-Fetch-Mode: cors)',
    run: (x) => x.send({ path: SIGN_IN, headers: NODE_FETCH, body: signInBody(x) }),
  },
  {
    name: 'sign-in from Node fetch with a trusted Origin',
    run: (x) => x.send({ path: SIGN_IN, headers: { ...NODE_FETCH, origin: x.origin }, body: signInBody(x) }),
  },
  {
    name: 'sign-in with no Origin and no Sec-Fetch-* (curl)',
    run: (x) => x.send({ path: SIGN_IN, body: signInBody(x) }),
  },
  {
    name: 'sign-in from a foreign Origin (Sec-Fetch-*)',
    run: (x) => x.send({ path: SIGN_IN, headers: BROWSER('https://evil.example'), body: signInBody(x) }),
  },
  {
    name: 'sign-in from a foreign Origin (no Sec-Fetch-*)',
    run: (x) => x.send({ path: SIGN_IN, headers: { origin: 'https://evil.example' }, body: signInBody(x) }),
  },
  {
    name: 'sign-in by a cross-site form navigation',
    run: (x) =>
      x.send({
        path: SIGN_IN,
        headers: {
          'sec-fetch-site': 'cross-site',
          'sec-fetch-mode': 'navigate',
          'sec-fetch-dest': 'document',
          origin: 'https://evil.example',
        },
        body: signInBody(x),
      }),
  },
  {
    name: 'sign-in with a cookie and no Origin',
    run: (x) => x.send({ path: SIGN_IN, headers: { cookie: 'theme=dark' }, body: signInBody(x) }),
  },
  {
    name: 'sign-in with a cookie and a trusted Origin',
    run: (x) =>
      x.send({ path: SIGN_IN, headers: { cookie: 'theme=dark', origin: x.origin }, body: signInBody(x) }),
  },
  {
    name: 'sign-in with a wrong password',
    run: (x) =>
      x.send({
        path: SIGN_IN,
        headers: { origin: x.origin },
        body: signInBody(x, { password: 'wrong-password-9' }),
      }),
  },
  {
    name: 'sign-in with an unknown email',
    run: (x) =>
      x.send({
        path: SIGN_IN,
        headers: { origin: x.origin },
        body: { email: `nobody-${x.run}@casa.test`, password: 'whatever-password' },
      }),
  },
  {
    name: 'sign-in with an invalid email',
    run: (x) =>
      x.send({
        path: SIGN_IN,
        headers: { origin: x.origin },
        body: signInBody(x, { email: 'not-an-email' }),
      }),
  },
  {
    name: 'sign-in without a password',
    run: (x) => x.send({ path: SIGN_IN, headers: { origin: x.origin }, body: { email: x.account.email } }),
  },
  {
    name: 'sign-in with invalid JSON',
    run: (x) => x.send({ path: SIGN_IN, headers: { origin: x.origin, ...JSON_TYPE }, body: '{"email":' }),
  },
  {
    name: 'sign-in with a JSON array',
    run: (x) => x.send({ path: SIGN_IN, headers: { origin: x.origin, ...JSON_TYPE }, body: '[]' }),
  },
  // Bodies as better-call reads them: the endpoint's allowed Content-Types (else 415), JSON or
  // form-encoded, the router's origin and callbackURL checks before the schema, every issue.
  {
    name: 'sign-in with a string body sent by fetch without a Content-Type (text/plain)',
    run: (x) =>
      x.send({
        path: SIGN_IN,
        headers: { origin: x.origin, 'content-type': 'text/plain;charset=UTF-8' },
        body: signInBody(x),
      }),
  },
  {
    name: 'sign-in with a JSON body and no Content-Type header',
    run: (x) =>
      x.send({ path: SIGN_IN, headers: { origin: x.origin }, body: signInBody(x), noContentType: true }),
  },
  {
    name: 'sign-in with a vendor JSON type (application/vnd.api+json)',
    run: (x) =>
      x.send({
        path: SIGN_IN,
        headers: { origin: x.origin, 'content-type': 'application/vnd.api+json' },
        body: signInBody(x),
      }),
  },
  {
    name: 'sign-in form-encoded (an HTML form)',
    run: (x) =>
      x.send({
        path: SIGN_IN,
        headers: { origin: x.origin, 'content-type': 'application/x-www-form-urlencoded; charset=UTF-8' },
        body: new URLSearchParams({ ...signInBody(x), callbackURL: '/welcome' }).toString(),
      }),
  },
  {
    name: 'sign-in form-encoded with a wrong password and rememberMe=false (a string)',
    run: (x) =>
      x.send({
        path: SIGN_IN,
        headers: { origin: x.origin, 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          email: x.account.email,
          password: 'wrong',
          rememberMe: 'false',
        }).toString(),
      }),
  },
  {
    name: 'sign-in form-encoded with a wrong password',
    run: (x) =>
      x.send({
        path: SIGN_IN,
        headers: { origin: x.origin, 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ email: x.account.email, password: 'wrong-password-9' }).toString(),
      }),
  },
  {
    name: 'sign-in as multipart/form-data',
    run: (x) =>
      x.send({
        path: SIGN_IN,
        headers: { origin: x.origin, 'content-type': 'multipart/form-data; boundary=parity' },
        body: `--parity\r\nContent-Disposition: form-data; name="email"\r\n\r\n${x.account.email}\r\n--parity--\r\n`,
      }),
  },
  {
    name: 'sign-in with an empty JSON object (every issue listed)',
    run: (x) => x.send({ path: SIGN_IN, headers: { origin: x.origin }, body: {} }),
  },
  {
    name: 'sign-in with a cookie, no Origin and an invalid body (origin checked first)',
    run: (x) => x.send({ path: SIGN_IN, headers: { cookie: 'theme=dark' }, body: {} }),
  },
  {
    name: 'sign-in with a foreign callbackURL and an invalid body (callbackURL checked first)',
    run: (x) =>
      x.send({ path: SIGN_IN, headers: NODE_FETCH, body: { callbackURL: 'https://evil.example/' } }),
  },
  {
    name: 'sign-in with a callbackURL that is not a string',
    run: (x) =>
      x.send({ path: SIGN_IN, headers: { origin: x.origin }, body: signInBody(x, { callbackURL: 5 }) }),
  },
  {
    name: 'sign-in with a foreign callbackURL in the query',
    run: (x) =>
      x.send({
        path: `${SIGN_IN}?callbackURL=${encodeURIComponent('https://evil.example/')}`,
        headers: { origin: x.origin },
        body: signInBody(x),
      }),
  },
  {
    name: 'sign-up with a text/plain body',
    needs: ['createUsers'],
    run: (x) =>
      x.send({
        path: SIGN_UP,
        headers: { origin: x.origin, 'content-type': 'text/plain;charset=UTF-8' },
        body: { name: 'Plain', email: `parity-${x.run}-plain@casa.test`, password: 'parity-password-1' },
      }),
  },
  {
    name: 'sign-up form-encoded',
    needs: ['createUsers'],
    run: (x) =>
      x.send({
        path: SIGN_UP,
        headers: { origin: x.origin, 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          name: 'Form New',
          email: `parity-${x.run}-form@casa.test`,
          password: 'parity-password-1',
          image: 'https://casa.test/a.png',
        }).toString(),
      }),
  },
  {
    name: 'sign-up with an empty JSON object (every issue listed)',
    needs: ['createUsers'],
    run: (x) => x.send({ path: SIGN_UP, headers: { origin: x.origin }, body: {} }),
  },
  {
    name: 'sign-up with an empty password',
    needs: ['createUsers'],
    run: (x) =>
      x.send({
        path: SIGN_UP,
        headers: { origin: x.origin },
        body: { name: 'Empty', email: `parity-${x.run}-empty@casa.test`, password: '' },
      }),
  },
  {
    name: 'sign-out form-encoded (JSON only)',
    run: async (x) =>
      x.send({
        path: SIGN_OUT,
        headers: {
          cookie: await x.signIn(),
          origin: x.origin,
          'content-type': 'application/x-www-form-urlencoded',
        },
        body: 'a=b',
      }),
  },
  {
    name: 'get-session after a text/plain sign-out (the session survives)',
    run: async (x) => {
      const cookie = await x.signIn()
      await x.send({
        path: SIGN_OUT,
        headers: { cookie, origin: x.origin, 'content-type': 'text/plain' },
        body: {},
      })
      return x.send({ path: GET_SESSION, headers: { cookie } })
    },
  },
  {
    name: 'sign-out with invalid JSON and no Content-Type (the body is not read)',
    run: (x) => x.send({ path: SIGN_OUT, headers: { origin: x.origin }, body: '{"x":', noContentType: true }),
  },
  ...FORWARDED_FOR.map(
    (forwardedFor): ParityCase => ({
      name: `get-session of a session signed in with ${forwardedFor === undefined ? 'no X-Forwarded-For' : `X-Forwarded-For: ${forwardedFor}`} (its ipAddress)`,
      run: async (x) => {
        const headers: Record<string, string> = { origin: x.origin }
        if (forwardedFor !== undefined) headers['x-forwarded-for'] = forwardedFor
        const res = await x.send({ path: SIGN_IN, headers, body: signInBody(x) })
        if (res.status !== 200) throw new Error(`sign-in answered ${res.status} ${res.text}`)
        return withIp(await x.send({ path: GET_SESSION, headers: { cookie: cookiePairs(res.headers) } }))
      },
    }),
  ),
  {
    name: 'sign-in with rememberMe: false',
    run: (x) =>
      x.send({ path: SIGN_IN, headers: { origin: x.origin }, body: signInBody(x, { rememberMe: false }) }),
  },
  {
    name: 'get-session signed in (its lifetime)',
    run: async (x) =>
      withLifetime(await x.send({ path: GET_SESSION, headers: { cookie: await x.signIn() } })),
  },
  {
    name: 'get-session of a rememberMe: false session, with its dont_remember cookie (one day)',
    run: async (x) =>
      withLifetime(await x.send({ path: GET_SESSION, headers: { cookie: await signInForgetful(x) } })),
  },
  {
    name: 'get-session of a rememberMe: false session without dont_remember (refreshed to a week)',
    run: async (x) => {
      const token = (await signInForgetful(x)).split('; ').filter((p) => p.includes('session_token='))
      const first = withLifetime(await x.send({ path: GET_SESSION, headers: { cookie: token.join('; ') } }))
      // Asked again: the stored session itself now lasts a week.
      const again = withLifetime(await x.send({ path: GET_SESSION, headers: { cookie: token.join('; ') } }))
      return { ...first, facts: { ...first.facts, 'then lifetime': again.facts!['session lifetime']! } }
    },
  },
  {
    name: 'get-session of a rememberMe: false session without dont_remember, ?disableRefresh=true',
    run: async (x) => {
      const token = (await signInForgetful(x)).split('; ').filter((p) => p.includes('session_token='))
      return withLifetime(
        await x.send({ path: `${GET_SESSION}?disableRefresh=true`, headers: { cookie: token.join('; ') } }),
      )
    },
  },
  {
    name: 'sign-in remembered, carrying an earlier dont_remember cookie (cleared)',
    run: async (x) =>
      x.send({
        path: SIGN_IN,
        headers: { origin: x.origin, cookie: await signInForgetful(x) },
        body: signInBody(x),
      }),
  },
  {
    name: 'sign-up with rememberMe: false, then get-session (one day)',
    needs: ['createUsers'],
    run: async (x) => {
      const res = await x.send({
        path: SIGN_UP,
        headers: { origin: x.origin },
        body: {
          name: 'Forgetful',
          email: `parity-${x.run}-forgetful@casa.test`,
          password: 'parity-password-1',
          rememberMe: false,
        },
      })
      if (res.status !== 200) return res
      return withLifetime(await x.send({ path: GET_SESSION, headers: { cookie: cookiePairs(res.headers) } }))
    },
  },
  {
    name: 'sign-in with a trusted callbackURL',
    run: (x) =>
      x.send({
        path: SIGN_IN,
        headers: { origin: x.origin },
        body: signInBody(x, { callbackURL: `${x.origin}/welcome` }),
      }),
  },
  {
    name: 'sign-in with a relative callbackURL',
    run: (x) =>
      x.send({
        path: SIGN_IN,
        headers: { origin: x.origin },
        body: signInBody(x, { callbackURL: '/welcome' }),
      }),
  },
  {
    name: 'sign-in with a foreign callbackURL',
    run: (x) =>
      x.send({
        path: SIGN_IN,
        headers: { origin: x.origin },
        body: signInBody(x, { callbackURL: 'https://evil.example/welcome' }),
      }),
  },
  {
    name: 'sign-in of a banned user',
    needs: ['createUsers', 'hooks', 'admin'],
    run: async (x) => {
      const { account } = await x.newUser('banned')
      await x.hooks!.ban(account.email)
      return x.send({ path: SIGN_IN, headers: { origin: x.origin }, body: account })
    },
  },
  {
    name: 'sign-up',
    needs: ['createUsers'],
    run: (x) =>
      x.send({
        path: SIGN_UP,
        headers: { origin: x.origin },
        body: { name: 'Parity New', email: `parity-${x.run}-new@casa.test`, password: 'parity-password-1' },
      }),
  },
  {
    name: 'sign-up with an existing email',
    needs: ['createUsers'],
    run: async (x) => {
      const { account } = await x.newUser('dupe')
      return x.send({ path: SIGN_UP, headers: { origin: x.origin }, body: account })
    },
  },
  {
    name: 'sign-up with the email in another case',
    needs: ['createUsers'],
    run: async (x) => {
      const { account } = await x.newUser('case')
      return x.send({
        path: SIGN_UP,
        headers: { origin: x.origin },
        body: { ...account, email: account.email.toUpperCase() },
      })
    },
  },
  {
    name: 'sign-up with a short password',
    needs: ['createUsers'],
    run: (x) =>
      x.send({
        path: SIGN_UP,
        headers: { origin: x.origin },
        body: { name: 'Short', email: `parity-${x.run}-short@casa.test`, password: 'short' },
      }),
  },
  {
    name: 'sign-up with a long password',
    needs: ['createUsers'],
    run: (x) =>
      x.send({
        path: SIGN_UP,
        headers: { origin: x.origin },
        body: { name: 'Long', email: `parity-${x.run}-long@casa.test`, password: 'x'.repeat(129) },
      }),
  },
  {
    name: 'sign-up with an invalid email',
    needs: ['createUsers'],
    run: (x) =>
      x.send({
        path: SIGN_UP,
        headers: { origin: x.origin },
        body: { name: 'Bad', email: 'not-an-email', password: 'parity-password-1' },
      }),
  },
  {
    name: 'sign-up without a name',
    needs: ['createUsers'],
    run: (x) =>
      x.send({
        path: SIGN_UP,
        headers: { origin: x.origin },
        body: { email: `parity-${x.run}-noname@casa.test`, password: 'parity-password-1' },
      }),
  },
  // The admin plugin's `input: false` user fields: a truthy one is refused before the email is
  // looked up, a falsy one (and `banned`, which has a default) ignored.
  ...(
    [
      ['role: "admin"', { role: 'admin' }],
      ['role: "member" (the default, still refused)', { role: 'member' }],
      ['role: "child", form-encoded', { role: 'child' }, true],
      ['role: "" (falsy, ignored)', { role: '' }],
      ['role: null', { role: null }],
      ['role: false', { role: false }],
      ['banReason', { banReason: 'spam' }],
      ['banExpires', { banExpires: '2030-01-01T00:00:00.000Z' }],
      ['banned: true (defaulted)', { banned: true }],
      ['role and banReason (role first)', { banReason: 'spam', role: 'admin' }],
    ] as const
  ).map(
    ([label, extra, form], i): ParityCase => ({
      name: `sign-up with ${label}`,
      needs: ['createUsers', 'admin'],
      run: (x) => {
        const body = {
          name: 'Field',
          email: `parity-${x.run}-field${i}@casa.test`,
          password: 'parity-password-1',
        }
        return form
          ? x.send({
              path: SIGN_UP,
              headers: { origin: x.origin, 'content-type': 'application/x-www-form-urlencoded' },
              body: new URLSearchParams({ ...body, ...(extra as Record<string, string>) }).toString(),
            })
          : x.send({ path: SIGN_UP, headers: { origin: x.origin }, body: { ...body, ...extra } })
      },
    }),
  ),
  {
    name: 'sign-up with role: "admin" and an existing email (refused for the role first)',
    needs: ['createUsers', 'admin'],
    run: (x) =>
      x.send({ path: SIGN_UP, headers: { origin: x.origin }, body: { ...x.account, role: 'admin' } }),
  },
  {
    name: 'sign-up with role: "admin" and a short password (the password first)',
    needs: ['createUsers', 'admin'],
    run: (x) =>
      x.send({
        path: SIGN_UP,
        headers: { origin: x.origin },
        body: {
          name: 'Short',
          email: `parity-${x.run}-shortrole@casa.test`,
          password: 'short',
          role: 'admin',
        },
      }),
  },
  {
    name: 'sign-up from Node fetch without Origin',
    needs: ['createUsers'],
    run: (x) =>
      x.send({
        path: SIGN_UP,
        headers: NODE_FETCH,
        body: {
          name: 'NoOrigin',
          email: `parity-${x.run}-noorigin@casa.test`,
          password: 'parity-password-1',
        },
      }),
  },
  {
    name: 'sign-up from a foreign Origin',
    needs: ['createUsers'],
    run: (x) =>
      x.send({
        path: SIGN_UP,
        headers: BROWSER('https://evil.example'),
        body: { name: 'Evil', email: `parity-${x.run}-evil@casa.test`, password: 'parity-password-1' },
      }),
  },
  {
    name: 'sign-out signed in',
    run: async (x) =>
      x.send({ path: SIGN_OUT, headers: { cookie: await x.signIn(), origin: x.origin }, body: {} }),
  },
  {
    name: 'sign-out without a body',
    run: async (x) =>
      x.send({ method: 'POST', path: SIGN_OUT, headers: { cookie: await x.signIn(), origin: x.origin } }),
  },
  {
    name: 'sign-out with no cookie',
    run: (x) => x.send({ path: SIGN_OUT, headers: { origin: x.origin }, body: {} }),
  },
  {
    name: 'sign-out with an unknown session',
    run: (x) =>
      x.send({
        path: SIGN_OUT,
        headers: { origin: x.origin, cookie: `better-auth.session_token=${STRANGER}` },
        body: {},
      }),
  },
  {
    name: 'sign-out with a cookie and no Origin',
    run: async (x) => x.send({ path: SIGN_OUT, headers: { cookie: await x.signIn() }, body: {} }),
  },
  {
    name: 'sign-out from a foreign Origin',
    run: async (x) =>
      x.send({
        path: SIGN_OUT,
        headers: { cookie: await x.signIn(), origin: 'https://evil.example' },
        body: {},
      }),
  },
  { name: 'an unknown auth route', run: (x) => x.send({ path: '/api/auth/no-such-route' }) },
  { name: 'GET /api/auth (no trailing path)', run: (x) => x.send({ path: '/api/auth' }) },
  {
    name: 'HEAD get-session signed in',
    run: async (x) => x.send({ method: 'HEAD', path: GET_SESSION, headers: { cookie: await x.signIn() } }),
  },
  { name: 'HEAD /ok', run: (x) => x.send({ method: 'HEAD', path: '/api/auth/ok' }) },
  // Over http better-auth reads only the plain cookie name: a `__Secure-` one is no session.
  {
    name: 'get-session with a __Secure- session cookie over http',
    run: async (x) => x.send({ path: GET_SESSION, headers: { cookie: `__Secure-${await x.signIn()}` } }),
  },
  {
    name: 'get-session after a sign-out that sent a __Secure- cookie over http (the session survives)',
    run: async (x) => {
      const cookie = await x.signIn()
      await x.send({ path: SIGN_OUT, headers: { cookie: `__Secure-${cookie}`, origin: x.origin }, body: {} })
      return x.send({ path: GET_SESSION, headers: { cookie } })
    },
  },
  // Root-relative callbackURLs a browser could read as another host (better-auth's isSafeRelativeURL).
  ...(
    [
      ['a backslash after the slash', '/\\evil.example'],
      ['an encoded backslash', '/%5Cevil.example'],
      ['an encoded slash in the path', '/a%2Fb'],
      ['a tab', '/\t/evil.example'],
      ['a space, query and fragment (allowed)', '/a b?x=%2F#f'],
    ] as const
  ).map(
    ([label, callbackURL]): ParityCase => ({
      name: `sign-in with a relative callbackURL with ${label}`,
      run: (x) =>
        x.send({ path: SIGN_IN, headers: { origin: x.origin }, body: signInBody(x, { callbackURL }) }),
    }),
  ),
  {
    name: 'sign-out with a callbackURL with a backslash',
    run: (x) =>
      x.send({ path: SIGN_OUT, headers: { origin: x.origin }, body: { callbackURL: '/\\evil.example' } }),
  },
]
