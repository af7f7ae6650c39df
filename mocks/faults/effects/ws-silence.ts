import type { EffectModule } from '../types.ts'

// Half-open: the socket stays up but nothing flows. No frames, and no pongs either, so only
// a client-side heartbeat timeout can notice.
export const wsSilence: EffectModule<'ws-silence'> = {
  type: 'ws-silence',
  scope: 'connection',
  ws(conn) {
    conn.raw.setAutoPong(false)
    conn.outbound = () => false
    conn.inbound = () => false
  },
}
