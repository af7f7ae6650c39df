import { cutConnection, type EffectModule } from '../types.ts'

// Destroy the socket with a TCP RST so the client sees ECONNRESET (destroy() alone sends FIN).
export const reset: EffectModule<'reset'> = {
  type: 'reset',
  scope: 'request',
  async http(ctx) {
    return cutConnection(ctx)
  },
}
