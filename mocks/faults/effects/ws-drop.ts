import { z } from 'zod'
import { defineEffect } from '../types.ts'

// Cut an open WebSocket after N server frames or after a delay. Code 1006 means no close
// frame at all (terminate), which is what a crashed server or a dead network looks like.

const wsCloseCode = z
  .number()
  .int()
  .refine(
    (c) =>
      c === 1000 ||
      c === 1001 ||
      c === 1006 ||
      c === 1011 ||
      c === 1012 ||
      c === 1013 ||
      (c >= 3000 && c <= 4999),
    {
      message: 'close code must be 1000, 1001, 1006 (abrupt), 1011, 1012, 1013 or 3000-4999',
    },
  )

export const wsDrop = defineEffect({
  type: 'ws-drop',
  schema: z
    .strictObject({
      type: z.literal('ws-drop'),
      afterMessages: z.number().int().min(0).optional(),
      afterMs: z.number().int().min(0).optional(),
      code: wsCloseCode.default(1006),
    })
    .refine((e) => !(e.afterMessages !== undefined && e.afterMs !== undefined), {
      message: 'give afterMessages or afterMs, not both',
    }),
  does: 'drops open WebSockets',
  acts: {
    ws(conn, effect) {
      const cut = () => {
        if (effect.code === 1006) conn.raw.terminate()
        else conn.raw.close(effect.code, 'fault: ws-drop')
      }
      if (effect.afterMs !== undefined) {
        conn.setTimer(cut, effect.afterMs)
        return
      }
      const limit = effect.afterMessages ?? 0
      if (limit === 0) {
        cut()
        return
      }
      let seen = 0
      conn.onServerFrame(() => {
        seen++
        if (seen === limit) queueMicrotask(cut)
      })
    },
  },
})
