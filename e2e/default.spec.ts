import WebSocket from 'ws'
import { expect } from '../mocks/playwright/index.ts'
import {
  collectPageErrors,
  expectRequestIds,
  journal,
  SUNSET_PNG,
  shot,
  test,
  uploadFile,
  waitForEntries,
} from './helpers.ts'

// Scenario `default`: everything healthy. The client connects, shows history, presence and
// typing, uploads, lists V01T content, and tags every request with X-Request-ID.

test.describe('default', () => {
  test.use({ scenario: 'default' })

  test('a healthy client: live chat, history, presence, upload and V01T content', async ({
    page,
    context,
    signIn,
    mocks,
  }) => {
    const errors = collectPageErrors(page)
    await signIn(context, 'member')
    await page.goto('/client.html')

    await expect(page.getByTestId('account')).toContainText('Signed in as Milo Member (member)')
    await expect(page.getByTestId('chat-state')).toHaveText('connected')
    await expect(page.getByTestId('messages')).toContainText('Welcome to casa! Say hi 👋')
    await expect(page.getByTestId('history-status')).toHaveText(/history loaded \(\d+ messages\)/)
    await expect(page.locator('#presence li[data-user="usr_member"]')).toHaveText('Milo Member — online')

    // V01T: the articles by priority, live (not the stale copy), and the 18 orgs.
    await expect(page.getByTestId('articles')).toHaveAttribute('data-source', 'live')
    await expect(page.getByTestId('articles').locator('li')).toHaveCount(4)
    await expect(page.getByTestId('articles').locator('li').first()).toContainText(
      'Contract-First APIs with Protobuf and Buf',
    )
    await expect(page.getByTestId('orgs').locator('li')).toHaveCount(18)
    await expect(page.getByTestId('orgs-status')).toContainText('18 orgs')

    await uploadFile(page, SUNSET_PNG)
    await expect(page.getByTestId('upload-result')).toContainText('uploaded sunset.png (31.8 KB)')
    await expect(page.getByTestId('upload-meta')).toHaveText('stored: image/png, 31.8 KB')
    await expect(page.getByRole('img', { name: 'thumbnail of sunset.png' })).toBeVisible()
    await expect
      .poll(() =>
        page
          .getByRole('img', { name: 'thumbnail of sunset.png' })
          .evaluate((i: HTMLImageElement) => i.naturalWidth),
      )
      .toBeGreaterThan(0)
    await shot(page, 'default')

    // The journal saw the page's own calls, each with a request id and trace context.
    const upgrade = (await journal(mocks, { service: 'chat', path: '/ws' })).filter((e) => e.kind === 'ws-in')
    expect(upgrade[0]?.frame).toBe('{"type":"join","channel":"general"}')
    const uploads = await journal(mocks, { service: 'media', method: 'POST', path: '/api/v1/upload' })
    expect(uploads.map((e) => e.status)).toEqual([201])
    const lists = await journal(mocks, { service: 'v01t', kind: 'http' })
    expect(lists.map((e) => `${e.path}${e.query}`)).toEqual([
      '/trace/flight-path/artefact/?page=1&page_size=20&order_by=-priority',
      '/trace/devarno-ecosystem/node/?page=1&page_size=50',
    ])
    await expectRequestIds(mocks)
    expect(errors).toEqual([])
  })

  test('presence and typing from another member show up; ours reach them', async ({
    page,
    openClient,
    mocks,
  }) => {
    await openClient()
    await expect(page.getByTestId('chat-state')).toHaveText('connected')
    await expect(page.locator('#presence li[data-user="usr_member2"]')).toHaveText('Maya Member — offline')

    // A second member on a Node WebSocket, as another browser tab would be.
    const maya = (await mocks.users()).users.find((u) => u.id === 'usr_member2')!
    const chatUrl = (await mocks.health()).services.chat!.url!.replace('http', 'ws')
    const ws = new WebSocket(`${chatUrl}/ws?token=${encodeURIComponent(maya.cookieValue!)}`)
    const frames: Record<string, unknown>[] = []
    ws.on('message', (d) => frames.push(JSON.parse(String(d))))
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject))
    ws.send(JSON.stringify({ type: 'join', channel: 'general' }))
    try {
      await expect(page.locator('#presence li[data-user="usr_member2"]')).toHaveText('Maya Member — online')
      ws.send(JSON.stringify({ type: 'typing', channel: 'general', typing: true }))
      await expect(page.getByTestId('typing')).toHaveText('Maya Member is typing…')
      await shot(page, 'default-typing')
      ws.send(JSON.stringify({ type: 'message', channel: 'general', content: 'Hello from Maya' }))
      await expect(page.getByTestId('messages')).toContainText('Hello from Maya')
      await expect(page.getByTestId('typing')).toHaveText('')

      // Our typing and message reach Maya's socket.
      await page.getByRole('textbox', { name: 'Message' }).pressSequentially('On my way')
      await expect
        .poll(() =>
          frames.some((f) => f.type === 'typing' && f.user_id === 'usr_member' && f.typing === true),
        )
        .toBe(true)
      await page.getByRole('button', { name: 'Send' }).click()
      await expect
        .poll(() => frames.find((f) => f.type === 'message' && f.content === 'On my way')?.sender)
        .toBe('usr_member')
      await expect(page.getByTestId('messages')).toContainText('On my way')
      expect(
        frames.some((f) => f.type === 'typing' && f.user_id === 'usr_member' && f.typing === false),
      ).toBe(true)

      ws.close()
      await expect(page.locator('#presence li[data-user="usr_member2"]')).toHaveText('Maya Member — offline')
    } finally {
      ws.terminate()
    }
  })

  test('a presence list still in flight does not undo a newer presence frame', async ({
    page,
    openClient,
    mocks,
  }) => {
    // The list is made at once but arrives slowly: Maya joins (and her frame arrives) in between.
    await mocks.addFault({
      service: 'chat',
      match: { method: 'GET', path: '/api/v1/presence' },
      effect: { type: 'slow-body', bytesPerSecond: 200 },
      times: 1,
    })
    const list = page.waitForResponse((r) => r.url().includes('/api/v1/presence'))
    await openClient()
    await expect(page.getByTestId('chat-state')).toHaveText('connected')
    await waitForEntries(mocks, { service: 'chat', path: '/api/v1/presence' }, 1, 5000)

    const maya = (await mocks.users()).users.find((u) => u.id === 'usr_member2')!
    const chatUrl = (await mocks.health()).services.chat!.url!.replace('http', 'ws')
    const ws = new WebSocket(`${chatUrl}/ws?token=${encodeURIComponent(maya.cookieValue!)}`)
    try {
      await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject))
      ws.send(JSON.stringify({ type: 'join', channel: 'general' }))
      const row = page.locator('#presence li[data-user="usr_member2"]')
      await expect(row).toHaveText('Maya Member — online')
      // The snapshot (Maya offline when it was made) lands after her frame: she stays online.
      expect(await (await list).finished()).toBeNull()
      await page.waitForTimeout(300)
      await expect(row).toHaveText('Maya Member — online')
    } finally {
      ws.terminate()
    }
  })

  test('sign in with the user picker, sign out; a banned user is told why', async ({ page, mocks }) => {
    await page.goto('/client.html')
    const signin = page.getByTestId('signin')
    await expect(signin).toBeVisible()
    await expect(page.getByTestId('signin-reason')).toHaveText('Sign in to chat and upload files.')

    await page.getByLabel('Seeded user').selectOption('banned@casa.test')
    await page.getByRole('button', { name: 'Sign in' }).click()
    await expect(page.getByTestId('signin-error')).toContainText('You have been banned')

    await page.getByLabel('Seeded user').selectOption('member2@casa.test')
    await page.getByRole('button', { name: 'Sign in' }).click()
    await expect(signin).toBeHidden()
    await expect(page.getByTestId('account')).toContainText('Signed in as Maya Member (member)')
    await expect(page.getByTestId('chat-state')).toHaveText('connected')
    const signIns = await journal(mocks, { service: 'auth', method: 'POST', path: '/api/auth/sign-in/email' })
    expect(signIns.map((e) => e.status)).toEqual([403, 200])

    await page.getByRole('button', { name: 'Sign out' }).click()
    await expect(signin).toBeVisible()
    await expect(page.getByTestId('chat-state')).toHaveText('signed out')
    const signOuts = await waitForEntries(mocks, { service: 'auth', path: '/api/auth/sign-out' }, 1, 5000)
    expect(signOuts.map((e) => e.status)).toEqual([200])
    await expectRequestIds(mocks)
  })

  test('a child cannot upload: the client says so instead of a generic failure', async ({
    page,
    openClient,
    mocks,
  }) => {
    await openClient('child')
    await expect(page.getByTestId('chat-state')).toHaveText('connected')
    await uploadFile(page, SUNSET_PNG)
    await expect(page.getByTestId('upload-error')).toContainText('you may not upload files')
    await expect(page.getByTestId('upload-retry')).toBeHidden()
    const uploads = await journal(mocks, { service: 'media', method: 'POST', path: '/api/v1/upload' })
    expect(uploads.map((e) => e.status)).toEqual([403])
  })
})
