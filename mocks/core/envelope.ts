// Each real service has its own error body; a frontend that parses one shape must get it.
// The kernel knows no service: it gives the shape of an envelope and the common pieces, and
// each fake's descriptor names its own (better-auth {message, code}, V01T {success:false, ...});
// the control plane's is here because the control API is no fake.

export interface ErrorDetails {
  details?: Record<string, unknown>
  issues?: { path: string; message: string }[]
}

/** How one service answers an error: its body, and the code it uses for a bare status. */
export interface ErrorEnvelope {
  body(message: string, code: string, extra?: ErrorDetails): Record<string, unknown>
  code(status: number): string
}

const LOWER_CODES: Record<number, string> = {
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

/** The lower-case code most services use for a bare HTTP status (faults with no body, unknown routes). */
export function codeForStatus(status: number): string {
  return LOWER_CODES[status] ?? (status >= 500 ? 'internal_error' : 'error')
}

/** `{error, code}`: chat-service's and media-service's envelope, and the default for a new fake. */
export const plainEnvelope: ErrorEnvelope = {
  body: (message, code) => ({ error: message, code }),
  code: codeForStatus,
}

/** The control plane's `{error, code, issues?}`. */
export const controlEnvelope: ErrorEnvelope = {
  body: (message, code, extra = {}) =>
    extra.issues ? { error: message, code, issues: extra.issues } : { error: message, code },
  code: codeForStatus,
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

/** The body a service answers a bare status with (a `status` fault without `body`). */
export function defaultErrorBody(envelope: ErrorEnvelope, status: number): Record<string, unknown> {
  return envelope.body(reasonFor(status), envelope.code(status))
}
