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

// Every effect module: adding an effect is a file beside these and a line here (schema.ts
// builds the fault schema's union from this list; the engine finds modules by type).
export const EFFECTS = [latency, status, hang, reset, down, slowBody, wsReject, wsDrop, wsSilence] as const

const BY_TYPE = new Map<string, EffectModule>(EFFECTS.map((m) => [m.type, m]))

export function effectModule(type: string): EffectModule {
  const m = BY_TYPE.get(type)
  if (!m) throw new Error(`no effect module for "${type}"`)
  return m
}
