import { expect, test } from '../mocks/playwright/index.ts'
import { shot, waitForEntries } from './helpers.ts'

// The presenter's view at /: switches and the scenario picker drive the control API; the
// journal tails live; the client beside it reacts.

test.describe('dashboard', () => {
  test.use({ scenario: 'default', viewport: { width: 1600, height: 1000 } })

  test('a presenter switches faults and scenarios and watches the client react', async ({
    page,
    context,
    signIn,
    mocks,
  }) => {
    test.setTimeout(45_000)
    await signIn(context, 'member')
    await page.goto('/')
    const client = page.frameLocator('#client')
    await expect(page.getByTestId('current-scenario')).toHaveText('default')
    await expect(page.getByTestId('journal-status')).toHaveText('live')
    await expect(client.getByTestId('chat-state')).toHaveText('connected')
    // The journal tail shows the client's own calls as they happen.
    await expect(page.getByTestId('journal')).toContainText('GET /trace/flight-path/artefact/')
    await expect(page.getByTestId('faults')).toHaveText('none: every service healthy')

    // chat: 5xx on → every chat request answers 503; the client backs off.
    const chat5xx = page.getByRole('button', { name: 'chat 5xx' })
    await expect(chat5xx).toHaveAttribute('aria-pressed', 'false')
    await chat5xx.click()
    await expect(chat5xx).toHaveAttribute('aria-pressed', 'true')
    expect((await mocks.faults()).faults.map((f) => [f.id, f.service, f.effect])).toEqual([
      ['demo-chat-5xx', 'chat', { type: 'status', status: 503 }],
    ])
    await expect(page.getByTestId('faults')).toContainText('chat: status 503 · runtime · active')
    // Open sockets are untouched by an HTTP fault: drop them too, as a presenter would.
    await page.getByRole('button', { name: 'chat WS drop' }).click()
    await expect(client.getByTestId('chat-state')).toHaveText(/reconnecting in \d s \(attempt \d\)/, {
      timeout: 15_000,
    })
    await expect(page.getByTestId('journal')).toContainText('GET /ws')
    await shot(page, 'dashboard-chat-5xx')
    const [refused] = await waitForEntries(
      mocks,
      { service: 'chat', path: '/ws', kind: 'http' },
      1,
      5000,
      (e) => e.status === 503,
    )
    expect(refused!.fault?.id).toBe('demo-chat-5xx')

    // Both off → the next retry connects.
    await chat5xx.click()
    await expect(chat5xx).toHaveAttribute('aria-pressed', 'false')
    await page.getByRole('button', { name: 'chat WS drop' }).click()
    await expect(page.getByRole('button', { name: 'chat WS drop' })).toHaveAttribute('aria-pressed', 'false')
    await expect.poll(async () => (await mocks.faults()).faults).toEqual([])
    await expect(client.getByTestId('chat-state')).toHaveText('connected', { timeout: 10_000 })

    // Scenario picker: v01t-500, then the client's Reload shows the stale copy.
    await page.getByTestId('scenario-select').selectOption('v01t-500')
    await page.getByRole('button', { name: 'Apply' }).click()
    await expect(page.getByTestId('current-scenario')).toHaveText('v01t-500')
    await expect(page.getByTestId('scenario-description')).toContainText('V01T answers 500')
    expect((await mocks.health()).scenario).toBe('v01t-500')
    await client.getByRole('button', { name: 'Reload' }).click()
    await expect(client.getByTestId('articles-status')).toContainText('showing cached data', {
      timeout: 10_000,
    })
    await expect(
      page.getByTestId('journal').locator('tr', { hasText: '/trace/flight-path/artefact/' }).first(),
    ).toContainText('500')
    await shot(page, 'dashboard-v01t-500')

    // media 413 switch: the upload is refused with 413 and the client names the limit.
    await page.getByRole('button', { name: 'media 413' }).click()
    await expect(page.getByRole('button', { name: 'media 413' })).toHaveAttribute('aria-pressed', 'true')
    await client.locator('#file-input').setInputFiles({
      name: 'tiny.png',
      mimeType: 'image/png',
      buffer: Buffer.from('89504e470d0a1a0a', 'hex'),
    })
    await client.getByRole('button', { name: 'Upload', exact: true }).click()
    await expect(client.getByTestId('upload-error')).toContainText('file too large (max 10 MB)')

    // Reset: back to the scenario's faults only.
    await page.getByRole('button', { name: 'Reset', exact: true }).click()
    await expect(page.getByRole('button', { name: 'media 413' })).toHaveAttribute('aria-pressed', 'false')
    expect((await mocks.faults()).faults.map((f) => f.id)).toEqual(['v01t-500'])
  })

  test('every switch of the panel installs a fault the engine accepts, and removes it', async ({
    page,
    mocks,
  }) => {
    await page.goto('/')
    const switches = page.locator('button.switch')
    // down and latency for the four HTTP services and db, 5xx for the four, media 413, chat WS
    // drop, db reset.
    await expect(switches).toHaveCount(5 * 2 + 4 + 3)
    // Each switch sits in its own column: its label is the row's service and the column's name.
    const columns = await page.locator('.switches thead th').allTextContents()
    const rows = page.locator('#switch-rows tr')
    for (let r = 0; r < (await rows.count()); r++) {
      const service = await rows.nth(r).locator('th').textContent()
      const cells = rows.nth(r).locator('td')
      for (let c = 0; c < (await cells.count()); c++) {
        const button = cells.nth(c).getByRole('button')
        if (await button.count())
          await expect(button).toHaveAttribute('aria-label', `${service} ${columns[c + 1]}`)
      }
    }
    const count = await switches.count()
    for (let i = 0; i < count; i++) {
      const b = switches.nth(i)
      const label = await b.getAttribute('aria-label')
      await b.click()
      await expect(b, `${label} on`).toHaveAttribute('aria-pressed', 'true')
      await b.click()
      await expect(b, `${label} off`).toHaveAttribute('aria-pressed', 'false')
    }
    expect((await mocks.faults()).faults).toEqual([])
  })
})
