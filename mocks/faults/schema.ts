import { z } from 'zod'

// The fault model of DESIGN §4. Kept free of runtime imports so the scenario schema (core)
// can embed it without pulling in the engine.

export const ServiceNameSchema = z.enum(['auth', 'chat', 'media', 'v01t', 'db'])

const httpStatus = z.number().int().min(100).max(599)
const wsCloseCode = z
  .number()
  .int()
  .refine(
    (c) =>
      c === 1000 ||
      c === 1001 ||
      c === 1006 ||
      c === 1011 ||
      c === 1012 ||
      c === 1013 ||
      (c >= 3000 && c <= 4999),
    {
      message: 'close code must be 1000, 1001, 1006 (abrupt), 1011, 1012, 1013 or 3000-4999',
    },
  )

export const EffectSchema = z.discriminatedUnion('type', [
  z.strictObject({
    type: z.literal('latency'),
    ms: z.number().int().min(0).max(600_000),
    jitterMs: z.number().int().min(0).max(600_000).default(0),
  }),
  z.strictObject({
    type: z.literal('status'),
    status: httpStatus,
    body: z.unknown().optional(),
  }),
  z.strictObject({ type: z.literal('hang') }),
  z.strictObject({ type: z.literal('reset') }),
  z.strictObject({ type: z.literal('down') }),
  z.strictObject({
    type: z.literal('slow-body'),
    bytesPerSecond: z.number().int().min(1),
  }),
  z.strictObject({
    type: z.literal('ws-reject'),
    status: httpStatus.default(503),
  }),
  z
    .strictObject({
      type: z.literal('ws-drop'),
      afterMessages: z.number().int().min(0).optional(),
      afterMs: z.number().int().min(0).optional(),
      code: wsCloseCode.default(1006),
    })
    .refine((e) => !(e.afterMessages !== undefined && e.afterMs !== undefined), {
      message: 'give afterMessages or afterMs, not both',
    }),
  z.strictObject({ type: z.literal('ws-silence') }),
])

export type Effect = z.infer<typeof EffectSchema>
export type EffectType = Effect['type']

export const MatchSchema = z.strictObject({
  method: z
    .string()
    .transform((m) => m.toUpperCase())
    .pipe(z.enum(['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS']))
    .optional(),
  /** A route pattern such as `/api/v1/files/:id` or `/trace/*`. */
  path: z.string().startsWith('/').optional(),
  /** WS: `upgrade`, `message` (any frame) or a client frame type such as `typing`. */
  ws: z.string().min(1).optional(),
  /** A user id or email: the fault applies only to that user's requests. */
  user: z.string().min(1).optional(),
  /** A session token: the fault applies only to that session. */
  session: z.string().min(1).optional(),
  /** Header name → exact value (or `*` for present). */
  header: z.record(z.string(), z.string()).optional(),
})

export type Match = z.infer<typeof MatchSchema>

export const FaultSchema = z.strictObject({
  id: z.string().min(1).max(100).optional(),
  service: ServiceNameSchema,
  match: MatchSchema.optional(),
  effect: EffectSchema,
  times: z.number().int().min(1).optional(),
  probability: z.number().min(0).max(1).optional(),
  afterMs: z.number().int().min(0).optional(),
  forMs: z.number().int().min(1).optional(),
})

export type FaultSpec = z.input<typeof FaultSchema>
export type Fault = z.infer<typeof FaultSchema>
