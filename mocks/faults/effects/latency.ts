import type { IncomingMessage } from 'node:http'
import { cutConnection, type EffectModule, sleep } from '../types.ts'

// Delay before the request reaches the fake. Jitter only adds: never early. A client that
// gives up during the delay never reaches the fake: an upload abandoned at its 30 s timeout
// must not be stored (and journaled as 201) five seconds later. Nor does a request still
// delayed when the mocks are reset or switch scenario (a browser may keep the connection of
// an aborted upload open, so the server cannot always see that the client left).
export const latency: EffectModule<'latency'> = {
  type: 'latency',
  scope: 'request',
  async http(ctx, effect, proceed) {
    const delay = effect.ms + Math.floor(ctx.random() * (effect.jitterMs + 1))
    // The request signal misses a client that aborts after sending its whole body: watch the
    // socket as well (as hang does).
    const gone = new AbortController()
    const onAbort = () => gone.abort()
    ctx.signal.addEventListener('abort', onAbort, { once: true })
    // A reset or scenario switch during the delay cuts the request (see HttpEffectContext.cut).
    ctx.cut.addEventListener('abort', onAbort, { once: true })
    const socket = (ctx.c.env as { incoming?: IncomingMessage } | undefined)?.incoming?.socket
    socket?.once('close', onAbort)
    try {
      if (!(await sleep(delay, gone.signal))) {
        return ctx.cut.aborted ? cutConnection(ctx) : new Response(null, { status: 499 })
      }
    } finally {
      ctx.signal.removeEventListener('abort', onAbort)
      ctx.cut.removeEventListener('abort', onAbort)
      socket?.off('close', onAbort)
    }
    return proceed()
  },
}
