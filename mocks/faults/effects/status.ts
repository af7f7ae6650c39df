import type { EffectModule } from '../types.ts'

// Answer with a status instead of the fake; the body defaults to the service's own envelope.
export const status: EffectModule<'status'> = {
  type: 'status',
  scope: 'request',
  async http(ctx, effect) {
    if (ctx.isUpgrade) return new Response(null, { status: effect.status })
    if (effect.status === 204 || effect.status === 304 || effect.status < 200)
      return new Response(null, { status: effect.status })
    const body = effect.body === undefined ? ctx.errorBody(effect.status) : effect.body
    return new Response(typeof body === 'string' ? body : JSON.stringify(body), {
      status: effect.status,
      headers: {
        'content-type': typeof body === 'string' ? 'text/plain; charset=utf-8' : 'application/json',
      },
    })
  },
}
