import type { IncomingMessage } from 'node:http'
import { z } from 'zod'
import { cutConnection, defineEffect, type HttpEffectContext } from '../types.ts'

// Never answer. The request is held until the client gives up; then nothing is left behind.
function hold(ctx: HttpEffectContext): Promise<Response> {
  return new Promise((resolve) => {
    const socket = (ctx.c.env as { incoming?: IncomingMessage } | undefined)?.incoming?.socket
    const finish = (res: Response) => {
      ctx.signal.removeEventListener('abort', gone)
      ctx.cut.removeEventListener('abort', cut)
      socket?.off('close', gone)
      socket?.off('end', gone)
      resolve(res)
    }
    const gone = () => finish(new Response(null, { status: 499 }))
    // A reset or scenario switch cuts it: the request never outlives the state it began in.
    const cut = () => finish(cutConnection(ctx))
    if (ctx.signal.aborted) return gone()
    ctx.signal.addEventListener('abort', gone, { once: true })
    ctx.cut.addEventListener('abort', cut, { once: true })
    // Node: the request signal fires on abort, but an upgrade request has no body stream;
    // watch the socket itself as well. A client that leaves an upgrade half-closes it (the
    // server keeps its side open), so its end counts too: else the socket is held for good.
    socket?.once('close', gone)
    if (ctx.isUpgrade) socket?.once('end', gone)
  })
}

export const hang = defineEffect({
  type: 'hang',
  schema: z.strictObject({ type: z.literal('hang') }),
  does: 'never answers',
  acts: { http: hold, upgrade: hold },
})
