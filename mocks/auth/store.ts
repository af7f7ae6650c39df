import { Collection } from '@msw/data'
import { z } from 'zod'
import { RoleSchema, type Scenario } from '../fake/scenario.ts'
import { seededUsers } from '../fake/seeded.ts'

// Users, credentials and sessions in @msw/data collections. A scenario switch builds fresh
// collections and swaps them in one assignment, so no request sees half-seeded state.

const UserRecord = z.object({
  id: z.string(),
  email: z.string(),
  name: z.string(),
  image: z.string().nullable(),
  role: RoleSchema,
  emailVerified: z.boolean(),
  banned: z.boolean(),
  createdAt: z.string(),
  updatedAt: z.string(),
  password: z.string(),
})

const SessionRecord = z.object({
  id: z.string(),
  token: z.string(),
  userId: z.string(),
  expiresAt: z.string(),
  ipAddress: z.string(),
  userAgent: z.string(),
  createdAt: z.string(),
})

export type UserRow = z.infer<typeof UserRecord>
export type SessionRow = z.infer<typeof SessionRecord>

export interface AuthCollections {
  users: Collection<typeof UserRecord>
  sessions: Collection<typeof SessionRecord>
}

export async function buildAuthStore(scenario: Scenario): Promise<AuthCollections> {
  const users = new Collection({ schema: UserRecord })
  const sessions = new Collection({ schema: SessionRecord })
  const seeded = seededUsers(scenario)
  await users.createMany(seeded.length, (i) => seeded[i]!.user)
  const withSession = seeded.flatMap((s) => (s.session ? [s.session] : []))
  await sessions.createMany(withSession.length, (i) => withSession[i]!)
  return { users, sessions }
}
