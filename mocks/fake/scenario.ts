import { z } from 'zod'
import { RoleSchema } from '../core/roles.ts'
import { FaultSchema } from '../faults/schema.ts'

// The scenario file format (DESIGN §3). Every section has defaults, so a scenario that only
// adds faults is two lines plus `extends: default`. scenarios/scenario.schema.json is
// generated from the schema the registry composes (pnpm scenario:schema); a test keeps it in sync.

const isoDate = z.iso.datetime({ offset: true })
const id = z.string().min(1).max(200)

export { type Role, RoleSchema } from '../core/roles.ts'

export const UserSeedSchema = z.strictObject({
  id: id.describe('Stable user id; referenced by chat members, messages and file owners'),
  email: z.email(),
  name: z.string().min(1),
  password: z.string().min(8).max(128).describe('Known password, shown by dev:mocks and /__mocks/users'),
  role: RoleSchema,
  image: z.string().nullable().default(null),
  emailVerified: z.boolean().default(true),
  banned: z.boolean().default(false),
  createdAt: isoDate.optional().describe('Defaults to the scenario clock'),
  session: z
    .strictObject({
      token: z
        .string()
        .regex(/^[a-zA-Z0-9]{32}$/, '32 characters [a-zA-Z0-9], as better-auth generates')
        .optional()
        .describe('Stable raw session token; derived from the seed when absent'),
      id: id.optional(),
      expiresAt: isoDate
        .optional()
        .describe('Defaults to a century after the scenario clock; a past date makes it expired'),
      ipAddress: z.string().default('127.0.0.1'),
      userAgent: z.string().default('devarno-mocks'),
    })
    .nullable()
    .default({ ipAddress: '127.0.0.1', userAgent: 'devarno-mocks' })
    .describe('The seeded session; null for a user with none'),
})
export type UserSeed = z.infer<typeof UserSeedSchema>

export const AuthSectionSchema = z.strictObject({
  users: z.array(UserSeedSchema).default([]),
  noSession: z
    .enum(['401', '200-null'])
    .optional()
    .describe(
      "No-session answer: the matrix's 401 {user:null,session:null} or better-auth's own 200 null; default MOCKS_AUTH_NO_SESSION, else 401",
    ),
  roleMap: z
    .record(z.string().min(1), RoleSchema)
    .optional()
    .describe(
      'better-auth role name -> the role chat and media act on, over MOCKS_AUTH_ROLE_MAP and the default (admin, child; anything else member)',
    ),
  sessionTtlDays: z
    .number()
    .int()
    .min(1)
    .max(3650)
    .default(7)
    .describe('Lifetime of sessions made by sign-in'),
  adminPlugin: z
    .boolean()
    .default(true)
    .describe(
      "Users carry the admin plugin's fields (role, banned, banReason, banExpires), as family-hub's better-auth does; false answers as a stock better-auth",
    ),
  wsTokenTtlSeconds: z
    .number()
    .int()
    .min(1)
    .max(86_400)
    .default(60)
    .describe('Lifetime of ephemeral WS tokens from POST /api/auth/ws-token'),
})

export const ChannelSeedSchema = z.strictObject({
  id,
  name: z.string().min(1),
  members: z.union([z.literal('all'), z.array(id)]).describe("User ids, or 'all' (sign-ups join too)"),
})

export const MessageSeedSchema = z.strictObject({
  id: id.optional(),
  channel: id,
  sender: id,
  content: z.string().min(1).max(4000),
  at: isoDate,
})

export const ChatSectionSchema = z.strictObject({
  wsAuth: z
    .enum(['raw', 'ephemeral', 'both'])
    .default('raw')
    .describe(
      "What the socket's ?token= may be: the raw session token (the matrix today), an ephemeral WS token (JWT from POST /api/auth/ws-token), or either",
    ),
  channels: z.array(ChannelSeedSchema).default([]),
  messages: z.array(MessageSeedSchema).default([]),
  generate: z
    .strictObject({
      messagesPerChannel: z.number().int().min(0).max(1_000_000).default(0),
      spanHours: z
        .number()
        .min(0)
        .default(72)
        .describe('Generated history spreads over this many hours before the clock'),
    })
    .default({ messagesPerChannel: 0, spanHours: 72 }),
})

