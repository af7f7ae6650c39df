import { z } from 'zod'
import { defineEffect } from '../types.ts'

// Service-wide: the engine closes the listener (ECONNREFUSED) while the fault is in force.
// A request that still reaches the app (in-process msw, or a connection racing the close)
// gets a network error, never an HTTP answer.
export const down = defineEffect({
  type: 'down',
  schema: z.strictObject({ type: z.literal('down') }),
  does: 'refuses connections: the listener closes',
  acts: {
    service: {
      async stray(ctx) {
        const incoming = (ctx.c.env as { incoming?: { socket: { destroy(): void } } } | undefined)?.incoming
        if (incoming) {
          incoming.socket.destroy()
          return new Response(null, { status: 499 })
        }
        return Response.error()
      },
    },
  },
})
