import type { IncomingMessage } from 'node:http'
import { z } from 'zod'
import { cutConnection, defineEffect, type HttpEffectContext, sleep } from '../types.ts'

// Delay before the request reaches the fake. Jitter only adds: never early. A client that
// gives up during the delay never reaches the fake: an upload abandoned at its 30 s timeout
// must not be stored (and journaled as 201) five seconds later. Nor does a request still
// delayed when the mocks are reset or switch scenario (a browser may keep the connection of
// an aborted upload open, so the server cannot always see that the client left).
async function delay(
  ctx: HttpEffectContext,
  effect: { ms: number; jitterMs: number },
  proceed: () => Promise<Response>,
): Promise<Response> {
  const ms = effect.ms + Math.floor(ctx.random() * (effect.jitterMs + 1))
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
    if (!(await sleep(ms, gone.signal))) {
      return ctx.cut.aborted ? cutConnection(ctx) : new Response(null, { status: 499 })
    }
  } finally {
    ctx.signal.removeEventListener('abort', onAbort)
    ctx.cut.removeEventListener('abort', onAbort)
    socket?.off('close', onAbort)
  }
  return proceed()
}

export const latency = defineEffect({
  type: 'latency',
  schema: z.strictObject({
    type: z.literal('latency'),
    ms: z.number().int().min(0).max(600_000),
    jitterMs: z.number().int().min(0).max(600_000).default(0),
  }),
  does: 'delays requests',
  acts: { http: delay, upgrade: delay },
  passesThrough: true,
})
