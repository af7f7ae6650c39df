import { codeForStatus, type ErrorEnvelope } from '../core/envelope.ts'

/** V01T's `{success: false, error, code, details?}`; its documented codes: invalid_params, not_found, internal_error. */
export const v01tEnvelope: ErrorEnvelope = {
  body: (message, code, extra = {}) =>
    extra.details
      ? { success: false, error: message, code, details: extra.details }
      : { success: false, error: message, code },
  code: (status) => (status === 400 ? 'invalid_params' : codeForStatus(status)),
}
