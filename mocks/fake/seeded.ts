import { seededId } from '../core/ids.ts'
import { SESSION_COOKIE, signSessionToken } from '../core/session-cookie.ts'
import { DEFAULT_TENANT } from '../core/tenant.ts'
import type { Role, Scenario } from './scenario.ts'

// The seeded users and sessions a scenario describes, computed without any store: the auth
// fake seeds from this, the control plane lists it, the fault engine maps tokens to users.

export interface SeededUserRow {
  id: string
  email: string
  name: string
  image: string | null
  role: Role
  emailVerified: boolean
  banned: boolean
  createdAt: string
  updatedAt: string
  password: string
}

export interface SeededSessionRow {
  id: string
  token: string
  userId: string
  expiresAt: string
  ipAddress: string
  userAgent: string
  createdAt: string
}

export interface SeededUser {
  user: SeededUserRow
  session: SeededSessionRow | null
}

/** Seeded sessions last a century past the scenario clock: they never lapse mid-suite. */
const SEEDED_SESSION_YEARS = 100

/**
 * A seeded session's raw token: from the seed and the user, and from the tenant too, so two
 * tenants built from one scenario never share a cookie (the default tenant's are as they were).
 */
export function seededSessionToken(seed: number, userId: string, tenant: string = DEFAULT_TENANT): string {
  return seededId(
    seed,
    tenant === DEFAULT_TENANT ? `session-token:${userId}` : `session-token:${tenant}:${userId}`,
  )
}

export function seededUsers(scenario: Scenario, tenant: string = DEFAULT_TENANT): SeededUser[] {
  const expires = new Date(scenario.clock)
  expires.setUTCFullYear(expires.getUTCFullYear() + SEEDED_SESSION_YEARS)
  // A registry without the auth fake has no users section: no seeded users.
  const users = (scenario as Partial<Scenario>).auth?.users ?? []
  return users.map((u) => {
    const createdAt = new Date(u.createdAt ?? scenario.clock).toISOString()
    const user: SeededUserRow = {
      id: u.id,
      email: u.email.toLowerCase(),
      name: u.name,
      image: u.image,
      role: u.role,
      emailVerified: u.emailVerified,
      banned: u.banned,
      createdAt,
      updatedAt: createdAt,
      password: u.password,
    }
    const session: SeededSessionRow | null = u.session
      ? {
          id: u.session.id ?? seededId(scenario.seed, `session-id:${u.id}`),
          // A token fixed by the scenario is the default tenant's; every other tenant gets its
          // own, so no cookie ever opens two worlds (GET /__mocks/users with the tenant shows it).
          token:
            tenant === DEFAULT_TENANT
              ? (u.session.token ?? seededSessionToken(scenario.seed, u.id))
              : seededSessionToken(scenario.seed, u.id, tenant),
          userId: u.id,
          expiresAt: new Date(u.session.expiresAt ?? expires).toISOString(),
          ipAddress: u.session.ipAddress,
          userAgent: u.session.userAgent,
          createdAt,
        }
      : null
    return { user, session }
  })
}

export function seededIdentities(
  scenario: Scenario,
  tenant: string = DEFAULT_TENANT,
): [string, { userId: string; email: string }][] {
  return seededUsers(scenario, tenant).flatMap(({ user, session }) =>
    session
      ? [
          [session.token, { userId: user.id, email: user.email }] as [
            string,
            { userId: string; email: string },
          ],
        ]
      : [],
  )
}

/** What /__mocks/users shows: enough for a test to sign in by password or by cookie. */
export function usersForControl(scenario: Scenario, secret: string, tenant: string = DEFAULT_TENANT) {
  return seededUsers(scenario, tenant).map(({ user, session }) => ({
    id: user.id,
    email: user.email,
    name: user.name,
    role: user.role,
    password: user.password,
    banned: user.banned,
    cookieName: SESSION_COOKIE,
    cookieValue: session ? signSessionToken(session.token, secret) : null,
    sessionExpiresAt: session?.expiresAt ?? null,
  }))
}
