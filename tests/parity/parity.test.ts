import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { AuthFake } from '../../mocks/auth/index.ts'
import { formatDifferences, PARITY_CASES, type ParityHooks, runParity } from '../../mocks/auth/parity.ts'
import { PARITY_ALLOWED } from '../../mocks/auth/parity-allowed.ts'
import { banUser, expireSessions } from '../../mocks/auth/state.ts'
import { parityCommand } from '../../mocks/cli/parity.ts'
import { DEFAULT_AUTH_SECRET } from '../../mocks/core/config.ts'
import { startTestMocks, type TestMocks } from '../helpers.ts'
import { type RealAuth, startRealAuth } from './real-auth.ts'

// The fake better-auth side by side with a real better-auth 1.7 (the devDependency, in-process):
// email and password, the admin plugin with family-hub's roles, the fake's trusted origins and
// Postgres (PGlite) storage, as family-hub runs it. The fake answers no-session as better-auth
// does (200 null) here. Every difference fails unless mocks/auth/parity-allowed.ts lists it.

const ACCOUNT = { email: 'member@casa.test', password: 'member-password-1', name: 'Mia Member' }
const ORIGIN = 'http://localhost:3000'

let real: RealAuth
let t: TestMocks

beforeAll(async () => {
  t = await startTestMocks({ services: ['auth'], env: { MOCKS_AUTH_NO_SESSION: '200-null' } })
  real = await startRealAuth({
    secret: DEFAULT_AUTH_SECRET,
    admin: true,
    sql: true,
    trustedOrigins: t.mocks.config.allowedOrigins,
  })
  const res = await fetch(`${real.url}/api/auth/sign-up/email`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', origin: ORIGIN },
    body: JSON.stringify(ACCOUNT),
  })
  expect(res.status).toBe(200)
}, 90_000)

afterAll(async () => {
  await t?.close()
  await real?.close()
})

function fakeHooks(): ParityHooks {
  const fake = t.mocks.services.get('auth')!.fake as AuthFake
  return {
    async ban(email) {
      banUser(fake.state(), email)
    },
    async expire(email) {
      expireSessions(fake.state(), email)
    },
  }
}

describe('parity with a real better-auth 1.7', () => {
  it('answers every case as better-auth does, apart from the allow-listed differences', async () => {
    const report = await runParity(
      { url: t.url('auth'), hooks: fakeHooks() },
      { url: real.url, hooks: real.hooks },
      { account: ACCOUNT, trustedOrigin: ORIGIN, createUsers: true, adminPlugin: true },
    )
    expect(report.skipped).toEqual([])
    expect(report.ran.length).toBeGreaterThanOrEqual(40)
    const unexpected = report.differences.filter((d) => !d.allowed)
    expect(unexpected, `differences:\n${formatDifferences(unexpected)}`).toEqual([])
  }, 60_000)

  it('every allow-list entry still matches a difference (no stale excuses)', async () => {
    const report = await runParity(
      { url: t.url('auth'), hooks: fakeHooks() },
      { url: real.url, hooks: real.hooks },
      { account: ACCOUNT, trustedOrigin: ORIGIN, createUsers: true, adminPlugin: true },
    )
    for (const a of PARITY_ALLOWED) {
      expect(
        report.differences.some((d) => d.allowed === a.reason),
        `unused allow-list entry ${a.case} | ${a.field}`,
      ).toBe(true)
    }
    expect(PARITY_CASES.length).toBeGreaterThanOrEqual(40)
  }, 60_000)

  it('pnpm mocks parity: the same comparison against a running better-auth, users created only on request', async () => {
    const base = ['--auth', `${real.url}/api/auth`, '--email', ACCOUNT.email, '--password', ACCOUNT.password]
    const plain = await parityCommand(base)
    expect(plain.failed, plain.text).toBe(false)
    expect(plain.report.skipped.map((s) => s.case)).toEqual(
      expect.arrayContaining([
        'sign-up',
        'sign-up with an existing email',
        'get-session of an expired session',
      ]),
    )
    expect(plain.report.skipped.every((s) => /--create-users|database access/.test(s.reason))).toBe(true)
    expect(plain.text).toMatch(/No differences beyond/)
    const creating = await parityCommand([...base, '--create-users'])
    expect(creating.report.ran).toContain('sign-up with an existing email')
    expect(creating.failed, creating.text).toBe(false)
    // Told the server runs no admin plugin, the fake drops role/banned: the real one sends them.
    const drift = await parityCommand([...base, '--no-admin-plugin'])
    expect(drift.failed).toBe(true)
    expect(drift.text).toMatch(
      /get-session signed in \| body\.user\.role\n\s+fake: \(absent\)\n\s+real: string/,
    )
    await expect(parityCommand(['--auth', real.url])).rejects.toThrow(/--email/)
  }, 90_000)

  it("sees a difference: the fake in the matrix's 401 mode differs exactly on no-session answers", async () => {
    const matrix = await startTestMocks({ services: ['auth'], env: { MOCKS_AUTH_NO_SESSION: '401' } })
    try {
      const report = await runParity(
        { url: matrix.url('auth') },
        { url: real.url },
        { account: ACCOUNT, trustedOrigin: ORIGIN, createUsers: false, adminPlugin: true },
      )
      expect(report.skipped.map((s) => s.case)).toContain('sign-up')
      const noSession = report.differences.filter((d) => d.field === 'status').map((d) => d.case)
      expect(noSession.sort(), formatDifferences(report.differences)).toEqual(
        [
          'get-session after sign-out (an unknown session)',
          'get-session with a __Secure- session cookie over http',
          'get-session with a tampered session cookie',
          'get-session with a wrongly signed cookie',
          'get-session with an unsigned token',
          'get-session without a cookie',
        ].sort(),
      )
      expect(report.differences).toContainEqual({
        case: 'get-session without a cookie',
        field: 'body',
        fake: 'object',
        real: 'null',
      })
    } finally {
      await matrix.close()
    }
  }, 60_000)
})
