import { z } from 'zod'
import { SERVICE_NAMES, type ServiceName } from '../core/config.ts'
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

/** The fault schema for a list of service names (the registry of fakes gives it). */
export function faultSchema<S extends string>(services: readonly [S, ...S[]]) {
  return z.strictObject({
    id: z.string().min(1).max(100).optional(),
    service: z.enum(services),
    match: MatchSchema.optional(),
    effect: EffectSchema,
    times: z.number().int().min(1).optional(),
    probability: z.number().min(0).max(1).optional(),
    afterMs: z.number().int().min(0).optional(),
    forMs: z.number().int().min(1).optional(),
  })
}

export const ServiceNameSchema = z.enum(SERVICE_NAMES as readonly [ServiceName, ...ServiceName[]])

export const FaultSchema = faultSchema(SERVICE_NAMES as readonly [ServiceName, ...ServiceName[]])

export type FaultSpec = z.input<typeof FaultSchema>
export type Fault = z.infer<typeof FaultSchema>
