import { z } from 'zod'

/** The roles family-hub gives users (better-auth's admin plugin): the fakes map any user onto these. */
export const RoleSchema = z.enum(['admin', 'member', 'child'])
export type Role = z.infer<typeof RoleSchema>
