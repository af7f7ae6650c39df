import { createRequire } from 'node:module'
import { join } from 'node:path'
import type { BrowserContext } from '@playwright/test'
import { type ControlClient, createControlClient, type SeededUserInfo } from '../client/index.ts'
import type { ServiceName } from '../core/config.ts'
import { resolveControlUrl } from '../core/control-url.ts'

// Playwright fixtures (`devarno-mocks/playwright`): a `mocks` control client, a `scenario`
// option applied before each test and reset after, and `signIn(context, role)`.
//
// Against mocks already running (MOCKS_CONTROL_URL, else MOCKS_HOST / MOCKS_CONTROL_PORT as the
// server reads them, else http://127.0.0.1:8090), or, with
// `startMocks: true`, mocks started by the worker itself on their usual ports.

export type Role = 'admin' | 'member' | 'child'

export interface MocksFixtures {
  /** Scenario applied before each test (`test.use({ scenario: 'chat-down' })`). */
  scenario: string
  /** The control client: faults, reset, journal, users. */
  mocks: ControlClient
  /** Put a seeded user's signed session cookie into the context (for every fake's origin). */
  signIn: (context: BrowserContext, who: Role | string) => Promise<SeededUserInfo>
}

export interface MocksWorkerFixtures {
  /** Start the mocks inside the worker instead of using running ones. */
  startMocks: boolean
  mocksControlUrl: string
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
      const mocks = await start({ config: loadConfig() })
      await use(mocks.control?.url ?? '')
      await mocks.close()
    },
    { scope: 'worker' },
  ],
  scenario: ['default', { option: true }],
  mocks: [
    async ({ mocksControlUrl, startMocks, scenario }, use) => {
      // Against running mocks, the client finds them itself (and names the variables it read
      // when they do not answer).
      const client = createControlClient(startMocks ? { baseUrl: mocksControlUrl } : {})
      await client.useScenario(scenario)
      await client.clearJournal()
      await use(client)
      await client.reset()
    },
    { auto: true },
  ],
  signIn: async ({ mocks }, use) => {
    await use(async (context, who) => {
      const { users } = await mocks.users()
      const user =
        users.find((u) => u.id === who || u.email === who) ??
        users.find((u) => u.role === who && !u.banned && u.cookieValue)
      if (!user?.cookieValue) throw new Error(`No seeded user with a session for "${who}"`)
      const health = await mocks.health()
      const hosts = new Set<string>(['localhost', '127.0.0.1'])
      for (const s of Object.values(health.services)) if (s.url) hosts.add(new URL(s.url).hostname)
      await context.addCookies(
        [...hosts].map((domain) => ({
          name: user.cookieName,
          value: user.cookieValue!,
          domain,
          path: '/',
          httpOnly: true,
          sameSite: 'Lax' as const,
        })),
      )
      return user
    })
  },
})

export const expect = playwrightExpect

/** Service URLs of running mocks, for a page's config. */
export async function serviceUrls(client: ControlClient): Promise<Partial<Record<ServiceName, string>>> {
  const { services } = await client.health()
  return Object.fromEntries(Object.entries(services).flatMap(([k, v]) => (v.url ? [[k, v.url]] : [])))
}