export const FileSeedSchema = z.strictObject({
  id,
  fixture: z.string().min(1).describe('File under fixtures/ (e.g. media/sunset.png)'),
  name: z.string().min(1).optional(),
  contentType: z.string().optional().describe('Defaults to the type sniffed from the bytes'),
  owner: id,
  createdAt: isoDate.optional(),
})

export const MediaSectionSchema = z.strictObject({
  files: z.array(FileSeedSchema).default([]),
  limits: z
    .strictObject({
      maxFileSize: z.number().int().min(1).optional(),
      maxAvatarSize: z.number().int().min(1).optional(),
    })
    .default({})
    .describe('Overrides MAX_FILE_SIZE / MAX_AVATAR_SIZE while this scenario is in force'),
})

export const V01tRecordSeedSchema = z.strictObject({
  title: z.string().min(1),
  slug: z.string().min(1),
  cluster: z.string().min(1),
  external_id: z.string().min(1),
  last_synced: isoDate.optional(),
  raw_data: z.record(z.string(), z.unknown()).default({}),
})

export const V01tComponentSchema = z.strictObject({
  slug: z.string().regex(/^[a-z0-9][a-z0-9_-]*$/),
  records: z.array(V01tRecordSeedSchema).default([]),
  generate: z
    .strictObject({
      count: z.number().int().min(0).max(1_000_000),
      cluster: z.string().min(1),
      kind: z
        .enum(['node', 'artefact'])
        .optional()
        .describe('Record shape; defaults from the component slug'),
    })
    .optional(),
})

export const V01tApplicationSchema = z.strictObject({
  slug: z.string().regex(/^[a-z0-9][a-z0-9_-]*$/),
  components: z.array(V01tComponentSchema).default([]),
})

export const V01tSectionSchema = z.strictObject({
  applications: z.array(V01tApplicationSchema).default([]),
})

/** The fields every scenario has, whatever fakes are registered. */
export const scenarioBaseShape = {
  $schema: z.string().optional(),
  name: z.string().regex(/^[a-z0-9][a-z0-9-]*$/, 'lower-case letters, digits and dashes'),
  description: z.string().default(''),
  extends: z.string().optional().describe('Name of the scenario this one builds on'),
  seed: z.number().int().default(1).describe('Seeds faker and fault probability'),
  clock: isoDate
    .default('2026-02-19T09:00:00.000Z')
    .describe('Seeded timestamps count from here, never from the wall clock'),
}

// The built-in fakes' sections, each with its default (a scenario may leave any out). Their
// descriptors point at these; they live together because several fakes read them (chat's
// members and media's owners are auth's users), so the `Scenario` type names them once.
export const authSection = AuthSectionSchema.default({
  users: [],
  sessionTtlDays: 7,
  adminPlugin: true,
  wsTokenTtlSeconds: 60,
})
export const chatSection = ChatSectionSchema.default({
  wsAuth: 'raw',
  channels: [],
  messages: [],
  generate: { messagesPerChannel: 0, spanHours: 72 },
})
export const mediaSection = MediaSectionSchema.default({ files: [], limits: {} })
export const v01tSection = V01tSectionSchema.default({ applications: [] })

/**
 * The scenario as the built-in fakes read it. The runtime validates files against the schema
 * composed from the registered descriptors (mocks/runtime/scenario-schema.ts): the same base
 * and faults, and each descriptor's section (a fake added beside these reads its own with
 * `sectionOf`).
 */
const BuiltinScenarioSchema = z.strictObject({
  ...scenarioBaseShape,
  auth: authSection,
  chat: chatSection,
  media: mediaSection,
  v01t: v01tSection,
  faults: z.array(FaultSchema).default([]),
})

export type Scenario = z.infer<typeof BuiltinScenarioSchema>
export type ScenarioInput = z.input<typeof BuiltinScenarioSchema>
