import { z } from 'zod'
import { defineEffect, type HttpEffectContext } from '../types.ts'

/** Statuses an answer never has a body with (the Fetch standard's null body statuses, 1xx aside). */
const NULL_BODY = new Set([204, 205, 304])

// Answer with a status instead of the fake; the body defaults to the service's own envelope
// (the host's errorBody: the engine knows no service's error shape).
export async function answer(
  ctx: Pick<HttpEffectContext, 'errorBody'>,
  effect: { status: number; body?: unknown },
): Promise<Response> {
  if (NULL_BODY.has(effect.status)) return new Response(null, { status: effect.status })
  const body = effect.body === undefined ? ctx.errorBody(effect.status) : effect.body
  return new Response(typeof body === 'string' ? body : JSON.stringify(body), {
    status: effect.status,
    headers: {
      'content-type': typeof body === 'string' ? 'text/plain; charset=utf-8' : 'application/json',
    },
  })
}

// A final status: a 1xx is an interim response, which no client reads as an answer (the
// connection would just look cut; `reset` says that plainly).
export const httpStatus = z
  .number()
  .int()
  .min(
    200,
    'a status from 200 to 599 (1xx are interim responses, never an answer: use reset to cut the connection)',
  )
  .max(599, 'a status from 200 to 599')

export const status = defineEffect({
  type: 'status',
  schema: z.strictObject({
    type: z.literal('status'),
    status: httpStatus,
    body: z.unknown().optional(),
  }),
  does: 'answers with a status',
  acts: { http: answer, upgrade: answer },
})
