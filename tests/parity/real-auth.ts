import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { PGlite } from '@electric-sql/pglite'
import { type BetterAuthOptions, betterAuth } from 'better-auth'
import { memoryAdapter } from 'better-auth/adapters/memory'
import { getMigrations } from 'better-auth/db/migration'
import { toNodeHandler } from 'better-auth/node'
import { admin } from 'better-auth/plugins'
import { adminAc, userAc } from 'better-auth/plugins/admin/access'
import { PGliteDialect } from 'kysely-pglite-dialect'
import type { ParityHooks } from '../../mocks/auth/parity.ts'

// A real better-auth (the devDependency, 1.7.x) in-process on port 0: the reference the fake is
// compared with, and the auth service chat and media validate against in the real-auth tests.

export interface RealAuthOptions {
  secret: string
  /** The admin plugin, with family-hub's roles (admin, member, child). */
  admin?: boolean
  /** Postgres (PGlite through Kysely) instead of the memory adapter: nullable columns come back null. */
  sql?: boolean
  trustedOrigins?: string[]
  /** `__Secure-` cookie names, as a better-auth on https (or behind TLS termination) uses. */
  secureCookies?: boolean
}

export interface RealAuth {
  url: string
  /** Writes user fields straight to the database (a role, a ban) as an admin would. */
  updateUser(id: string, fields: Record<string, unknown>): Promise<void>
  /** Ban and expire by email, for the parity cases. */
  hooks: ParityHooks
  close(): Promise<void>
}

export async function startRealAuth(opts: RealAuthOptions): Promise<RealAuth> {
  const pg = opts.sql ? new PGlite() : undefined
  const options: BetterAuthOptions = {
    secret: opts.secret,
    emailAndPassword: { enabled: true },
    database: pg
      ? { dialect: new PGliteDialect(pg), type: 'postgres' }
      : memoryAdapter({ user: [], session: [], account: [], verification: [] }),
    plugins: opts.admin ? [admin({ roles: familyRoles(), defaultRole: 'member' })] : [],
    ...(opts.trustedOrigins ? { trustedOrigins: opts.trustedOrigins } : {}),
    // disableOriginCheck set explicitly: under NODE_ENV=test better-auth skips its origin and
    // CSRF checks unless told, and the reference must check as it does in production.
    advanced: { disableOriginCheck: false, ...(opts.secureCookies ? { useSecureCookies: true } : {}) },
    // Quiet: the parity suite makes better-auth refuse on purpose.
    logger: { disabled: true },
  }
  if (pg) await (await getMigrations(options)).runMigrations()
  const server = http.createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  // baseURL once the port is known: better-auth trusts its own origin, as the fake does.
  const auth = betterAuth({ ...options, baseURL: url })
  server.on('request', toNodeHandler(auth))
  return {
    url,
    async updateUser(id, fields) {
      await (await auth.$context).internalAdapter.updateUser(id, fields)
    },
    hooks: {
      // As the admin plugin's ban-user: the flag, and every session of the user revoked.
      async ban(email) {
        const db = (await auth.$context).internalAdapter
        const found = await db.findUserByEmail(email)
        if (!found) throw new Error(`no user ${email}`)
        await db.updateUser(found.user.id, { banned: true })
        await db.deleteUserSessions(found.user.id)
      },
      async expire(email) {
        const db = (await auth.$context).internalAdapter
        const found = await db.findUserByEmail(email)
        if (!found) throw new Error(`no user ${email}`)
        for (const s of await db.listSessions(found.user.id)) {
          await db.updateSession(s.token, { expiresAt: new Date(Date.now() - 60_000) })
        }
      },
    },
    async close() {
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
      await pg?.close()
    },
  }
}

/** family-hub's three roles as admin-plugin access-control roles (no extra permissions needed). */
function familyRoles() {
  // The admin plugin's own `user` and `admin` role objects, reused under family-hub's names.
  return { admin: adminAc, member: userAc, child: userAc }
}
