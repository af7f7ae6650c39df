import { describe, expect, it } from 'vitest'
import { Journal } from '../core/journal.ts'
import { createLogger } from '../core/logger.ts'
import { usersForControl } from '../fake/seeded.ts'
import { FaultEngine } from '../faults/engine.ts'
import { loadConfig } from '../runtime/config.ts'
import { faultHost } from '../runtime/fault-host.ts'
import { ScenarioLoader } from '../runtime/scenario-loader.ts'
import { createAuthApp } from './routes.ts'
import { type AuthState, banUser, createAuthState } from './state.ts'

// The auth state is a value: two built from one scenario serve side by side through one app
// (chosen per request, as tenants will be) without either seeing the other's changes.

describe('auth state as a value', () => {
  it('two states live side by side in one app without touching each other', async () => {
    const config = loadConfig({})
    const scenario = new ScenarioLoader(config.scenariosDir).load('default')
    const deps = {
      config,
      logger: createLogger('test'),
      faults: new FaultEngine({
        ...faultHost(config),
        journal: new Journal(100),
        logger: createLogger('f'),
      }),
    }
    const states: Record<string, AuthState> = {
      a: createAuthState(scenario, deps),
      b: createAuthState(scenario, deps),
    }
    const app = createAuthApp(deps, (c) => states[c.req.header('x-tenant') ?? 'a']!)
    const call = (tenant: string, path: string, init: RequestInit = {}) =>
      app.request(`http://localhost${path}`, { ...init, headers: { 'x-tenant': tenant, ...init.headers } })
    const member = usersForControl(scenario, config.betterAuthSecret).find((u) => u.id === 'usr_member')!
    const cookie = `${member.cookieName}=${member.cookieValue}`
    const origin = 'http://localhost:3000'

    // A sign-up in a is unknown to b.
    const up = await call('a', '/api/auth/sign-up/email', {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin },
      body: JSON.stringify({ name: 'Ann', email: 'ann@casa.test', password: 'ann-password-1' }),
    })
    expect(up.status).toBe(200)
    const annCookie = up.headers.getSetCookie()[0]!.split(';')[0]!
    expect((await call('a', '/api/auth/get-session', { headers: { cookie: annCookie } })).status).toBe(200)
    expect((await call('b', '/api/auth/get-session', { headers: { cookie: annCookie } })).status).toBe(401)
    expect(states.b!.usersByEmail.has('ann@casa.test')).toBe(false)

    // Signing the seeded member out of a leaves her seeded session in b.
    await call('a', '/api/auth/sign-out', { method: 'POST', headers: { cookie, origin } })
    expect((await call('a', '/api/auth/get-session', { headers: { cookie } })).status).toBe(401)
    expect((await call('b', '/api/auth/get-session', { headers: { cookie } })).status).toBe(200)

    // A ban in b is b's alone.
    banUser(states.b!, 'admin@casa.test')
    expect(states.a!.users.get('usr_admin')!.banned).toBe(false)
  })
})
