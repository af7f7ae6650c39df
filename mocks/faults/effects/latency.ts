import { type EffectModule, sleep } from '../types.ts'

// Delay before the request reaches the fake. Jitter only adds: never early.
export const latency: EffectModule<'latency'> = {
  type: 'latency',
  scope: 'request',
  async http(ctx, effect, proceed) {
    const delay = effect.ms + Math.floor(ctx.random() * (effect.jitterMs + 1))
    await sleep(delay, ctx.signal)
    return proceed()
  },
}
