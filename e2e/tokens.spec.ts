import type { Page } from '@playwright/test'
import WebSocket from 'ws'
import type { ControlClient } from '../mocks/client/index.ts'
import { expect } from '../mocks/playwright/index.ts'
import { at, collectPageErrors, type Entry, journal, test, upgrades, waitForEntries } from './helpers.ts'

// Issue 20 item 2: ephemeral WS tokens. The client asks its server for a token before every
// connect (GET /api/chat/ws-token, which POSTs the auth service's /api/auth/ws-token) and opens
// the socket with ?token=<JWT>; chat checks signature and expiry alone.

const JWT = /^[\w-]+\.[\w-]+\.[\w-]+$/

/** The `?token=` of an upgrade, as the journal recorded the query. */
function tokenOf(e: Entry): string {
  return new URLSearchParams(e.query.replace(/^\?/, '')).get('token') ?? ''
}

function claimsOf(jwt: string): { sub: string; sid: string; iat: number; exp: number } {
  return JSON.parse(Buffer.from(jwt.split('.')[1] ?? '', 'base64url').toString('utf8'))
}

/** Upgrades the page made (the browser's user agent; not this spec's own Node sockets). */
const pageUpgrades = async (mocks: ControlClient) =>
  (await upgrades(mocks)).filter((e) => /HeadlessChrome/.test(e.requestHeaders['user-agent'] ?? ''))

/** Waits for a page upgrade after `afterSeq` that was accepted, then for the client to show it. */
async function reconnected(page: Page, mocks: ControlClient, afterSeq: number) {
  await expect
    .poll(async () => (await pageUpgrades(mocks)).some((e) => e.seq > afterSeq && e.status !== 401), {
      timeout: 15_000,
    })
    .toBe(true)
  await expect(page.getByTestId('chat-state')).toHaveText('connected', { timeout: 15_000 })
}

/** Token issues by the auth service, oldest first. */
const tokenIssues = (mocks: ControlClient) =>
  journal(mocks, { service: 'auth', method: 'POST', path: '/api/auth/ws-token' })

/** Opens a socket from Node: the status and envelope of a refused handshake, or 'open'. */
async function tryUpgrade(mocks: ControlClient, token: string) {
  const chatUrl = (await mocks.health()).services.chat!.url!.replace('http', 'ws')
  const ws = new WebSocket(`${chatUrl}/ws?token=${encodeURIComponent(token)}`)
  try {
    return await new Promise<{ status: number; body: { error?: string; code?: string } } | 'open'>(
      (resolve, reject) => {
        ws.once('open', () => resolve('open'))
        ws.once('unexpected-response', (_req, res) => {
          let text = ''
          res.on('data', (d: Buffer) => {
            text += d.toString('utf8')
          })
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text || '{}') }))
        })
        ws.once('error', reject)
      },
    )
  } finally {
    ws.terminate()
  }
}

/** Cuts the client's open socket at its next frame (1006, as a network drop); it reconnects. */
async function dropOnce(page: Page, mocks: ControlClient) {
  const before = (await journal(mocks, { service: 'chat', path: '/ws', kind: 'ws-close' })).length
  const fault = await mocks.addFault({
    service: 'chat',
    match: { ws: 'message' },
    effect: { type: 'ws-drop', code: 1006 },
    times: 1,
  })
  try {
    // Typing sends a frame on the socket: the fault cuts it there.
    await page.getByRole('textbox', { name: 'Message' }).pressSequentially('x')
    const closes = await waitForEntries(
      mocks,
      { service: 'chat', path: '/ws', kind: 'ws-close' },
      before + 1,
      5000,
    )
    return closes.at(-1)!.seq
  } finally {
    await mocks.removeFault(fault.id).catch(() => undefined)
  }
}

/**
 * Every upgrade the page made carried a JWT for this user, fetched right before it (after the
 * previous upgrade) and used at once. With `mayExpire`, an upgrade may be refused, but only
 * when its token had really expired by the server's clock (tokens carry whole seconds, exp
 * rounded up: a 1 s token lives 1-2 s); the client then tries again with a new token.
 */
async function expectFreshTokenPerConnect(
  mocks: ControlClient,
  user: string,
  cookieValue: string,
  mayExpire = false,
) {
  const ups = await pageUpgrades(mocks)
  const issues = await tokenIssues(mocks)
  expect(issues.map((e) => e.status)).toEqual(ups.map(() => 200))
  const tokens = ups.map(tokenOf)
  for (const [i, up] of ups.entries()) {
    const token = tokens[i]!
    expect(token, `upgrade ${i + 1}: ${up.query}`).toMatch(JWT)
    expect(token).not.toBe(cookieValue)
    const claims = claimsOf(token)
    expect(claims.sub).toBe(user)
    const issue = issues[i]!
    expect(issue.seq).toBeLessThan(up.seq)
    if (i > 0) expect(issue.seq).toBeGreaterThan(ups[i - 1]!.seq)
    expect(at(up) - at(issue), `upgrade ${i + 1}: token used at once`).toBeLessThan(1000)
    if (up.status === 401) {
      expect(mayExpire, `upgrade ${i + 1} refused`).toBe(true)
      expect(at(up), `upgrade ${i + 1} refused before its token expired`).toBeGreaterThanOrEqual(
        claims.exp * 1000,
      )
    }
  }
  expect(ups.at(-1)?.status, 'the last upgrade was accepted').not.toBe(401)
  expect(new Set(tokens).size, 'a new token for every connect').toBe(tokens.length)
  return { ups, issues, tokens }
}

