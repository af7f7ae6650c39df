import type { IncomingMessage } from 'node:http'
import type { EffectModule } from '../types.ts'

// Destroy the socket with a TCP RST so the client sees ECONNRESET (destroy() alone sends FIN).
export const reset: EffectModule<'reset'> = {
  type: 'reset',
  scope: 'request',
  async http(ctx) {
    const incoming = (ctx.c.env as { incoming?: IncomingMessage } | undefined)?.incoming
    if (incoming) {
      const socket = incoming.socket as IncomingMessage['socket'] & { resetAndDestroy?: () => void }
      if (typeof socket.resetAndDestroy === 'function') socket.resetAndDestroy()
      else socket.destroy()
      return new Response(null, { status: 499 })
    }
    // In-process (msw): a network error is the closest a fetch can see.
    return Response.error()
  },
}
