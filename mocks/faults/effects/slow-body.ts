import { z } from 'zod'
import { defineEffect, sleep } from '../types.ts'

// The fake answers at once, but the body trickles out at bytesPerSecond (headers first).
export const slowBody = defineEffect({
  type: 'slow-body',
  schema: z.strictObject({
    type: z.literal('slow-body'),
    bytesPerSecond: z.number().int().min(1),
  }),
  does: 'trickles HTTP response bodies',
  acts: {
    async http(ctx, effect, proceed) {
      const res = await proceed()
      if (!res.body) return res
      const reader = res.body.getReader()
      // Ten slices a second keeps the rate smooth without a timer per byte.
      const slice = Math.max(1, Math.floor(effect.bytesPerSecond / 10))
      let pending: Uint8Array | undefined
      const started = performance.now()
      let sent = 0
      const body = new ReadableStream<Uint8Array>({
        async pull(controller) {
          if (!pending || pending.byteLength === 0) {
            const { done, value } = await reader.read()
            if (done) return controller.close()
            pending = value
          }
          const chunk = pending.subarray(0, slice)
          pending = pending.subarray(chunk.byteLength)
          sent += chunk.byteLength
          const due = (sent / effect.bytesPerSecond) * 1000 - (performance.now() - started)
          if (due > 0 && !(await sleep(due, ctx.signal))) {
            await reader.cancel()
            return controller.error(new Error('client went away'))
          }
          controller.enqueue(chunk)
        },
        cancel() {
          return reader.cancel()
        },
      })
      const headers = new Headers(res.headers)
      headers.delete('content-length')
      return new Response(body, { status: res.status, statusText: res.statusText, headers })
    },
  },
})
