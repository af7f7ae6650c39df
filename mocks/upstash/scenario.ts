import { z } from 'zod'

// The Upstash fake's section of scenario files (`upstash:`), registered by its descriptor.

const redisKey = z.string().min(1).max(1024)
const ttlSeconds = z
  .number()
  .int()
  .min(1)
  .optional()
  .describe('Expiry, counted from when the scenario is applied')

export const UpstashKeySeedSchema = z.union([
  z.string().describe('A string value'),
  z.strictObject({ string: z.string(), ttlSeconds }),
  z.strictObject({
    hash: z.record(z.string(), z.string()).refine((h) => Object.keys(h).length > 0, 'at least one field'),
    ttlSeconds,
  }),
  z.strictObject({ set: z.array(z.string()).min(1), ttlSeconds }),
  z.strictObject({
    zset: z.record(z.string(), z.number()).refine((h) => Object.keys(h).length > 0, 'at least one member'),
    ttlSeconds,
  }),
  z.strictObject({ list: z.array(z.string()).min(1), ttlSeconds }),
])

export const UpstashSectionSchema = z.strictObject({
  token: z
    .string()
    .min(8)
    .regex(/^[\x21-\x7e]+$/, 'printable ASCII without spaces')
    .optional()
    .describe(
      'UPSTASH_REDIS_REST_TOKEN the fake accepts; defaults to MOCKS_UPSTASH_TOKEN or the development token',
    ),
  maxRequestBytes: z
    .number()
    .int()
    .min(1)
    .default(1024 * 1024)
    .describe("Bigger requests are refused with Upstash's 'ERR max request size exceeded'"),
  keys: z
    .record(redisKey, UpstashKeySeedSchema)
    .default({})
    .describe('Keys written when the scenario is applied (and on reset)'),
})

export const upstashSection = UpstashSectionSchema.default({ maxRequestBytes: 1024 * 1024, keys: {} })

export type UpstashSection = z.infer<typeof UpstashSectionSchema>
export type KeySeed = UpstashSection['keys'][string]
