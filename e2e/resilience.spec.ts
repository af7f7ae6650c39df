import { expect } from '../mocks/playwright/index.ts'
import {
  chatStates,
  collectPageErrors,
  cutByDown,
  expectBackoff,
  expectInOrder,
  expectNothingReached,
  expectRequestIds,
  gaps,
  journal,
  recordChatStates,
  SUNSET_PNG,
  shot,
  test,
  uploadFile,
  waitForEntries,
} from './helpers.ts'

// Across services: idempotent calls retried with backoff (fail twice, then succeed), and a
// client that degrades gracefully when every backend is unreachable.

test.describe('flaky-retry', () => {
  test.use({ scenario: 'flaky-retry' })

  test('each idempotent call takes 3 GETs (503, 503, 200, 1 s then 2 s apart) and shows its data; the upload is sent once', async ({
    page,
    openClient,
    mocks,
  }) => {
    await openClient()

    // chat history
    await expect(page.getByTestId('history-status')).toHaveText(/history loaded \(\d+ messages\)/)
    await expect(page.getByTestId('messages')).toContainText('Welcome to casa! Say hi 👋')
    const history = await journal(mocks, { service: 'chat', method: 'GET', path: '/api/v1/messages' })
    expect(history.map((e) => e.status)).toEqual([503, 503, 200])
    expectBackoff(gaps(history), [1000, 2000], 'chat history retries')

    // V01T articles: live data, not the stale copy
    await expect(page.getByTestId('articles')).toHaveAttribute('data-source', 'live')
    const articles = await journal(mocks, { service: 'v01t', path: '/trace/flight-path/artefact/' })
    expect(articles.map((e) => e.status)).toEqual([503, 503, 200])
    expectBackoff(gaps(articles), [1000, 2000], 'V01T retries')

    // media: the upload goes once; reading the stored file back is retried
    await uploadFile(page, SUNSET_PNG)
    await expect(page.getByTestId('upload-meta')).toHaveText(
      'stored: image/png, 31.8 KB (after 3 attempts)',
      {
        timeout: 10_000,
      },
    )
    await shot(page, 'flaky-retry')
    expect(
      (await journal(mocks, { service: 'media', method: 'POST', path: '/api/v1/upload' })).map(
        (e) => e.status,
      ),
    ).toEqual([201])
    const reads = (await journal(mocks, { service: 'media', method: 'GET' })).filter((e) =>
      /^\/api\/v1\/files\/[^/]+$/.test(e.path),
    )
    expect(reads.map((e) => e.status)).toEqual([503, 503, 200])
    expectBackoff(gaps(reads), [1000, 2000], 'media metadata retries')
    await expectRequestIds(mocks)
  })
})

test.describe('everything-down', () => {
  test.use({ scenario: 'everything-down' })

  test('degrades gracefully: chat offline after backoff, uploads explain, V01T stale, no page errors', async ({
    page,
    openClient,
    mocks,
  }) => {
    test.setTimeout(45_000)
    const errors = collectPageErrors(page)
    await recordChatStates(page)
    await openClient()

    await expect(page.getByTestId('auth-banner')).toContainText('auth-service unavailable')
    await expect(page.getByTestId('signin')).toBeHidden()
    await expect(page.getByTestId('articles-status')).toHaveText(
      'showing cached data (built-in copy): V01T unreachable (network error)',
    )
    await expect(page.getByTestId('orgs')).toHaveAttribute('data-source', 'static')
    await uploadFile(page, SUNSET_PNG)
    await expect(page.getByTestId('upload-error')).toContainText(
      'media-service unavailable (could not connect)',
    )
    await expect(page.getByTestId('upload-retry')).toBeVisible()
    await expect
      .poll(async () => (await chatStates(page)).map((s) => s.text), { timeout: 15_000 })
      .toContain('offline · polling every 4 s')
    await expect(page.getByTestId('history-status')).toHaveText(
      'message history unavailable — unreachable (network error)',
    )
    await shot(page, 'everything-down')

    expectInOrder(
      (await chatStates(page)).map((s) => s.text),
      [
        'reconnecting in 1 s (attempt 1)',
        'reconnecting in 2 s (attempt 2)',
        'reconnecting in 4 s (attempt 3)',
        'offline · polling every 4 s',
      ],
    )
    // Every service is down (in a tenant: connections cut unanswered): nothing reached any.
    await expectNothingReached(mocks)
    expect(errors).toEqual([])

    // When chat comes back, the next poll succeeds and the client reports polling again.
    await mocks.removeFault('chat-down')
    await mocks.removeFault('auth-down')
    await waitForEntries(
      mocks,
      { service: 'chat', path: '/api/v1/messages' },
      1,
      12_000,
      (e) => !cutByDown(e),
    )
    await expect(page.getByTestId('chat-state')).toHaveText('polling every 2 s')
    await expect(page.getByTestId('messages')).toContainText('Welcome to casa! Say hi 👋')
  })
})
