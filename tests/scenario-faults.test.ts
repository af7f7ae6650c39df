import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startTestMocks, type TestMocks } from './helpers.ts'

// A scenario's faults pass the same checks as `POST /__mocks/faults` (issue 15: they were
// accepted, and a `down` with a match took the whole service down).

const dir = mkdtempSync(join(tmpdir(), 'mocks-scenario-faults-'))
// A scenario file with a fault the runtime would refuse: the error names its file and line.
writeFileSync(join(dir, 'default.yaml'), 'name: default\ndescription: base\n')
writeFileSync(
  join(dir, 'bad-faults.yaml'),
  [
    'name: bad-faults',
    'extends: default',
    'faults:',
    '  - service: chat',
    '    effect: { type: status, status: 500 }',
    '  - service: v01t',
    '    match: { path: /trace/* }',
    '    effect: { type: down }',
    '',
  ].join('\n'),
)

let t: TestMocks
beforeAll(async () => {
  t = await startTestMocks({ services: ['media', 'v01t'], env: { MOCKS_SCENARIOS_DIR: dir } })
})
afterAll(() => t.close())

async function put(body: unknown) {
  const res = await fetch(`${t.controlUrl}/__mocks/scenario`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  })
  return {
    status: res.status,
    body: (await res.json()) as { code?: string; issues?: { path: string; message: string }[] },
  }
}

describe('scenario faults are checked like runtime faults', () => {
  it('an inline scenario with faults that cannot act is refused 400 naming each', async () => {
    const res = await put({
      scenario: {
        name: 'bad-inline',
        faults: [
          { service: 'media', match: { ws: 'upgrade' }, effect: { type: 'ws-drop' } },
          { service: 'v01t', match: { path: '/trace/*' }, effect: { type: 'down' } },
        ],
      },
    })
    expect(res.status).toBe(400)
    expect(res.body.code).toBe('invalid_scenario')
    const issues = res.body.issues ?? []
    expect(issues).toEqual(
      expect.arrayContaining([
        { path: 'faults.0.effect.type', message: expect.stringMatching(/needs a WebSocket service/) },
        { path: 'faults.0.match.ws', message: expect.stringMatching(/media has no WebSocket/) },
        { path: 'faults.1.match', message: expect.stringMatching(/service-wide/) },
      ]),
    )
    // Nothing was applied: the old scenario stays, V01T still answers.
    expect((await fetch(`${t.controlUrl}/__mocks/health`).then((r) => r.json())).scenario).toBe('default')
    expect((await fetch(`${t.url('v01t')}/api/v1/nothing`)).status).toBe(404)
  })

  it('a scenario file with such a fault is refused with its file and line', async () => {
    const res = await put({ name: 'bad-faults' })
    expect(res.status).toBe(400)
    const issue = res.body.issues?.find((i) => i.path === 'faults.1.match')
    expect(issue?.message).toMatch(/bad-faults\.yaml:7: .*service-wide/)
    // A fault aimed at a service this process does not run is fine (chat is not started here).
    expect(res.body.issues?.some((i) => i.path.startsWith('faults.0'))).toBe(false)
  })

  it('the same faults with ids given twice are refused', async () => {
    const res = await put({
      scenario: {
        name: 'dup',
        faults: [
          { id: 'x', service: 'v01t', effect: { type: 'status', status: 500 } },
          { id: 'x', service: 'media', effect: { type: 'status', status: 500 } },
        ],
      },
    })
    expect(res.status).toBe(400)
    expect(res.body.issues).toEqual([
      { path: 'faults.1.id', message: expect.stringMatching(/duplicate fault id "x"/) },
    ])
  })
})