/**
 * The client opened for Milo (usr_member) until connected; `freshTokens()` checks every connect
 * so far with expectFreshTokenPerConnect, `errors` collects the page's errors.
 */
async function openAsMilo(
  page: Page,
  openClient: () => Promise<void>,
  mocks: ControlClient,
  mayExpire = false,
) {
  const errors = collectPageErrors(page)
  const milo = (await mocks.users()).users.find((u) => u.id === 'usr_member')!
  await openClient()
  await reconnected(page, mocks, 0)
  return {
    errors,
    freshTokens: () => expectFreshTokenPerConnect(mocks, milo.id, milo.cookieValue!, mayExpire),
  }
}

async function sendAndSee(page: Page, mocks: ControlClient, text: string) {
  await page.getByRole('textbox', { name: 'Message' }).fill(text)
  await page.getByRole('button', { name: 'Send' }).click()
  await expect(page.getByTestId('messages')).toContainText(text)
  const frames = await journal(mocks, { service: 'chat', path: '/ws', kind: 'ws-in' })
  expect(frames.some((f) => f.frame?.includes(JSON.stringify(text)))).toBe(true)
}

test.describe('chat-ws-ephemeral', () => {
  test.use({ scenario: 'chat-ws-ephemeral' })

  test('the client connects with a fresh ephemeral JWT each time; the chat works', async ({
    page,
    openClient,
    mocks,
  }) => {
    const { errors, freshTokens } = await openAsMilo(page, openClient, mocks)
    await expect(page.getByTestId('messages')).toContainText('Welcome to casa! Say hi 👋')

    const first = await freshTokens()
    expect(first.ups).toHaveLength(1)
    const claims = claimsOf(first.tokens[0]!)
    expect([60, 61]).toContain(claims.exp - claims.iat) // exp rounds up: at least 60 s
    await sendAndSee(page, mocks, 'hello over an ephemeral token')

    // A drop: the reconnect asks for a new token first (never reuses the old one).
    const dropped = await dropOnce(page, mocks)
    await reconnected(page, mocks, dropped)
    const again = await freshTokens()
    expect(again.ups).toHaveLength(2)
    await sendAndSee(page, mocks, 'and again after the reconnect')
    expect(errors).toEqual([])
  })

  test('the raw session token is refused: 401 ws_token_required', async ({ mocks }) => {
    const maya = (await mocks.users()).users.find((u) => u.id === 'usr_member2')!
    const refused = await tryUpgrade(mocks, maya.cookieValue!)
    expect(refused).toMatchObject({ status: 401, body: { code: 'ws_token_required' } })
    const ups = await upgrades(mocks)
    expect(ups.map((e) => e.status)).toEqual([401])
  })
})

test.describe('chat-ws-token-expired', () => {
  test.use({ scenario: 'chat-ws-token-expired' })

  test('1 s tokens: the client connects at once, and again with a new token after a drop; a cached token is refused', async ({
    page,
    openClient,
    mocks,
  }) => {
    const { errors, freshTokens } = await openAsMilo(page, openClient, mocks, true)
    const first = await freshTokens()
    const cached = first.tokens.at(-1)!
    const claims = claimsOf(cached)
    expect([1, 2]).toContain(claims.exp - claims.iat)

    // The token has expired; the open socket stays (expiry is checked at the handshake) ...
    await page.waitForTimeout(2100)
    await expect(page.getByTestId('chat-state')).toHaveText('connected')
    await sendAndSee(page, mocks, 'still here after my token expired')

    // ... and that cached token is refused, as a client reusing it would be.
    const refused = await tryUpgrade(mocks, cached)
    expect(refused).toMatchObject({ status: 401, body: { code: 'ws_token_expired' } })
    const uses = (await upgrades(mocks)).filter((e) => tokenOf(e) === cached)
    expect(uses.map((e) => e.status === 401)).toEqual([false, true])

    // After a drop the client fetches a new token and connects with it at once.
    const dropped = await dropOnce(page, mocks)
    await reconnected(page, mocks, dropped)
    const after = await freshTokens()
    expect(after.ups.length).toBeGreaterThan(first.ups.length)
    await sendAndSee(page, mocks, 'back with a fresh token')
    expect(errors).toEqual([])
  })
})
