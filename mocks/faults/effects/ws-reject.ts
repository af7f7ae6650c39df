import { z } from 'zod'
import { defineEffect } from '../types.ts'
import { httpStatus } from './status.ts'

// Refuse the WebSocket upgrade with an HTTP status (the handshake never completes).
export const wsReject = defineEffect({
  type: 'ws-reject',
  schema: z.strictObject({
    type: z.literal('ws-reject'),
    status: httpStatus.default(503),
  }),
  does: 'refuses WebSocket handshakes',
  acts: {
    async upgrade(_ctx, effect) {
      return new Response(null, { status: effect.status })
    },
  },
})
