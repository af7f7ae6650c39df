import { mkdirSync, readFileSync } from 'node:fs'
import type { Page } from '@playwright/test'
import sharp from 'sharp'
import type { ControlClient } from '../mocks/client/index.ts'
import type { JournalEntry } from '../mocks/core/journal.ts'
import { test as base, expect } from '../mocks/playwright/index.ts'

// Shared by the e2e specs: journal queries, backoff assertions, page probes, test files.

/**
 * Screenshots: the committed set in e2e/artifacts/ is refreshed only on purpose
 * (`UPDATE_ARTIFACTS=1 pnpm test:e2e`); ordinary runs write beside Playwright's own output,
 * so running the suite leaves the working tree clean.
 */
/** The suite's `test`: the package's fixtures, plus `openClient(who)`: signed in, on the reference client. */
export const test = base.extend<{ openClient: (who?: string) => Promise<void> }>({
  openClient: async ({ page, context, signIn }, use) => {
    await use(async (who = 'member') => {
      await signIn(context, who)
      await page.goto('/client.html')
    })
  },
})

export const ARTIFACTS = process.env.UPDATE_ARTIFACTS === '1' ? 'e2e/artifacts' : 'test-results/screenshots'

/** The client's jitter bound: a retry waits [nominal, nominal × 1.2]. */
export const JITTER = 0.2
/**
 * What a measured interval may take beyond the client's own timer, for upper bounds only: the
 * browser noticing the failure, the same-origin token call, the handshake, chat's own
 * get-session, and above all a timer firing late on a busy machine. 20-120 ms on an idle
 * 2-core machine; ~760 ms seen with other suites beside it (the chat-ws-flaky run);
 * `stress-ng --cpu 2` beside the two workers is the load this must hold under. Generous on
 * purpose: lower bounds (never early) and growth catch a wrong schedule, not this cap.
 */
export const SLACK_MS = 1500

/** A journal entry as the control API lists it. */
export type Entry = JournalEntry

export async function journal(mocks: ControlClient, filter: Parameters<ControlClient['journal']>[0] = {}) {
  const { entries } = await mocks.journal(filter)
  return (entries as unknown as Entry[]).sort((a, b) => a.seq - b.seq)
}

export const at = (e: Entry) => Date.parse(e.time)

/**
 * A `down` inside a tenant cannot close the listener the other tenants share: the connection
 * is cut unanswered as soon as the tenant is known (the browser sees the same network error as
 * a refused connection), and the journal keeps a line for it. True for such a line.
 */
export const cutByDown = (e: Entry) => e.fault?.type === 'down'

/** Entries the service answered (or held): everything but connections cut by a tenant's `down`. */
export const reached = (entries: Entry[]) => entries.filter((e) => !cutByDown(e))

/** Nothing reached the service: every entry, if any, is a connection its `down` cut. */
export async function expectNothingReached(
  mocks: ControlClient,
  filter: Parameters<ControlClient['journal']>[0] = {},
) {
  const entries = await journal(mocks, filter)
  expect(
    entries.filter((e) => !cutByDown(e)).map((e) => `${e.service} ${e.method} ${e.path} ${e.status}`),
  ).toEqual([])
}

/** WebSocket upgrade attempts to chat (accepted or refused), oldest first. */
export async function upgrades(mocks: ControlClient) {
  return (await journal(mocks, { service: 'chat', path: '/ws', kind: 'http' })).filter(
    (e) => e.method === 'GET',
  )
}

/** Successive differences of entry times. */
export function gaps(entries: Entry[]): number[] {
  return entries.slice(1).map((e, i) => at(e) - at(entries[i]!))
}

/**
 * Backoff judged from the journal's own times, loose where a loaded machine is slow and strict
 * where a client would be wrong:
 * - lower bounds strict: each gap at least its nominal delay (never early; jitter only adds);
 * - growth: each gap at least 1.5x the previous one, the previous taken at most at its own
 *   jitter ceiling (a timer that fired late does not raise the bar for the next gap);
 * - upper bounds loose: the nominal delay plus 20 % jitter plus SLACK_MS.
 * A fixed interval, no backoff or an early retry fails.
 */
export function expectBackoff(measured: number[], nominal: number[], label: string) {
  expect(measured.length, `${label}: gaps measured ${JSON.stringify(measured)}`).toBeGreaterThanOrEqual(
    nominal.length,
  )
  nominal.forEach((d, i) => {
    const g = measured[i]!
    const what = `${label}: gap ${i + 1} (${JSON.stringify(measured)}, nominal ${JSON.stringify(nominal)})`
    expect(g, `${what} came early`).toBeGreaterThanOrEqual(d - 5)
    if (i > 0) {
      const prev = Math.min(measured[i - 1]!, nominal[i - 1]! * (1 + JITTER))
      expect(g, `${what} grew less than 1.5x`).toBeGreaterThanOrEqual(1.5 * prev - 5)
    }
    expect(g, `${what} past the generous cap`).toBeLessThanOrEqual(d * (1 + JITTER) + SLACK_MS)
  })
}

