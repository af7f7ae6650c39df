import type { IncomingMessage } from 'node:http'
import type { Context } from 'hono'
import type { z } from 'zod'

// Request bodies as better-auth 1.7 reads them: better-call's getBody (Content-Type allowed per
// endpoint, else 415; JSON or form-encoded parsing), then its zod validation (every issue, joined).

/** sign-in and sign-up (their `metadata.allowedMediaTypes`, in better-auth's order). */
export const FORM_OR_JSON = ['application/x-www-form-urlencoded', 'application/json'] as const
/** Every other better-auth endpoint (the router's default). */
export const JSON_ONLY = ['application/json'] as const

export type BodyProblem = {
  status: 400 | 415
  code: 'BAD_REQUEST' | 'UNSUPPORTED_MEDIA_TYPE'
  message: string
}
export type BodyResult = { ok: true; body: unknown } | ({ ok: false } & BodyProblem)

const JSON_TYPE = /^application\/([a-z0-9.+-]*\+)?json/i

/**
 * Whether the request has a body as better-auth sees it. Served by Node (toNodeHandler, the
 * parity suite's real server), better-call's adapter drops the body of a request with no
 * Content-Type, `Content-Length: 0`, or neither a length nor chunked encoding; as a fetch
 * Request (msw, `app.request`) any body counts.
 */
function hasBody(c: Context): boolean {
  const incoming = (c.env as { incoming?: IncomingMessage } | undefined)?.incoming
  if (!incoming?.headers) return c.req.raw.body !== null
  const h = incoming.headers
  if (!h['content-type']) return false
  const length = Number(h['content-length'])
  if (length === 0) return false
  return !(incoming.httpVersionMajor === 1 && Number.isNaN(length) && h['transfer-encoding'] === undefined)
}

/** The parsed body (undefined when there is none), or better-call's 415 / 400. */
export async function readBody(c: Context, allowed: readonly string[]): Promise<BodyResult> {
  if (!hasBody(c)) return { ok: true, body: undefined }
  const type = c.req.header('content-type') ?? ''
  const lower = type.toLowerCase()
  if (!allowed.includes(lower.split(';')[0]!.trim())) {
    const list = allowed.join(', ')
    return {
      ok: false,
      status: 415,
      code: 'UNSUPPORTED_MEDIA_TYPE',
      message: type
        ? `Content-Type "${type}" is not allowed. Allowed types: ${list}`
        : `Content-Type is required. Allowed types: ${list}`,
    }
  }
  const text = await c.req.text()
  if (JSON_TYPE.test(lower)) {
    try {
      return { ok: true, body: JSON.parse(text) }
    } catch {
      return { ok: false, status: 400, code: 'BAD_REQUEST', message: 'Invalid JSON in request body' }
    }
  }
  // Form-encoded (the only other type any endpoint allows): every value a string, the last of a
  // repeated name wins, as better-call's formData().forEach leaves it.
  const out: Record<string, string> = {}
  for (const [k, v] of new URLSearchParams(text)) out[k] = v
  return { ok: true, body: out }
}

/** better-call's VALIDATION_ERROR message: every issue as `[body.path] message`, joined by "; ". */
export function validationMessage(issues: readonly z.core.$ZodIssue[]): string {
  return issues
    .map((i) => `[${i.path.length ? `body.${i.path.map(String).join('.')}` : 'body'}] ${i.message}`)
    .join('; ')
}
