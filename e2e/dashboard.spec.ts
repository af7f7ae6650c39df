import { createControlClient } from '../mocks/client/index.ts'
import { expect, test } from '../mocks/playwright/index.ts'
import { shot, waitForEntries } from './helpers.ts'

// The presenter's view at /: switches and the scenario picker drive the control API; the
// journal tails live; the client beside it reacts. Every test watches its own tenant
// (`/?tenant=<id>`; the client in the iframe is in it by the fixture's cookie), so a presenter's
// switches never reach a test running beside it, and the default tenant is left alone.

test.describe('dashboard', () => {
  test.use({ scenario: 'default', viewport: { width: 1600, height: 1000 } })

  test('a presenter switches faults and scenarios and watches the client react', async ({
    page,
    context,
    signIn,
    mocks,
    tenant,
  }) => {
    // A long walk through the panel: on a loaded 2-core machine with a browser per worker,
    // single steps (a full-page screenshot) have taken 10 s.
    test.setTimeout(150_000)
    await signIn(context, 'member')
    await page.goto(`/?tenant=${tenant.id}`)
    const client = page.frameLocator('#client')
    await expect(page.getByTestId('tenant-select')).toHaveValue(tenant.id)
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
    // The next retry connects: within the backoff (1, 2, 4 s) when the switches went off in
    // time, else at the WebSocket probe of the polling fallback (every 30 s): a loaded machine
    // may take longer than 7 s for the steps above.
    await expect(client.getByTestId('chat-state')).toHaveText('connected', { timeout: 35_000 })

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
    tenant,
  }) => {
    await page.goto(`/?tenant=${tenant.id}`)
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
    // The shared database's switches act only on the default tenant: off in a test's tenant.
    for (const kind of ['down', 'latency', 'reset'])
      await expect(page.getByTestId(`switch-db-${kind}`)).toBeDisabled()
    const count = await switches.count()
    for (let i = 0; i < count; i++) {
      const b = switches.nth(i)
      if (await b.isDisabled()) continue
      const label = await b.getAttribute('aria-label')
      await b.click()
      await expect(b, `${label} on`).toHaveAttribute('aria-pressed', 'true')
      await b.click()
      await expect(b, `${label} off`).toHaveAttribute('aria-pressed', 'false')
    }
    expect((await mocks.faults()).faults).toEqual([])
  })

  test('the verdicts panel turns rules green and red live as the presenter flips faults', async ({
    page,
    context,
    signIn,
    tenant,
  }) => {
    test.setTimeout(120_000)
    await signIn(context, 'member')
    // The client beside the panel behaves as family-hub does today (the matrix's "Current
    // Behavior"): the panel shows which rules that breaks, as they break.
    await page.goto(`/?tenant=${tenant.id}&behavior=current`)
    await expect(page.getByTestId('behavior-select')).toHaveValue('current')
    const client = page.frameLocator('#client')
    await expect(client.getByTestId('behavior')).toHaveAttribute('data-behavior', 'current')
    await expect(client.getByTestId('chat-state')).toHaveText('connected')
    const verdict = (rule: string) => page.getByTestId(`verdict-${rule}`)
    // No request ids today: red as soon as the client has called chat.
    await expect(verdict('chat-request-ids')).toHaveAttribute('data-status', 'fail')
    await expect(verdict('chat-request-ids')).toHaveClass('fail')
    await expect(verdict('chat-request-ids')).toContainText('lack x-request-id or traceparent')
    await expect(verdict('chat-ws-backoff')).toHaveAttribute('data-status', 'not-exercised')
    await expect(verdict('chat-poll-backoff')).toHaveAttribute('data-status', 'not-exercised')
    await expect(page.getByTestId('verdicts-summary')).toContainText('1 fail')

    // chat 5xx and WS drop on; a keystroke sends a frame, which the drop cuts at once.
    await page.getByRole('button', { name: 'chat 5xx' }).click()
    await expect(page.getByRole('button', { name: 'chat 5xx' })).toHaveAttribute('aria-pressed', 'true')
    await page.getByRole('button', { name: 'chat WS drop' }).click()
    await expect(page.getByRole('button', { name: 'chat WS drop' })).toHaveAttribute('aria-pressed', 'true')
    await client.getByRole('textbox', { name: 'Message' }).fill('x')
    // Reconnects 1, 2, 4 s (today's client does that right): green.
    await expect(verdict('chat-ws-backoff')).toHaveAttribute('data-status', 'pass', { timeout: 30_000 })
    await expect(verdict('chat-ws-backoff')).toHaveClass('pass')
    // Then history polled every 3 s whatever fails: red, with the measured gaps.
    await expect(verdict('chat-poll-backoff')).toHaveAttribute('data-status', 'fail', { timeout: 40_000 })
    await expect(verdict('chat-poll-backoff')).toHaveClass('fail')
    await expect(verdict('chat-poll-backoff')).toContainText(/grew less than 1\.5x .* measured \d+, \d+/)
    await expect(client.getByTestId('chat-state')).toHaveText('offline · polling every 3 s')
    await shot(page, 'dashboard-verdicts')

    // Reset clears the faults and the journal: polls answer again, and nothing fails to back off.
    await page.getByRole('button', { name: 'Reset', exact: true }).click()
    await expect(page.getByTestId('faults')).toHaveText('none: every service healthy')
    await expect(verdict('chat-poll-backoff')).toHaveAttribute('data-status', 'not-exercised')
    await expect(verdict('chat-poll-backoff')).toHaveClass('not-exercised')
  })

  test('lists live tenants and watches any of them: its scenario, faults and journal, live', async ({
    page,
    tenant,
    mocksUrls,
  }) => {
    // Another world, as a test running beside this one has: its own tenant, scenario and fault.
    const collection = createControlClient({ baseUrl: mocksUrls.control })
    const other = await collection.createTenant('v01t-500')
    const otherMocks = createControlClient({ baseUrl: mocksUrls.control, tenant: other.id })
    try {
      await otherMocks.addFault({
        id: 'watched-latency',
        service: 'media',
        effect: { type: 'latency', ms: 5 },
      })
      await page.goto('/')
      // The default tenant at first; both tenants listed with their scenario and faults.
      await expect(page.getByTestId('tenant-select')).toHaveValue('default')
      const tenants = page.getByTestId('tenants')
      await expect(tenants.locator(`li[data-tenant="${tenant.id}"]`)).toContainText('default · 0 faults')
      await expect(tenants.locator(`li[data-tenant="${other.id}"]`)).toContainText('v01t-500 · 2 faults') // its scenario's and the runtime one
      await expect(page.getByTestId('journal-status')).toHaveText('live')

      // Pick the other tenant: its scenario, its faults, and its journal as it happens.
      await page.getByRole('button', { name: `Watch tenant ${other.id}` }).click()
      await expect(page.getByTestId('tenant-select')).toHaveValue(other.id)
      expect(new URL(page.url()).searchParams.get('tenant')).toBe(other.id)
      await expect(page.getByTestId('current-scenario')).toHaveText('v01t-500')
      await expect(page.getByTestId('faults')).toContainText('v01t: status 500')
      await expect(page.getByTestId('faults')).toContainText('media: latency 5 ms · runtime · active')
      await expect(page.getByTestId('journal-status')).toHaveText('live')
      const res = await fetch(`${mocksUrls.v01t}/trace/devarno-ecosystem/node/?watched=1`, {
        headers: { 'x-mocks-tenant': other.id },
      })
      expect(res.status).toBe(500)
      const row = page.getByTestId('journal').locator('tr', { hasText: '?watched=1' })
      await expect(row).toContainText('500')
      // This test's own tenant saw none of it.
      await page.getByTestId('tenant-select').selectOption(tenant.id)
      await expect(page.getByTestId('current-scenario')).toHaveText('default')
      await expect(page.getByTestId('faults')).toHaveText('none: every service healthy')
      await expect(page.getByTestId('journal').locator('tr', { hasText: '?watched=1' })).toHaveCount(0)

      // The switches act on the tenant watched, never on the default one.
      await page.getByRole('button', { name: 'chat 5xx' }).click()
      await expect(page.getByRole('button', { name: 'chat 5xx' })).toHaveAttribute('aria-pressed', 'true')
      expect(
        (await createControlClient({ baseUrl: mocksUrls.control, tenant: tenant.id }).faults()).faults,
      ).toHaveLength(1)
      expect((await otherMocks.faults()).faults.map((f) => f.id)).not.toContain('demo-chat-5xx')

      // Watching a tenant that ends (its test is over): the panel says so and goes back to the default.
      await page.getByTestId('tenant-select').selectOption(other.id)
      await expect(page.getByTestId('current-scenario')).toHaveText('v01t-500')
      await collection.deleteTenant(other.id)
      await expect(page.getByTestId('control-status')).toContainText(`tenant ${other.id} is gone`)
      await expect(page.getByTestId('tenant-select')).toHaveValue('default')
      await expect(tenants.locator(`li[data-tenant="${other.id}"]`)).toHaveCount(0)
    } finally {
      await collection.deleteTenant(other.id).catch(() => undefined)
    }
  })
})
