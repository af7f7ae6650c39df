import type { IncomingMessage } from 'node:http'
import type { EffectModule } from '../types.ts'

// Never answer. The request is held until the client gives up; then nothing is left behind.
export const hang: EffectModule<'hang'> = {
  type: 'hang',
  scope: 'request',
  http(ctx) {
    return new Promise((resolve) => {
      const done = () => resolve(new Response(null, { status: 499 }))
      if (ctx.signal.aborted) return done()
      ctx.signal.addEventListener('abort', done, { once: true })
      // Node: the request signal fires on abort, but an upgrade request has no body stream;
      // watch the socket itself as well.
      const incoming = (ctx.c.env as { incoming?: IncomingMessage } | undefined)?.incoming
      incoming?.socket.once('close', done)
    })
  },
}
