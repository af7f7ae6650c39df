import type { EffectModule } from '../types.ts'

// Refuse the WebSocket upgrade with an HTTP status (the handshake never completes).
export const wsReject: EffectModule<'ws-reject'> = {
  type: 'ws-reject',
  scope: 'upgrade',
  async http(ctx, effect, proceed) {
    if (!ctx.isUpgrade) return proceed()
    return new Response(null, { status: effect.status })
  },
}
