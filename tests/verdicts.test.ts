import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { VerdictReport } from '../mocks/client/index.ts'
import { startTestMocks, type TestMocks } from './helpers.ts'

// Verdicts over real sockets: two tenants in the same scenario, one client behaving as the
// matrix's "Correct Behavior", one as its "Current Behavior"; each judged from its own journal.

const ROOT = fileURLToPath(new URL('../', import.meta.url))
let t: TestMocks

beforeAll(async () => {
  t = await startTestMocks({ services: ['auth', 'v01t'] })
})
afterAll(() => t.close())

async function tenant(name: string): Promise<string> {
  const res = await fetch(`${t.controlUrl}/__mocks/tenants`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name }),
  })
  return ((await res.json()) as { id: string }).id
}

const verdicts = async (id: string, since?: number) =>
  (await (
    await fetch(
      `${t.controlUrl}/__mocks/verdicts?tenant=${id}${since === undefined ? '' : `&since=${since}`}`,
    )
  ).json()) as VerdictReport

const v01t = (id: string, headers: Record<string, string> = {}) =>
  fetch(`${t.url('v01t')}/trace/devarno-ecosystem/node/`, {
    headers: { 'x-mocks-tenant': id, ...headers },
  }).then((r) => r.arrayBuffer())

describe('verdicts', () => {
  it('a 404 retried is a failure in that tenant only; the same 404 fetched once passes', async () => {
    const good = await tenant('v01t-404')
    const bad = await tenant('v01t-404')
    await v01t(good)
    for (let i = 0; i < 3; i++) await v01t(bad)
    const ok = await verdicts(good)
    const ko = await verdicts(bad)
    const rule = (r: VerdictReport, id: string) => r.verdicts.find((v) => v.rule === id)!
    expect(rule(ok, 'v01t-404-no-retry')).toMatchObject({ status: 'pass' })
    expect(rule(ko, 'v01t-404-no-retry')).toMatchObject({
      status: 'fail',
      detail: expect.stringContaining('2 retries after a failure'),
    })
    expect(rule(ko, 'v01t-404-no-retry').evidence.map((e) => e.status)).toEqual([404, 404, 404, 404, 404])
    // Unexercised rules say so; a rule of a service never called is not-exercised.
    expect(rule(ok, 'chat-ws-backoff').status).toBe('not-exercised')
    expect(ko.summary.fail).toBeGreaterThanOrEqual(1)
    // ?since= judges only what came after.
    const last = (await (await fetch(`${t.controlUrl}/__mocks/journal?tenant=${bad}`)).json()) as {
      entries: { seq: number }[]
    }
    const after = await verdicts(bad, last.entries.at(-1)!.seq)
    expect(rule(after, 'v01t-404-no-retry').status).toBe('not-exercised')
    // `pnpm mocks verdicts` exits 1 on a failure and 0 otherwise, printing a table.
    const cli = (id: string, args = ['verdicts']) =>
      new Promise<{ code: number; stdout: string }>((resolve) =>
        execFile(
          'node',
          ['--import', 'tsx', 'mocks/cli/index.ts', ...args, '--tenant', id],
          { cwd: ROOT, env: { ...process.env, MOCKS_CONTROL_URL: t.controlUrl } },
          (err, stdout) => resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout }),
        ),
      )
    const [failing, passing] = await Promise.all([cli(bad), cli(good)])
    expect(failing.code).toBe(1)
    expect(failing.stdout).toMatch(/FAIL\s+v01t-404-no-retry/)
    expect(passing.code).toBe(0)
    expect(passing.stdout).toMatch(/PASS\s+v01t-404-no-retry/)
    // `--tenant` reaches every command; `tenants` lists them.
    const [scenario, list] = await Promise.all([cli(bad, ['health']), cli(bad, ['tenants'])])
    expect(JSON.parse(scenario.stdout)).toMatchObject({ scenario: 'v01t-404', tenant: bad })
    expect(list.stdout).toContain(good)
    expect(list.stdout).toContain(bad)
  }, 60_000)

  it('a hung request the client never abandons fails the timeout rule while still open', async () => {
    const id = await tenant('v01t-timeout')
    // Held by the hang fault, never abandoned (a client without a timeout).
    const held = v01t(id).catch(() => undefined)
    await expect
      .poll(async () => (await verdicts(id)).verdicts.find((v) => v.rule === 'v01t-timeout')?.status)
      .toBe('not-exercised')
    // Judged as of a later "now": the open request is past its 10 s limit plus grace.
    const { judge, rulesLoader, DEFAULT_VERDICTS_FILE } = await import('../mocks/verdicts/index.ts')
    const journal = t.mocks.tenant(id)!.journal
    const late = judge(
      rulesLoader(DEFAULT_VERDICTS_FILE)(),
      journal.list(),
      [...journal.open],
      Date.now() + 60_000,
    )
    expect(late.find((v) => v.rule === 'v01t-timeout')).toMatchObject({ status: 'fail' })
    // Deleting the tenant cuts the held request.
    await fetch(`${t.controlUrl}/__mocks/tenants/${id}`, { method: 'DELETE' })
    await held
  })
})

describe('journal facts for verdicts', () => {
  it('a ws-close says who ended the socket, and which fault', async () => {
    const m = await startTestMocks({ services: ['auth', 'chat'] })
    try {
      const { default: WebSocket } = await import('ws')
      const url = `${m.url('chat').replace(/^http/, 'ws')}/ws?token=${m.tokenFor('usr_member')}`
      const open = () =>
        new Promise<InstanceType<typeof WebSocket>>((resolve, reject) => {
          const ws = new WebSocket(url)
          ws.once('open', () => resolve(ws))
          ws.once('error', reject)
        })
      // The client closes: closedBy client, no fault.
      const a = await open()
      a.close(1000)
      await expect.poll(() => m.mocks.journal.list({ kind: 'ws-close' }).length).toBe(1)
      // A ws-drop fault cuts it: closedBy server, the fault credited.
      const fault = m.mocks.faults.add({
        service: 'chat',
        effect: { type: 'ws-drop', afterMs: 50, code: 1006 },
      })
      const b = await open()
      await new Promise((r) => b.once('close', r))
      await expect.poll(() => m.mocks.journal.list({ kind: 'ws-close' }).length).toBe(2)
      const closes = m.mocks.journal.list({ kind: 'ws-close' })
      expect(closes.map((e) => [e.closedBy, e.fault?.id ?? null])).toEqual([
        ['client', null],
        ['server', fault.id],
      ])
    } finally {
      await m.close()
    }
  })
})
