import { createRequire } from 'node:module'
import { join } from 'node:path'
import type { BrowserContext } from '@playwright/test'
import {
  type ControlClient,
  createControlClient,
  type InlineScenario,
  type SeededUserInfo,
  type TenantCreated,
  type VerdictReport,
} from '../client/index.ts'
import type { ServiceName } from '../core/config.ts'
import { resolveControlUrl } from '../core/control-url.ts'
import { DEFAULT_TENANT, TENANT_COOKIE } from '../core/tenant.ts'
import { verdictMatchers } from './verdicts.ts'

// Playwright fixtures (`devarno-mocks/playwright`): every test gets its own tenant (a complete,
// isolated world on the one set of mocks, issue 16) created from its `scenario` option and
// deleted after it, so a suite runs with as many workers as it likes (`fullyParallel: true`).
// The tenant travels as the `mocks_tenant` cookie, set on the test's browser context for the
// mocks' hosts: a cookie needs no CORS preflight, reaches WebSocket handshakes and is
// forwarded verbatim by a frontend's server (Playwright's `extraHTTPHeaders` would force a
// preflight on every cross-origin request in Chromium). `mocks` (the control client) and
// `signIn` act on that tenant.
//
// Against mocks already running (MOCKS_CONTROL_URL, else MOCKS_HOST / MOCKS_CONTROL_PORT as the
// server reads them, else http://127.0.0.1:8090), or, with `startMocks: true`, one set of mocks
// per worker on free ports (their URLs in `mocksUrls`).

export type Role = 'admin' | 'member' | 'child'

/** The mocks' URLs: the control plane and every running service. */
export type MocksUrls = { control: string } & Partial<Record<ServiceName, string>>

export interface MocksFixtures {
  /**
   * The scenario this test's tenant is created from (`test.use({ scenario: 'chat-down' })`),
   * by name or inline.
   */
  scenario: string | InlineScenario
  /** This test's tenant: created before the test, deleted after it. */
  tenant: TenantCreated
  /**
   * Run this test on the default tenant instead of a fresh one (its scenario switched before
   * the test, and back after it): for what only the default tenant has, such as faults on a service
   * every tenant shares (the database). Tests on other tenants are untouched by it, but two
   * such tests must not run at once: keep them in one `test.describe.configure({ mode: 'serial' })`.
   */
  defaultTenant: boolean
  /**
   * The control client, acting on this test's tenant: faults, scenario, journal, users, and
   * `verdicts({ since })` (the matrix's rules judged from this tenant's journal; or
   * `await expect(mocks).toPassVerdicts()`).
   */
  mocks: ControlClient
  /**
   * Put a seeded user's signed session cookie (this tenant's) and the tenant cookie into a
   * context, for every host of the mocks.
   */
  signIn: (context: BrowserContext, who: Role | string) => Promise<SeededUserInfo>
}

export interface MocksWorkerFixtures {
  /** Start one set of mocks per worker, on free ports, instead of using running ones. */
  startMocks: boolean
  mocksControlUrl: string
  /** The control plane's and each service's URL (with `startMocks`, this worker's own ports). */
  mocksUrls: MocksUrls
}

/**
 * @playwright/test as the project running the tests resolves it (from its working directory),
 * falling back to this package's own copy. Playwright refuses a second copy in one run
 * ("Requiring @playwright/test second time"), and an installed devarno-mocks would otherwise
 * load the one in its own node_modules instead of the consumer's.
 */
function playwrightTest(): typeof import('@playwright/test') {
  try {
    return createRequire(join(process.cwd(), 'package.json'))('@playwright/test')
  } catch {
    return createRequire(import.meta.url)('@playwright/test')
  }
}

const { test: base, expect: playwrightExpect } = playwrightTest()

/** Hosts a cookie must be set for (cookies ignore ports): loopback by both names, and the mocks' own. */
function mocksHosts(urls: MocksUrls): string[] {
  const hosts = new Set<string>(['localhost', '127.0.0.1'])
  for (const url of Object.values(urls)) if (url) hosts.add(new URL(url).hostname)
  return [...hosts]
}

function cookiesFor(urls: MocksUrls, name: string, value: string) {
  return mocksHosts(urls).map((domain) => ({
    name,
    value,
    domain,
    path: '/',
    httpOnly: true,
    sameSite: 'Lax' as const,
  }))
}

