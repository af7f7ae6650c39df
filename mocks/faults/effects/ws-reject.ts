import { z } from 'zod'
import { defineEffect } from '../types.ts'
import { answer, httpStatus } from './status.ts'

// Refuse the WebSocket upgrade with an HTTP status (the handshake never completes). The body
// is the service's own error envelope (chat: {error, code}), as its other refusals carry.
export const wsReject = defineEffect({
  type: 'ws-reject',
  schema: z.strictObject({
    type: z.literal('ws-reject'),
    status: httpStatus.default(503),
  }),
  does: 'refuses WebSocket handshakes',
  // The service's own envelope, or no body for a status that has none (status.ts's answer).
  acts: { upgrade: answer },
})
