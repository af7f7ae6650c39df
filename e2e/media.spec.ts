import { expect } from '../mocks/playwright/index.ts'
import {
  expectNothingReached,
  expectRequestIds,
  journal,
  NOTES_TXT,
  noisePng,
  reached,
  SUNSET_PNG,
  shot,
  test,
  uploadFile,
  waitForEntries,
} from './helpers.ts'

// The matrix's "media-service Unavailable" rows: a service-specific message instead of a
// generic "Failed to upload file", a retry the user starts (uploads are never retried by
// themselves), and a 30 s upload timeout.

const UPLOADS = { service: 'media', method: 'POST', path: '/api/v1/upload' }

test.describe('media-down', () => {
  test.use({ scenario: 'media-down' })

  test('says media-service is unavailable and retries when asked, once it is back', async ({
    page,
    openClient,
    mocks,
  }) => {
    await openClient()
    await uploadFile(page, SUNSET_PNG)
    await expect(page.getByTestId('upload-error')).toContainText(
      'media-service unavailable (could not connect)',
    )
    await expect(page.getByTestId('upload-retry')).toBeVisible()
    await shot(page, 'media-down')
    await page.waitForTimeout(1500)
    // Connection refused (in a tenant: cut unanswered): nothing reached the service, and
    // nothing was retried behind our back.
    // One call of the client's (one request id; Chromium may repeat a request whose keep-alive
    // connection was cut, at once, with the same headers).
    const cut = await journal(mocks, { service: 'media' })
    expect(new Set(cut.map((e) => e.requestHeaders['x-request-id'])).size).toBe(1)
    await expectNothingReached(mocks, { service: 'media' })
    await expect(page.getByTestId('log')).toContainText('upload failed: media-service unavailable')

    await mocks.removeFault('media-down')
    await page.getByRole('button', { name: 'Retry upload' }).click()
    await expect(page.getByTestId('upload-result')).toContainText('uploaded sunset.png (31.8 KB)')
    expect(reached(await journal(mocks, UPLOADS)).map((e) => e.status)).toEqual([201])
    await expectRequestIds(mocks)
  })
})

test.describe('media-slow', () => {
  test.use({ scenario: 'media-slow' })

  test('gives up after the real 30 s timeout, says so, and offers a retry', async ({
    page,
    openClient,
    mocks,
  }) => {
    test.setTimeout(60_000)
    await openClient()
    await expect(page.getByTestId('chat-state')).toHaveText('connected')
    const started = Date.now()
    await uploadFile(page, SUNSET_PNG)
    await expect(page.getByTestId('upload-progress')).toHaveText(/uploading… \d+ s/)
    await expect(page.getByTestId('upload-error')).toContainText('upload timed out after 30 s', {
      timeout: 40_000,
    })
    const waited = Date.now() - started
    expect(waited).toBeGreaterThanOrEqual(30_000)
    // Under the fault's 35 s: the client gave up at its own 30 s, it did not wait for the answer.
    expect(waited).toBeLessThan(35_000)
    await expect(page.getByTestId('upload-retry')).toBeVisible()
    await shot(page, 'media-slow')
    // One upload reached the service (the fault fires when it arrives; the journal records it
    // only when the 35 s latency is over) and it was not sent again.
    const fired = async () => (await mocks.faults()).faults.find((f) => f.id === 'media-upload-slow')?.fired
    expect(await fired()).toBe(1)
    await page.waitForTimeout(2000)
    expect(await fired()).toBe(1)
    await expect(page.getByTestId('log')).toContainText(
      /upload failed: upload timed out after 30 s \[timed out after 30 s, request [0-9a-f-]{36}\]/,
    )
  })
})

test.describe('media-upload-500', () => {
  test.use({ scenario: 'media-upload-500' })

  test('a 500 reads as a media-service error with a retry; uploads are never retried alone', async ({
    page,
    openClient,
    mocks,
  }) => {
    await openClient()
    await uploadFile(page, SUNSET_PNG)
    await expect(page.getByTestId('upload-error')).toContainText(
      'media-service error (HTTP 500 internal_error: Internal server error)',
    )
    await expect(page.getByTestId('upload-retry')).toBeVisible()
    await shot(page, 'media-upload-500')
    await page.waitForTimeout(2500)
    expect((await journal(mocks, UPLOADS)).map((e) => e.status)).toEqual([500])
    await page.getByRole('button', { name: 'Retry upload' }).click()
    await waitForEntries(mocks, UPLOADS, 2, 5000)
    await expect(page.getByTestId('upload-error')).toContainText('media-service error (HTTP 500')
    expect((await journal(mocks, UPLOADS)).map((e) => e.status)).toEqual([500, 500])
    await expectRequestIds(mocks)
  })
})

test.describe('media-limits', () => {
  test.use({ scenario: 'media-limits' })

  test('413 names the limit in force, 415 the allowed types; neither offers a pointless retry', async ({
    page,
    openClient,
    mocks,
  }) => {
    await openClient()

    await uploadFile(page, await noisePng(256, 'big-photo.png')) // ~192 KB > 100 KiB
    await expect(page.getByTestId('upload-error')).toContainText('file too large (max 100 KB)')
    await expect(page.getByTestId('upload-retry')).toBeHidden()
    await shot(page, 'media-limits-413')

    await uploadFile(page, NOTES_TXT)
    await expect(page.getByTestId('upload-error')).toContainText(
      'type not allowed (allowed: JPEG, PNG, GIF, WebP, PDF, MP4, WebM)',
    )
    await expect(page.getByTestId('upload-retry')).toBeHidden()

    await uploadFile(page, SUNSET_PNG, 'avatar') // 31.8 KB > 10 KiB avatar limit
    await expect(page.getByTestId('upload-error')).toContainText('file too large (max 10 KB)')

    await uploadFile(page, SUNSET_PNG, 'file') // within 100 KiB
    await expect(page.getByTestId('upload-result')).toContainText('uploaded sunset.png')
    await expect(page.getByTestId('upload-error')).toBeHidden()

    expect((await journal(mocks, UPLOADS)).map((e) => e.status)).toEqual([413, 415, 413, 201])
    await expectRequestIds(mocks)
  })
})
