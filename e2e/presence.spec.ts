import type { BrowserContext, Page } from '@playwright/test'
import type { ControlClient } from '../mocks/client/index.ts'
import { expect } from '../mocks/playwright/index.ts'
import { at, collectPageErrors, gaps, test, waitForEntries } from './helpers.ts'

// Issue 20 item 3: presence kept in Upstash (client.html?presence=upstash). The demo server
// records a heartbeat per member in an Upstash hash and lists who was seen recently; when
// Upstash fails it answers 503 presence_unavailable and the client shows members as unknown
// (never offline), polling at its own pace, and recovers when Upstash is back.

const UPSTASH_CLIENT = '/client.html?presence=upstash'
/** The client's presence poll (client.js PRESENCE_POLL_MS). */
const POLL_MS = 5000

async function openUpstashClient(page: Page, context: BrowserContext, signIn: SignIn, who: string) {
  await signIn(context, who)
  await page.goto(UPSTASH_CLIENT)
  await expect(page.getByTestId('chat-state')).toHaveText('connected')
  await expect(page.locator('#presence')).toHaveAttribute('data-store', 'upstash')
}
type SignIn = (context: BrowserContext, who: string) => Promise<unknown>

/** The first presence answer of the page (heartbeat or list) with its status and body. */
function presenceAnswer(page: Page) {
  return page
    .waitForResponse((r) => new URL(r.url()).pathname.startsWith('/api/presence'))
    .then(async (r) => ({ status: r.status(), body: (await r.json()) as { code?: string; error?: string } }))
}

async function expectUnknownNeverOffline(page: Page) {
  const rows = page.locator('#presence li')
  await expect(page.locator('#presence li[data-user="usr_member"]')).toHaveText(
    'Milo Member — unknown (presence unavailable)',
  )
  await expect(page.locator('#presence li[data-user="usr_member2"]')).toHaveText(
    'Maya Member — unknown (presence unavailable)',
  )
  expect(await rows.count()).toBeGreaterThan(1)
  await expect(page.locator('#presence li.offline')).toHaveCount(0)
  await expect(page.locator('#presence li.online')).toHaveCount(0)
  await expect(page.locator('#presence li.unknown')).toHaveCount(await rows.count())
}

/** Upstash calls (the demo server's /pipeline), oldest first. */
const upstashCalls = (mocks: ControlClient, count: number, timeoutMs: number) =>
  waitForEntries(mocks, { service: 'upstash', method: 'POST', path: '/pipeline' }, count, timeoutMs)

test.describe('default: presence through Upstash', () => {
  test.use({ scenario: 'default' })

  test('two clients see each other through Upstash', async ({ page, context, browser, signIn, mocks }) => {
    const errors = collectPageErrors(page)
    await openUpstashClient(page, context, signIn, 'usr_member')
    await expect(page.locator('#presence li[data-user="usr_member"]')).toHaveText('Milo Member — online')
    await expect(page.locator('#presence li[data-user="usr_member2"]')).toHaveText('Maya Member — offline')

    // A second browser (another "instance" of the app), its own cookies, the same Upstash.
    const other = await browser.newContext()
    try {
      const maya = await other.newPage()
      await openUpstashClient(maya, other, signIn, 'usr_member2')
      await expect(maya.locator('#presence li[data-user="usr_member"]')).toHaveText('Milo Member — online')
      await expect(maya.locator('#presence li[data-user="usr_member2"]')).toHaveText('Maya Member — online')
      // Milo's page learns of Maya at its next poll, from Upstash.
      await expect(page.locator('#presence li[data-user="usr_member2"]')).toHaveText('Maya Member — online', {
        timeout: POLL_MS + 5000,
      })
    } finally {
      await other.close()
    }
    // Heartbeats (HSET + EXPIRE) and lists (HGETALL) went to Upstash and were answered.
    const calls = await upstashCalls(mocks, 4, 5000)
    expect(calls.every((e) => e.status === 200)).toBe(true)
    expect(errors).toEqual([])
  })
})

type Degraded = 'upstash-down' | 'upstash-rate-limited'
const DEGRADED_TITLE = 'members are shown as unknown, never offline; chat keeps working; presence comes back'

/** One test body for both Upstash failures (the scenario's fault id is its name). */
async function degraded(
  scenario: Degraded,
  {
    page,
    context,
    signIn,
    mocks,
  }: { page: Page; context: BrowserContext; signIn: SignIn; mocks: ControlClient },
) {
  const errors = collectPageErrors(page)
  const answer = presenceAnswer(page)
  await openUpstashClient(page, context, signIn, 'usr_member')
  expect(await answer).toMatchObject({ status: 503, body: { code: 'presence_unavailable' } })
  await expectUnknownNeverOffline(page)
  await expect(page.getByTestId('messages')).toContainText('Welcome to casa! Say hi 👋')

  if (scenario === 'upstash-rate-limited') {
    // Upstash's own 429, and no tight retry loop: one heartbeat per poll.
    const calls = await upstashCalls(mocks, 2, POLL_MS + 5000)
    expect(calls.map((e) => e.status)).toEqual(calls.map(() => 429))
    // (Measured at the Upstash end: each heartbeat first asks auth for the session, whose
    // time varies, so a gap may be a little under the client's 5 s timer.)
    for (const g of gaps(calls)) expect(g).toBeGreaterThanOrEqual(POLL_MS - 1000)
    // Still unknown after another failed poll.
    await expectUnknownNeverOffline(page)
  }

  // Upstash is back: the next poll shows presence again.
  const since = Date.now()
  await mocks.removeFault(scenario)
  await expect(page.locator('#presence li[data-user="usr_member"]')).toHaveText('Milo Member — online', {
    timeout: POLL_MS + 5000,
  })
  await expect(page.locator('#presence li[data-user="usr_member2"]')).toHaveText('Maya Member — offline')
  const ok = (await upstashCalls(mocks, 1, 5000)).filter((e) => e.status === 200)
  expect(ok.length).toBeGreaterThan(0)
  expect(at(ok[0]!)).toBeGreaterThanOrEqual(since - 1000)
  expect(errors).toEqual([])
}

test.describe('upstash-down', () => {
  test.use({ scenario: 'upstash-down' })
  test(DEGRADED_TITLE, ({ page, context, signIn, mocks }) =>
    degraded('upstash-down', { page, context, signIn, mocks }),
  )
})

test.describe('upstash-rate-limited', () => {
  test.use({ scenario: 'upstash-rate-limited' })
  test(DEGRADED_TITLE, ({ page, context, signIn, mocks }) =>
    degraded('upstash-rate-limited', { page, context, signIn, mocks }),
  )
})
