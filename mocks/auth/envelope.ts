import { codeForStatus, type ErrorEnvelope } from '../core/envelope.ts'

/** better-auth's `{message, code}`; its APIError codes are upper case (NOT_FOUND, INTERNAL_SERVER_ERROR). */
export const authEnvelope: ErrorEnvelope = {
  body: (message, code) => ({ message, code }),
  code: (status) => (status === 500 ? 'INTERNAL_SERVER_ERROR' : codeForStatus(status).toUpperCase()),
}
