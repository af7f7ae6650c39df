import { expect } from '../mocks/playwright/index.ts'
import {
  at,
  chatStates,
  collectPageErrors,
  type Entry,
  expectBackoff,
  expectInOrder,
  expectNothingReached,
  expectRequestIds,
  gaps,
  journal,
  recordChatStates,
  SLACK_MS,
  SUNSET_PNG,
  shot,
  test,
  upgrades,
  uploadFile,
  waitForEntries,
} from './helpers.ts'

// The matrix's "chat-service Unavailable" rows: WS backoff 1 s, 2 s, 4 s then polling with
// exponential backoff; a rejected session stops reconnecting; auth trouble is a service problem.

test.describe('chat-down', () => {
  test.use({ scenario: 'chat-down' })

  test('WebSocket retries back off 1 s, 2 s, 4 s (+≤20 %), then history is polled with backoff', async ({
    page,
    openClient,
    mocks,
  }) => {
    // 1 + 2 + 4 s of reconnects, then polls 4 s and 8 s apart: up to 23 s with the jitter, more
    // on a loaded machine (every reconnect also asks for a token): generous budgets.
    test.setTimeout(60_000)
    await recordChatStates(page)
    await openClient()

    // Four refused upgrades (the first try + 3 retries), then three polls (4 s, 8 s apart).
    const polls = await waitForEntries(
      mocks,
      { service: 'chat', method: 'GET', path: '/api/v1/messages' },
      3,
      40_000,
    )
    await expect(page.getByTestId('chat-state')).toHaveText('offline · polling every 16 s')
    await expect(page.getByTestId('chat-countdown')).toContainText('next poll in')
    await shot(page, 'chat-down')

    const ws = await upgrades(mocks)
    expect(ws.map((e) => e.status)).toEqual([503, 503, 503, 503])
    expectBackoff(gaps(ws), [1000, 2000, 4000], 'WS reconnects')
    // Polling starts only after the last refused upgrade, at once, then backs off.
    expect(polls.map((e) => e.status)).toEqual([500, 500, 500])
    const sincelastUpgrade = at(polls[0]!) - at(ws[3]!)
    expect(sincelastUpgrade).toBeGreaterThanOrEqual(0)
    expect(sincelastUpgrade).toBeLessThanOrEqual(SLACK_MS)
    expectBackoff([at(polls[1]!) - at(polls[0]!), at(polls[2]!) - at(polls[1]!)], [4000, 8000], 'polling')

    expectInOrder(
      (await chatStates(page)).map((s) => s.text),
      [
        'reconnecting in 1 s (attempt 1)',
        'reconnecting in 2 s (attempt 2)',
        'reconnecting in 4 s (attempt 3)',
        'offline · polling every 4 s',
        'offline · polling every 8 s',
        'offline · polling every 16 s',
      ],
    )
    await expect(page.getByTestId('log')).toContainText('poll failed: HTTP 500 internal_error')
    await expect(page.getByRole('button', { name: 'Send' })).toBeDisabled()
    await expectRequestIds(mocks)
  })
})

