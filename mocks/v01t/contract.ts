import { z } from 'zod'

// V01T's wire contract, written from the integration matrix's `ListResponse` (NodeData and
// ArtefactData variants) and `ErrorResponse`. Every object is strict: an unknown or misspelt
// field fails, as it would in a frontend that reads the documented names.

const iso = z.iso.datetime({ offset: true })

const MetaSchema = z.strictObject({
  external_id: z.string().min(1),
  last_synced: iso,
})

const common = {
  title: z.string().min(1),
  slug: z.string().min(1),
  cluster: z.string().min(1),
  _meta: MetaSchema,
}

export const NodeDataSchema = z.strictObject({
  ...common,
  url: z.url(),
  website: z.url(),
  description: z.string(),
  stack: z.array(z.string()),
  repo_count: z.number().int().min(0),
  repos: z.array(z.string()),
  highlights: z.array(z.string()),
  status: z.enum(['active', 'archived', 'planned']),
})

export const ArtefactDataSchema = z.strictObject({
  ...common,
  id: z.string().min(1),
  excerpt: z.string(),
  publishedAt: iso,
  status: z.enum(['draft', 'published', 'archived']),
  priority: z.number(),
  conversion_intent: z.enum(['engagement', 'education', 'lead_gen']),
  business_value_score: z.number().min(0).max(10),
  word_count: z.number().int().min(0),
  readTime: z.string().regex(/^\d+min$/),
  tags: z.array(z.string()),
  keywords: z.array(z.string()),
  isPremium: z.boolean(),
  author: z.strictObject({ name: z.string().min(1), avatar: z.string().min(1) }),
})

export const ListMetadataSchema = z.strictObject({
  application: z.string(),
  component_type: z.string(),
  total_count: z.number().int().min(0),
  filtered_count: z.number().int().min(0),
  page: z.number().int().min(1),
  page_size: z.number().int().min(1),
  total_pages: z.number().int().min(1),
  has_next: z.boolean(),
  has_previous: z.boolean(),
})

export function listResponseSchema<T extends z.ZodType>(item: T) {
  return z.strictObject({
    success: z.literal(true),
    data: z.array(item),
    metadata: ListMetadataSchema,
    timestamp: iso,
  })
}

export const NodeListResponseSchema = listResponseSchema(NodeDataSchema)
export const ArtefactListResponseSchema = listResponseSchema(ArtefactDataSchema)

export const ErrorResponseSchema = z.strictObject({
  success: z.literal(false),
  error: z.string().min(1),
  code: z.string().min(1).optional(),
  details: z.record(z.string(), z.unknown()).optional(),
})

export type NodeListResponse = z.infer<typeof NodeListResponseSchema>
export type ArtefactListResponse = z.infer<typeof ArtefactListResponseSchema>
export type ErrorResponse = z.infer<typeof ErrorResponseSchema>
