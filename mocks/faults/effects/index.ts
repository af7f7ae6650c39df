import type { EffectType } from '../schema.ts'
import type { EffectModule } from '../types.ts'
import { down } from './down.ts'
import { hang } from './hang.ts'
import { latency } from './latency.ts'
import { reset } from './reset.ts'
import { slowBody } from './slow-body.ts'
import { status } from './status.ts'
import { wsDrop } from './ws-drop.ts'
import { wsReject } from './ws-reject.ts'
import { wsSilence } from './ws-silence.ts'

export const EFFECTS: { [T in EffectType]: EffectModule<T> } = {
  latency,
  status,
  hang,
  reset,
  down,
  'slow-body': slowBody,
  'ws-reject': wsReject,
  'ws-drop': wsDrop,
  'ws-silence': wsSilence,
}

export function effectModule<T extends EffectType>(type: T): EffectModule<T> {
  return EFFECTS[type] as EffectModule<T>
}
