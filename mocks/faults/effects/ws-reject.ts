import type { EffectModule } from '../types.ts'

// Refuse the WebSocket upgrade with an HTTP status (the handshake never completes). The body
// is the service's own error envelope (chat: {error, code}), as its other refusals carry.
export const wsReject: EffectModule<'ws-reject'> = {
  type: 'ws-reject',
  scope: 'upgrade',
  async http(ctx, effect, proceed) {
    if (!ctx.isUpgrade) return proceed()
    return new Response(JSON.stringify(ctx.errorBody(effect.status)), {
      status: effect.status,
      headers: { 'content-type': 'application/json' },
    })
  },
}