/** Polls the journal until `count` entries match (or the timeout), then returns them. */
export async function waitForEntries(
  mocks: ControlClient,
  filter: Parameters<ControlClient['journal']>[0],
  count: number,
  timeoutMs: number,
  where: (e: Entry) => boolean = () => true,
): Promise<Entry[]> {
  let found: Entry[] = []
  await expect
    .poll(
      async () => {
        found = (await journal(mocks, filter)).filter(where)
        return found.length
      },
      { timeout: timeoutMs, intervals: [100, 250] },
    )
    .toBeGreaterThanOrEqual(count)
  return found
}

/**
 * Every HTTP request the page made (browser user agent; sign-in and get-session reach auth
 * through the demo server, which forwards it) carries X-Request-ID and traceparent.
 * WebSocket upgrades cannot carry headers from a browser, and CORS preflights are the
 * browser's own. The fakes' calls to each other (chat → get-session) are not the page's.
 */
export async function expectRequestIds(mocks: ControlClient) {
  const http = (await journal(mocks, { kind: 'http' })).filter(
    (e) =>
      e.path !== '/ws' &&
      e.method !== 'OPTIONS' &&
      /HeadlessChrome/.test(e.requestHeaders['user-agent'] ?? ''),
  )
  expect(http.length).toBeGreaterThan(0)
  const missing = http
    .filter((e) => !e.requestHeaders['x-request-id'] || !e.requestHeaders.traceparent)
    .map(
      (e) =>
        `${e.service} ${e.method} ${e.path}${e.query} (${e.requestHeaders['user-agent'] ?? 'no user-agent'})`,
    )
  expect(missing, 'requests without X-Request-ID or traceparent').toEqual([])
  for (const e of http) {
    expect(e.requestHeaders['x-request-id'], `${e.service} ${e.method} ${e.path}`).toMatch(
      /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
    )
    expect(e.requestHeaders.traceparent, `${e.service} ${e.method} ${e.path}`).toMatch(
      /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/,
    )
  }
}

/** Records every text the chat state badge shows, with the time, from page load on. */
export async function recordChatStates(page: Page) {
  await page.addInitScript(() => {
    const w = window as unknown as { __states: { t: number; text: string; state: string }[] }
    w.__states = []
    const watch = () => {
      const el = document.getElementById('chat-state')
      if (!el) return
      const note = () => {
        const last = w.__states.at(-1)
        const text = el.textContent ?? ''
        if (last?.text !== text) w.__states.push({ t: Date.now(), text, state: el.dataset.state ?? '' })
      }
      new MutationObserver(note).observe(el, {
        childList: true,
        characterData: true,
        subtree: true,
        attributes: true,
      })
      note()
    }
    document.addEventListener('DOMContentLoaded', watch)
  })
}

export async function chatStates(page: Page): Promise<{ t: number; text: string; state: string }[]> {
  return page.evaluate(
    () => (window as unknown as { __states: { t: number; text: string; state: string }[] }).__states,
  )
}

/** `expected` appears in `texts` in this order (other texts may come between). */
export function expectInOrder(texts: string[], expected: string[]) {
  let i = 0
  for (const t of texts) if (t === expected[i]) i++
  expect(i, `expected ${JSON.stringify(expected)} in order within ${JSON.stringify(texts)}`).toBe(
    expected.length,
  )
}

/** Uncaught errors in the page (a correct client degrades without them). */
export function collectPageErrors(page: Page): Error[] {
  const errors: Error[] = []
  page.on('pageerror', (e) => errors.push(e))
  return errors
}

// ---- test files ----

export const SUNSET_PNG = {
  name: 'sunset.png',
  mimeType: 'image/png',
  buffer: readFileSync(new URL('../fixtures/media/sunset.png', import.meta.url)),
}

/** A PNG of seeded noise (incompressible), `side`×`side` RGB: about 3·side² bytes. */
export async function noisePng(side: number, name: string) {
  const raw = Buffer.alloc(side * side * 3)
  let x = 0x2545f491
  for (let i = 0; i < raw.length; i++) {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    raw[i] = x & 0xff
  }
  const buffer = await sharp(raw, { raw: { width: side, height: side, channels: 3 } })
    .png({ compressionLevel: 0 })
    .toBuffer()
  return { name, mimeType: 'image/png', buffer }
}

export const NOTES_TXT = { name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('shopping list\n') }

export async function uploadFile(
  page: Page,
  file: { name: string; mimeType: string; buffer: Buffer },
  kind: 'file' | 'avatar' = 'file',
) {
  await page.locator('#file-input').setInputFiles(file)
  await page.locator('#upload-type').selectOption(kind)
  await page.getByRole('button', { name: 'Upload', exact: true }).click()
}

/** A full-page screenshot, palette-quantised so the committed set stays small (~40-80 KB each). */
export async function shot(page: Page, name: string) {
  const png = await page.screenshot({ fullPage: true })
  mkdirSync(ARTIFACTS, { recursive: true })
  await sharp(png)
    .png({ palette: true, colours: 128, compressionLevel: 9 })
    .toFile(`${ARTIFACTS}/${name}.png`)
}
