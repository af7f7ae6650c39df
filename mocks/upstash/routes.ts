import { timingSafeEqual } from 'node:crypto'
import type { Context, Hono } from 'hono'
import { isControlPath } from '../core/config.ts'
import type { StateOf } from '../core/state.ts'
import { RedisCommandError } from './backend.ts'
import {
  ALLOWED_METHODS,
  commandFromJson,
  commandFromPath,
  commandsFromJson,
  encodeOutcomes,
  encodeReply,
  ProtocolError,
  tokenOf,
  WRONGPASS,
  wantsBase64,
} from './protocol.ts'
import type { UpstashState } from './state.ts'

// The REST surface. The fault engine (mounted by createFakeApp) runs first; then the token,
// the request size, the command, and one `{result}` or `{error}` answer.

const ALLOW = ALLOWED_METHODS.join(', ')

function sameToken(given: string | undefined, expected: string): boolean {
  if (given === undefined) return false
  const a = Buffer.from(given)
  const b = Buffer.from(expected)
  return a.length === b.length && timingSafeEqual(a, b)
}

function fail(c: Context, status: 400 | 401 | 405 | 500, error: string) {
  return c.json({ error }, status)
}

export function registerUpstashRoutes(app: Hono, stateOf: StateOf<UpstashState>): void {
  app.all('*', async (c, next) => {
    const url = new URL(c.req.url)
    if (isControlPath(url.pathname)) return next()
    if (!(ALLOWED_METHODS as readonly string[]).includes(c.req.method)) {
      c.header('allow', ALLOW)
      return fail(c, 405, `ERR method ${c.req.method} is not allowed; use ${ALLOW}`)
    }
    const s = stateOf(c)
    const given = tokenOf(c.req.header('authorization'), url.search)
    // A tenant takes its own token (`<token>@<tenant>`) or, beside a tenant header, the plain one.
    if (!sameToken(given, s.token) && !(s.tenantToken && sameToken(given, s.tenantToken))) {
      return fail(c, 401, WRONGPASS)
    }
    const declared = Number(c.req.header('content-length') ?? 0)
    if (declared > s.maxRequestBytes) return fail(c, 400, tooLarge(s.maxRequestBytes))
    const bytes = c.req.method === 'POST' || c.req.method === 'PUT' ? await c.req.arrayBuffer() : undefined
    // Chunked bodies carry no Content-Length: the size is judged on what arrived.
    if (bytes && bytes.byteLength > s.maxRequestBytes) return fail(c, 400, tooLarge(s.maxRequestBytes))
    const text = bytes ? new TextDecoder().decode(bytes) : undefined
    const base64 = wantsBase64(c.req.header('upstash-encoding'))

    try {
      const path = url.pathname.replace(/\/+$/, '') || '/'
      if ((path === '/pipeline' || path === '/multi-exec') && c.req.method === 'POST') {
        const commands = commandsFromJson(parseJson(text))
        const outcomes =
          path === '/pipeline' ? await s.backend.pipeline(commands) : await s.backend.transaction(commands)
        return c.json(encodeOutcomes(outcomes, base64))
      }
      const command =
        path === '/'
          ? commandFromJson(parseJson(text))
          : commandFromPath(url.pathname, url.search, c.req.method === 'GET' ? undefined : text)
      if (command.length === 0) throw new ProtocolError('ERR no command given')
      const reply = await s.backend.command(command)
      if (c.req.method === 'HEAD') return c.body(null, 200)
      return c.json({ result: encodeReply(reply, base64) })
    } catch (err) {
      if (err instanceof ProtocolError || err instanceof RedisCommandError) return fail(c, 400, err.message)
      throw err
    }
  })
}

function tooLarge(limit: number): string {
  return `ERR max request size exceeded. Limit: ${limit} bytes`
}

function parseJson(text: string | undefined): unknown {
  if (text === undefined || text.trim() === '') throw new ProtocolError('ERR the request body is empty')
  try {
    return JSON.parse(text)
  } catch {
    throw new ProtocolError('ERR the request body is not valid JSON')
  }
}
