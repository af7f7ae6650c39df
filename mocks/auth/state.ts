import { DEFAULT_TENANT } from '../core/tenant.ts'
import type { FakeDeps } from '../fake/descriptor.ts'
import type { Scenario } from '../fake/scenario.ts'
import { type SeededSessionRow, type SeededUserRow, seededUsers } from '../fake/seeded.ts'
import type { FaultPort } from '../faults/engine.ts'

// The fake better-auth's state as a value: users and sessions built from a scenario, plus the
// scenario's answers. No app, no I/O: the app finds the state in force through `stateOf(c)`,
// and a scenario switch builds a new one and swaps it in one assignment, so no request sees a
// half-seeded state and two states can serve side by side (tenants, tests).

export type UserRow = SeededUserRow
export type SessionRow = SeededSessionRow & { updatedAt: string }

export interface AuthState {
  /** By id. */
  readonly users: Map<string, UserRow>
  /** By lower-cased email. */
  readonly usersByEmail: Map<string, UserRow>
  /** By raw token. */
  readonly sessions: Map<string, SessionRow>
  readonly noSession: '401' | '200-null'
  readonly sessionTtlDays: number
  /** Whether users carry the admin plugin's fields (role, banned, banReason, banExpires). */
  readonly adminPlugin: boolean
  /** Lifetime of the ephemeral WS tokens POST /api/auth/ws-token issues. */
  readonly wsTokenTtlSeconds: number
}

export function createAuthState(
  scenario: Scenario,
  deps: Pick<FakeDeps, 'config'>,
  tenant: string = DEFAULT_TENANT,
): AuthState {
  const state: AuthState = {
    users: new Map(),
    usersByEmail: new Map(),
    sessions: new Map(),
    noSession: scenario.auth.noSession ?? deps.config.authNoSession,
    sessionTtlDays: scenario.auth.sessionTtlDays,
    adminPlugin: scenario.auth.adminPlugin,
    wsTokenTtlSeconds: scenario.auth.wsTokenTtlSeconds,
  }
  for (const { user, session } of seededUsers(scenario, tenant)) {
    addUser(state, user)
    if (session) state.sessions.set(session.token, { ...session, updatedAt: session.createdAt })
  }
  return state
}

export function addUser(state: AuthState, user: UserRow): void {
  state.users.set(user.id, user)
  state.usersByEmail.set(user.email.toLowerCase(), user)
}

/**
 * Replicated mode: a sign-up whose email an earlier entry of the log already took (two sign-ups
 * sent at once to two replicas); its submitter answers as one better-auth does, the others skip it.
 */
export class EmailTakenError extends Error {
  constructor() {
    super('USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL')
  }
}

/** The log's command kinds for sessions (replicated mode): applied by `storeSession` / `endSession`. */
export const SESSION_MADE = 'auth.session'
export const SESSION_ENDED = 'auth.signout'

/** Stores a new session; it belongs to the tenant whose port is given (its cookie lands there). */
export function storeSession(
  state: AuthState,
  port: Pick<FaultPort, 'registerSession'>,
  session: SessionRow,
  user: Pick<UserRow, 'id' | 'email'>,
): void {
  state.sessions.set(session.token, session)
  port.registerSession(session.token, { userId: user.id, email: user.email })
}

export function endSession(state: AuthState, port: Pick<FaultPort, 'forgetSession'>, token: string): void {
  state.sessions.delete(token)
  port.forgetSession(token)
}

export function userByEmail(state: AuthState, email: string): UserRow | undefined {
  return state.usersByEmail.get(email.toLowerCase())
}

/** Bans a user as the admin plugin's ban-user does: flagged, every session revoked. */
export function banUser(state: AuthState, email: string): void {
  const user = userByEmail(state, email)
  if (!user) throw new Error(`no user ${email}`)
  user.banned = true
  for (const [token, s] of state.sessions) if (s.userId === user.id) state.sessions.delete(token)
}

/** Makes every session of a user expired (tests and the parity suite). */
export function expireSessions(state: AuthState, email: string): void {
  const user = userByEmail(state, email)
  if (!user) throw new Error(`no user ${email}`)
  const past = new Date(Date.now() - 60_000).toISOString()
  for (const s of state.sessions.values()) if (s.userId === user.id) s.expiresAt = past
}
