import { z } from 'zod'
import { defineEffect } from '../types.ts'

// Half-open: the socket stays up but nothing flows. No frames, and no pongs either, so only
// a client-side heartbeat timeout can notice.
export const wsSilence = defineEffect({
  type: 'ws-silence',
  schema: z.strictObject({ type: z.literal('ws-silence') }),
  does: 'silences open WebSockets',
  acts: {
    ws(conn) {
      conn.raw.setAutoPong(false)
      conn.outbound = () => false
      conn.inbound = () => false
    },
  },
})
