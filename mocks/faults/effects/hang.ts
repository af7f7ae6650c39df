import type { IncomingMessage } from 'node:http'
import { cutConnection, type EffectModule } from '../types.ts'

// Never answer. The request is held until the client gives up; then nothing is left behind.
export const hang: EffectModule<'hang'> = {
  type: 'hang',
  scope: 'request',
  http(ctx) {
    return new Promise((resolve) => {
      const done = () => resolve(new Response(null, { status: 499 }))
      if (ctx.signal.aborted) return done()
      ctx.signal.addEventListener('abort', done, { once: true })
      // A reset or scenario switch cuts it: the request never outlives the state it began in.
      ctx.cut.addEventListener('abort', () => resolve(cutConnection(ctx)), { once: true })
      // Node: the request signal fires on abort, but an upgrade request has no body stream;
      // watch the socket itself as well. A client that leaves an upgrade half-closes it (the
      // server keeps its side open), so its end counts too: else the socket is held for good.
      const socket = (ctx.c.env as { incoming?: IncomingMessage } | undefined)?.incoming?.socket
      socket?.once('close', done)
      if (ctx.isUpgrade) socket?.once('end', done)
    })
  },
}