export const test = base.extend<MocksFixtures, MocksWorkerFixtures>({
  startMocks: [false, { option: true, scope: 'worker' }],
  mocksControlUrl: [
    async ({ startMocks }, use) => {
      if (!startMocks) {
        await use(resolveControlUrl().url)
        return
      }
      // Imported lazily: suites against running mocks never load the fakes.
      const [{ loadConfig }, { startMocks: start }] = await Promise.all([
        import('../runtime/config.ts'),
        import('../runtime/runtime.ts'),
      ])
      // Free ports: every worker runs its own set beside the others.
      const mocks = await start({ config: loadConfig(), ephemeralPorts: true })
      await use(mocks.control?.url ?? '')
      await mocks.close()
    },
    // Starting every fake (the embedded Postgres among them) on a loaded machine can take longer
    // than a test's own 30 s; the fixture has its own budget.
    { scope: 'worker', timeout: 120_000 },
  ],
  mocksUrls: [
    async ({ mocksControlUrl, startMocks }, use) => {
      // Against running mocks, the client finds them itself (and names the variables it read
      // when they do not answer).
      const client = createControlClient(startMocks ? { baseUrl: mocksControlUrl } : {})
      const { services } = await client.health()
      const urls: MocksUrls = { control: client.baseUrl }
      for (const [name, s] of Object.entries(services)) if (s.url) urls[name as ServiceName] = s.url
      await use(urls)
    },
    { scope: 'worker' },
  ],
  scenario: ['default', { option: true }],
  defaultTenant: [false, { option: true }],
  tenant: [
    async ({ mocksUrls, scenario, defaultTenant }, use) => {
      const collection = createControlClient({ baseUrl: mocksUrls.control })
      if (defaultTenant) {
        const world = createControlClient({ baseUrl: mocksUrls.control, tenant: DEFAULT_TENANT })
        const before = (await world.health()).scenario ?? 'default'
        const applied = await world.useScenario(scenario)
        await world.clearJournal()
        await use({
          id: DEFAULT_TENANT,
          scenario: applied.scenario,
          header: { name: 'X-Mocks-Tenant', value: DEFAULT_TENANT },
          cookie: { name: TENANT_COOKIE, value: DEFAULT_TENANT },
          // The default tenant is reached with the plain credentials.
          env: {},
        })
        // Back to the scenario it had (a presenter's, `pnpm dev:mocks`'s), never the test's.
        await world.useScenario(before)
        return
      }
      const created = await collection.createTenant(scenario)
      await use(created)
      // Already gone (idle sweep, or the test deleted it) is fine.
      await collection.deleteTenant(created.id).catch((err: { status?: number }) => {
        if (err.status !== 404) throw err
      })
    },
    { auto: true },
  ],
  // Every context the test's `page` lives in carries the tenant cookie.
  context: async ({ context, tenant, mocksUrls }, use) => {
    await context.addCookies(cookiesFor(mocksUrls, tenant.cookie.name, tenant.cookie.value))
    await use(context)
  },
  mocks: async ({ mocksUrls, tenant }, use) => {
    await use(createControlClient({ baseUrl: mocksUrls.control, tenant: tenant.id }))
  },
  signIn: async ({ mocks, mocksUrls, tenant }, use) => {
    await use(async (context, who) => {
      // The tenant's own seeded sessions: tokens differ per tenant, so a session places its
      // requests (a frontend's server forwarding the cookie, chat's `?token=`) in this tenant.
      const { users } = await mocks.users()
      const user =
        users.find((u) => u.id === who || u.email === who) ??
        users.find((u) => u.role === who && !u.banned && u.cookieValue)
      if (!user?.cookieValue) throw new Error(`No seeded user with a session for "${who}"`)
      await context.addCookies([
        ...cookiesFor(mocksUrls, user.cookieName, user.cookieValue),
        // A context other than the test's own (browser.newContext()) joins the tenant too.
        ...cookiesFor(mocksUrls, TENANT_COOKIE, tenant.id),
      ])
      return user
    })
  },
})

/**
 * Playwright's `expect` with `toPassVerdicts`: `await expect(mocks).toPassVerdicts({ exclude })`
 * judges the test's tenant's journal against verdicts.yaml (the matrix's rules).
 */
export const expect = playwrightExpect.extend(verdictMatchers)

export {
  describeVerdict,
  judgedVerdicts,
  notPassing,
  type VerdictExpectation,
  verdictMatchers,
  verdictsMessage,
} from './verdicts.ts'

/** Service URLs of running mocks, for a page's config. */
export async function serviceUrls(client: ControlClient): Promise<Partial<Record<ServiceName, string>>> {
  const { services } = await client.health()
  return Object.fromEntries(Object.entries(services).flatMap(([k, v]) => (v.url ? [[k, v.url]] : [])))
}

export type { TenantCreated, VerdictReport }
