import { z } from 'zod'
import { EFFECTS } from './effects/index.ts'

// The fault model of DESIGN §4. Each effect's fields live in its own module (effects/*.ts);
// this joins them. Free of the engine, so the scenario schema (core) can embed it.

type SchemasOf<M extends readonly { schema: unknown }[]> = { -readonly [K in keyof M]: M[K]['schema'] }

export const EffectSchema = z.discriminatedUnion(
  'type',
  EFFECTS.map((m) => m.schema) as unknown as SchemasOf<typeof EFFECTS>,
)

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

/** A fault; `service` is any name here: the host's services are checked by validation. */
export const FaultSchema = z.strictObject({
  id: z.string().min(1).max(100).optional(),
  service: z.string().min(1),
  match: MatchSchema.optional(),
  effect: EffectSchema,
  times: z.number().int().min(1).optional(),
  probability: z.number().min(0).max(1).optional(),
  afterMs: z.number().int().min(0).optional(),
  forMs: z.number().int().min(1).optional(),
  /** Replicated mode: the fault acts on this replica only (MOCKS_REPLICA), e.g. one `down` behind a balancer. */
  replica: z.string().min(1).max(200).optional(),
})

export type FaultSpec = z.input<typeof FaultSchema>
export type Fault = z.infer<typeof FaultSchema>

/** The fault schema naming these services (editors complete them; others are refused). */
export function faultSchema(services: readonly [string, ...string[]]) {
  return FaultSchema.extend({ service: z.enum(services) })
}
