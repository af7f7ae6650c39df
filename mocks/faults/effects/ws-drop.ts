import type { EffectModule } from '../types.ts'

// Cut an open WebSocket after N server frames or after a delay. Code 1006 means no close
// frame at all (terminate), which is what a crashed server or a dead network looks like.
export const wsDrop: EffectModule<'ws-drop'> = {
  type: 'ws-drop',
  scope: 'connection',
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
}
