import { z } from 'zod'
import { cutConnection, defineEffect, type HttpEffectContext } from '../types.ts'

// Destroy the socket with a TCP RST so the client sees ECONNRESET (destroy() alone sends FIN).
const cut = async (ctx: HttpEffectContext) => cutConnection(ctx)

export const reset = defineEffect({
  type: 'reset',
  schema: z.strictObject({ type: z.literal('reset') }),
  does: 'cuts connections (ECONNRESET)',
  acts: { http: cut, upgrade: cut },
})
