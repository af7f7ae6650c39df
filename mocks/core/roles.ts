import { z } from 'zod'

/** The roles family-hub gives users (better-auth's admin plugin): the fakes map any user onto these. */
export const RoleSchema = z.enum(['admin', 'member', 'child'])
export type Role = z.infer<typeof RoleSchema>

/**
 * How better-auth role names map to the three roles chat and media know. better-auth's admin
 * plugin sends `role` as a string (`user` and `admin` by default, several joined by commas);
 * a stock better-auth sends none. Default: `admin` is an admin, `child` a child, any other role
 * or none a member. `MOCKS_AUTH_ROLE_MAP` and a scenario's `auth.roleMap` add or override names.
 */
export type RoleMap = Readonly<Record<string, Role>>

export const DEFAULT_ROLE_MAP: RoleMap = { admin: 'admin', child: 'child' }

/**
 * A user's role from better-auth's `role` value. For a comma-separated list the strongest
 * mapped role wins: admin, then child (a restriction someone asked for), then member.
 */
export function mapRole(raw: unknown, map: RoleMap = DEFAULT_ROLE_MAP): Role {
  const names = typeof raw === 'string' ? raw.split(',').map((r) => r.trim()) : []
  const mapped = new Set(names.map((n) => map[n]).filter((r): r is Role => r !== undefined))
  if (mapped.has('admin')) return 'admin'
  if (mapped.has('child')) return 'child'
  return 'member'
}

/** Parses `MOCKS_AUTH_ROLE_MAP` (`owner=admin,kid=child`): entries added to the default map. */
export function parseRoleMap(spec: string | undefined): Record<string, Role> {
  const out: Record<string, Role> = {}
  for (const entry of (spec ?? '').split(',')) {
    if (!entry.trim()) continue
    const [name, role] = entry.split('=').map((s) => s.trim())
    const parsed = RoleSchema.safeParse(role)
    if (!name || !parsed.success) {
      throw new Error(`MOCKS_AUTH_ROLE_MAP: "${entry.trim()}" is not <better-auth role>=<admin|member|child>`)
    }
    out[name] = parsed.data
  }
  return out
}