test.describe('chat-ws-flaky', () => {
  test.use({ scenario: 'chat-ws-flaky' })

  test('every cut connection is retried with backoff, rejoins and reloads history; then it polls', async ({
    page,
    openClient,
    mocks,
  }) => {
    test.setTimeout(60_000)
    await recordChatStates(page)
    await openClient()
    await expect(page.getByTestId('messages')).toContainText('Welcome to casa! Say hi 👋')
    // Sockets live 2 s at most, so the backoff never resets: after 4 failures, REST polling
    // (about 17 s with the jitter; more on a loaded machine).
    await expect(page.getByTestId('chat-state')).toHaveText('polling every 2 s', { timeout: 35_000 })
    await expect(page.getByTestId('messages')).toContainText('Welcome to casa! Say hi 👋')
    await shot(page, 'chat-ws-flaky')

    const events = await journal(mocks, { service: 'chat' })
    const tries = events.filter((e) => e.kind === 'http' && e.path === '/ws')
    expect(tries).toHaveLength(4)
    // When each attempt ended: the refused upgrade itself, or the cut of the opened socket.
    const ends: Entry[] = []
    for (const t of tries) {
      if (t.status !== 200) {
        ends.push(t)
        continue
      }
      const close = events.find((e) => e.kind === 'ws-close' && e.seq > t.seq)
      expect(close, 'an accepted socket is cut by the fault').toBeDefined()
      expect(at(close!) - at(t)).toBeGreaterThanOrEqual(1900)
      ends.push(close!)
      // On every open: join first, then the missed history is reloaded.
      const firstIn = events.find((e) => e.kind === 'ws-in' && e.seq > t.seq)
      expect(firstIn?.frame).toBe('{"type":"join","channel":"general"}')
      const reload = events.find(
        (e) => e.kind === 'http' && e.path === '/api/v1/messages' && e.seq > t.seq && e.seq < close!.seq,
      )
      expect(reload?.status, 'history reloaded while connected').toBe(200)
    }
    expect(ends.length).toBe(4)
    expect(tries.some((t) => t.status === 200)).toBe(true)
    expectBackoff(
      tries.slice(1).map((t, i) => at(t) - at(ends[i]!)),
      [1000, 2000, 4000],
      'reconnect after each failure',
    )
    const texts = (await chatStates(page)).map((s) => s.text)
    expect(texts).toContain('connected')
    expectInOrder(texts, [
      'reconnecting in 1 s (attempt 1)',
      'reconnecting in 2 s (attempt 2)',
      'reconnecting in 4 s (attempt 3)',
      'polling every 2 s',
    ])
    await expectRequestIds(mocks)
  })
})

test.describe('chat-rest-500', () => {
  test.use({ scenario: 'chat-rest-500' })

  test('history 500s are logged and retried with backoff while the WebSocket keeps working', async ({
    page,
    openClient,
    mocks,
  }) => {
    await openClient()
    await expect(page.getByTestId('chat-state')).toHaveText('connected')
    const gets = await waitForEntries(
      mocks,
      { service: 'chat', method: 'GET', path: '/api/v1/messages' },
      4,
      12_000,
    )
    expect(gets.slice(0, 4).map((e) => e.status)).toEqual([500, 500, 500, 500])
    expectBackoff(gaps(gets.slice(0, 4)), [1000, 2000, 4000], 'history retries')
    await expect(page.getByTestId('history-status')).toHaveText(
      'message history unavailable — HTTP 500 internal_error: Internal server error',
    )
    await expect(page.getByTestId('history-countdown')).toContainText('retrying in')
    await expect(page.getByTestId('log')).toContainText('history: HTTP 500 internal_error')

    // Live messages still flow over the WebSocket.
    await page.getByRole('textbox', { name: 'Message' }).fill('still here over the socket')
    await page.getByRole('button', { name: 'Send' }).click()
    await expect(page.getByTestId('messages')).toContainText('still here over the socket')
    const sent = (await journal(mocks, { service: 'chat', kind: 'ws-in' })).filter((e) =>
      e.frame?.includes('still here over the socket'),
    )
    expect(sent).toHaveLength(1)

    // "Retry now" skips the wait.
    const before = (await journal(mocks, { service: 'chat', path: '/api/v1/messages' })).length
    await page.getByRole('button', { name: 'Retry now' }).click()
    await waitForEntries(mocks, { service: 'chat', path: '/api/v1/messages' }, before + 1, 2000)
    await shot(page, 'chat-rest-500')
    await expectRequestIds(mocks)
  })
})

test.describe('chat-auth-rejected', () => {
  test.use({ scenario: 'chat-auth-rejected' })

  test('a rejected session asks to sign in and never touches chat', async ({ page, openClient, mocks }) => {
    await openClient()
    await expect(page.getByTestId('signin')).toBeVisible()
    await expect(page.getByTestId('signin-reason')).toHaveText('Sign in to chat and upload files.')
    await page.waitForTimeout(3000)
    expect(await upgrades(mocks)).toEqual([])
    const checks = await journal(mocks, { service: 'auth', path: '/api/auth/get-session' })
    expect(checks.map((e) => e.status)).toEqual([401])
    await shot(page, 'chat-auth-rejected')
  })

  test('a session rejected mid-way stops reconnecting and redirects to sign-in', async ({
    page,
    openClient,
    mocks,
  }) => {
    await recordChatStates(page)
    await mocks.useScenario('default')
    await openClient()
    await expect(page.getByTestId('chat-state')).toHaveText('connected')
    await mocks.clearJournal()

    // The switch closes every socket (1012); reconnecting finds the session rejected.
    await mocks.useScenario('chat-auth-rejected')
    await expect(page.getByTestId('signin')).toBeVisible()
    await expect(page.getByTestId('signin-reason')).toContainText(
      'Your session is no longer valid: sign in again',
    )
    await expect(page.getByTestId('chat-state')).toHaveText('signed out')
    const settled = (await upgrades(mocks)).length
    await page.waitForTimeout(5000)
    const tries = await upgrades(mocks)
    // At most the one attempt already scheduled when the close came; refused with 401, then none.
    expect(tries.length).toBe(settled)
    expect(tries.length).toBeLessThanOrEqual(1)
    for (const t of tries) expect(t.status).toBe(401)
    const checks = await journal(mocks, { service: 'auth', path: '/api/auth/get-session' })
    expect(checks.some((e) => e.status === 401)).toBe(true)
    expectInOrder(
      (await chatStates(page)).map((s) => s.text),
      ['connected', 'reconnecting in 1 s (attempt 1)', 'signed out'],
    )
    await shot(page, 'chat-auth-rejected-midway')
  })
})

