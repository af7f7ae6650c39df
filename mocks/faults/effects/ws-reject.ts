import { z } from 'zod'
import { defineEffect } from '../types.ts'
import { httpStatus, NULL_BODY } from './status.ts'

// Refuse the WebSocket upgrade with an HTTP status (the handshake never completes). The body
// is the service's own error envelope (chat: {error, code}), as its other refusals carry.
export const wsReject = defineEffect({
  type: 'ws-reject',
  schema: z.strictObject({
    type: z.literal('ws-reject'),
    status: httpStatus.default(503),
  }),
  does: 'refuses WebSocket handshakes',
  acts: {
    async upgrade(ctx, effect) {
      if (NULL_BODY.has(effect.status)) return new Response(null, { status: effect.status })
      return new Response(JSON.stringify(ctx.errorBody(effect.status)), {
        status: effect.status,
        headers: { 'content-type': 'application/json' },
      })
    },
  },
})
