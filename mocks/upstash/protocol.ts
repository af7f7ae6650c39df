import type { Outcome, Reply } from './backend.ts'

// Upstash's REST protocol, as its docs and @upstash/redis (the vendor's client) use it:
//   - a command as a JSON array posted to `/` (`["SET","k","v","EX",100]`), or path-style
//     (`/set/k/v`, `/get/k`), where a POST body is the last argument and query parameters
//     after it (`POST /set/k?EX=100` with the value as body);
//   - `/pipeline` and `/multi-exec` take an array of command arrays and answer an array of
//     `{result}` / `{error}`;
//   - `Authorization: Bearer <token>` or `?_token=<token>`;
//   - `{result}` with 200, `{error}` with 400 (syntax, unknown command, failed command),
//     401 (token missing or wrong), 405 (a method other than HEAD, GET, POST, PUT);
//   - `Upstash-Encoding: base64`: every string in the answer base64-encoded except the "OK"
//     status (the client sends this header unless `responseEncoding: false`).

export const ALLOWED_METHODS = ['HEAD', 'GET', 'POST', 'PUT'] as const

/** Upstash's answer to a missing or wrong token (401). */
export const WRONGPASS = 'WRONGPASS invalid or missing auth token'

export class ProtocolError extends Error {
  override name = 'ProtocolError'
}

/** One command from JSON: strings as they are, numbers and booleans as Redis reads them. */
export function commandFromJson(value: unknown, where = 'the body'): string[] {
  if (!Array.isArray(value)) {
    throw new ProtocolError(`ERR ${where} must be a JSON array of a command and its arguments`)
  }
  if (value.length === 0) throw new ProtocolError(`ERR ${where} is an empty command array`)
  return value.map((arg, i) => {
    if (typeof arg === 'string') return arg
    if (typeof arg === 'number' && Number.isFinite(arg)) return String(arg)
    if (typeof arg === 'boolean') return arg ? 'true' : 'false'
    throw new ProtocolError(
      `ERR argument ${i} of ${where} is ${arg === null ? 'null' : typeof arg}: give strings or numbers`,
    )
  })
}

/** `/pipeline` and `/multi-exec`: an array of command arrays. */
export function commandsFromJson(value: unknown): string[][] {
  if (!Array.isArray(value) || value.length === 0) {
    throw new ProtocolError('ERR the body must be a non-empty JSON array of command arrays')
  }
  return value.map((cmd, i) => commandFromJson(cmd, `command ${i}`))
}

/**
 * A path-style command: the path's segments (URL-decoded), then the body (POST/PUT) as the last
 * argument, then the query's parameters (`?EX=100` -> `EX 100`; `?NX` -> `NX`), `_token` aside.
 */
export function commandFromPath(pathname: string, search: string, body: string | undefined): string[] {
  const segments = pathname
    .split('/')
    .filter((s) => s !== '')
    .map((s) => {
      try {
        return decodeURIComponent(s)
      } catch {
        throw new ProtocolError(`ERR the path segment "${s.slice(0, 64)}" is not valid percent-encoding`)
      }
    })
  if (body !== undefined && body !== '') segments.push(body)
  for (const [name, value] of new URLSearchParams(search)) {
    if (name === '_token') continue
    segments.push(name)
    if (value !== '') segments.push(value)
  }
  return segments
}

/** The token from `Authorization: Bearer <t>` or `?_token=<t>`. */
export function tokenOf(authorization: string | undefined, search: string): string | undefined {
  const m = authorization?.match(/^Bearer\s+(.+)$/i)
  if (m) return m[1]!.trim()
  return new URLSearchParams(search).get('_token') ?? undefined
}

/**
 * A tenant's own token is the configured one with `@<tenant>` appended: the credential alone
 * then names the tenant (`Redis.fromEnv()` with the tenant's UPSTASH_REDIS_REST_TOKEN).
 */
export const TENANT_TOKEN_SEPARATOR = '@'

export function tenantToken(token: string, tenant: string): string {
  return `${token}${TENANT_TOKEN_SEPARATOR}${tenant}`
}

/** The tenant a token names (`<token>@<tenant>`), if it names one. */
export function tokenTenant(token: string | undefined): string | undefined {
  if (!token) return undefined
  const at = token.lastIndexOf(TENANT_TOKEN_SEPARATOR)
  return at < 0 ? undefined : token.slice(at + 1)
}

export function wantsBase64(header: string | undefined): boolean {
  return header?.trim().toLowerCase() === 'base64'
}

/** A reply as Upstash's JSON: Buffers as UTF-8 text, or base64 when asked (except "OK"). */
export function encodeReply(reply: Reply, base64: boolean): unknown {
  if (reply === null || typeof reply === 'number') return reply
  if (Array.isArray(reply)) return reply.map((r) => encodeReply(r, base64))
  const bytes = typeof reply === 'string' ? Buffer.from(reply) : reply
  if (!base64) return typeof reply === 'string' ? reply : bytes.toString('utf8')
  if (bytes.length === 2 && bytes.toString() === 'OK') return 'OK'
  return bytes.toString('base64')
}

export function encodeOutcomes(outcomes: Outcome[], base64: boolean): unknown[] {
  return outcomes.map((o) => ('error' in o ? { error: o.error } : { result: encodeReply(o.result, base64) }))
}