test.describe('auth-down', () => {
  test.use({ scenario: 'auth-down' })

  test('an auth outage is a service problem: no sign-in redirect, chat backs off, uploads explain', async ({
    page,
    openClient,
    mocks,
  }) => {
    const errors = collectPageErrors(page)
    await openClient()
    await expect(page.getByTestId('auth-banner')).toContainText('auth-service unavailable')
    await expect(page.getByTestId('auth-banner')).toContainText('HTTP 503 AUTH_SERVICE_UNAVAILABLE')
    const ws = await waitForEntries(mocks, { service: 'chat', path: '/ws', kind: 'http' }, 3, 8000)
    expect(ws.map((e) => e.status)).toEqual([503, 503, 503])
    expectBackoff(gaps(ws), [1000, 2000], 'WS reconnects')
    await expect(page.getByTestId('signin')).toBeHidden()
    await expect(page.getByTestId('chat-state')).toHaveText(/reconnecting in \d s \(attempt \d\)/)

    await uploadFile(page, SUNSET_PNG)
    await expect(page.getByTestId('upload-error')).toContainText(
      'media-service unavailable: it cannot check your session (auth_unavailable)',
    )
    await expect(page.getByTestId('upload-retry')).toBeVisible()
    // V01T is public: unaffected.
    await expect(page.getByTestId('articles')).toHaveAttribute('data-source', 'live')
    await shot(page, 'auth-down')
    // The auth service is down (in a tenant: its connections cut unanswered): nothing reached it.
    await expectNothingReached(mocks, { service: 'auth' })
    expect(errors).toEqual([])
  })
})

test.describe('default: half-open socket', () => {
  test.use({ scenario: 'default' })

  test('a socket that stops answering pings is given up after 5 s and reconnected', async ({
    page,
    openClient,
    mocks,
  }) => {
    test.setTimeout(45_000)
    await openClient()
    await expect(page.getByTestId('chat-state')).toHaveText('connected')
    // From the next ping on, the server sends nothing (no pong, no close): half-open.
    await mocks.addFault({
      id: 'silent',
      service: 'chat',
      match: { ws: 'ping' },
      effect: { type: 'ws-silence' },
    })
    const ping = (
      await waitForEntries(
        mocks,
        { service: 'chat', kind: 'ws-in' },
        1,
        15_000,
        (e) => e.frame === '{"type":"ping"}',
      )
    )[0]!
    await mocks.removeFault('silent')
    await expect(page.getByTestId('log')).toContainText('no pong within 5 s: connection is dead', {
      timeout: 10_000,
    })
    const next = (await waitForEntries(mocks, { service: 'chat', path: '/ws', kind: 'http' }, 2, 10_000))[1]!
    // 5 s without a pong, then the first reconnect (1 s + jitter).
    const waited = at(next) - at(ping)
    expect(waited).toBeGreaterThanOrEqual(6000)
    expect(waited).toBeLessThanOrEqual(5000 + 1200 + SLACK_MS)
    const pongs = (await journal(mocks, { service: 'chat', kind: 'ws-out' })).filter(
      (e) => e.frame === '{"type":"pong"}' && e.seq > ping.seq && e.seq < next.seq,
    )
    expect(pongs).toEqual([])
    await expect(page.getByTestId('chat-state')).toHaveText('connected')
  })
})
