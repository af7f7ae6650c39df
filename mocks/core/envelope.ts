import type { ServiceName } from './config.ts'

// Each real service has its own error body; a frontend that parses one shape must get it.
//   better-auth: {message, code}       chat/media: {error, code?}
//   V01T: {success:false, error, code, details?}   control plane: {error, code, issues?}

export type EnvelopeOwner = ServiceName | 'control'

export interface ErrorDetails {
  details?: Record<string, unknown>
  issues?: { path: string; message: string }[]
}

export function errorEnvelope(
  owner: EnvelopeOwner,
  message: string,
  code: string,
  extra: ErrorDetails = {},
): Record<string, unknown> {
  switch (owner) {
    case 'auth':
      return { message, code }
    case 'v01t':
      return extra.details
        ? { success: false, error: message, code, details: extra.details }
        : { success: false, error: message, code }
    case 'upstash':
      // Upstash answers `{error}` alone, in Redis's words ("ERR ...").
      return { error: message.startsWith('ERR ') ? message : `ERR ${message}` }
    case 'control':
      return extra.issues ? { error: message, code, issues: extra.issues } : { error: message, code }
    default:
      return { error: message, code }
  }
}

/** The code a service uses for a bare HTTP status (faults with no body, unknown routes). */
export function codeForStatus(owner: EnvelopeOwner, status: number): string {
  const lower: Record<number, string> = {
    400: 'bad_request',
    401: 'unauthorized',
    403: 'forbidden',
    404: 'not_found',
    405: 'method_not_allowed',
    408: 'request_timeout',
    409: 'conflict',
    413: 'payload_too_large',
    415: 'unsupported_media_type',
    422: 'unprocessable_entity',
    429: 'rate_limited',
    500: 'internal_error',
    502: 'bad_gateway',
    503: 'service_unavailable',
    504: 'gateway_timeout',
  }
  // V01T's documented codes: invalid_params, not_found, internal_error.
  if (owner === 'v01t' && status === 400) return 'invalid_params'
  const code = lower[status] ?? (status >= 500 ? 'internal_error' : 'error')
  // better-auth's APIError codes are upper case (NOT_FOUND, INTERNAL_SERVER_ERROR).
  if (owner === 'auth') return status === 500 ? 'INTERNAL_SERVER_ERROR' : code.toUpperCase()
  return code
}

const REASONS: Record<number, string> = {
  400: 'Bad request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not found',
  408: 'Request timeout',
  413: 'Payload too large',
  415: 'Unsupported media type',
  429: 'Too many requests',
  500: 'Internal server error',
  502: 'Bad gateway',
  503: 'Service unavailable',
  504: 'Gateway timeout',
}

export function reasonFor(status: number): string {
  return REASONS[status] ?? `HTTP ${status}`
}

export function defaultErrorBody(owner: EnvelopeOwner, status: number): Record<string, unknown> {
  return errorEnvelope(owner, reasonFor(status), codeForStatus(owner, status))
}
