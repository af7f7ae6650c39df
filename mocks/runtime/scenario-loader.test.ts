import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { mergeScenario, ScenarioLoader } from './scenario-loader.ts'
import { scenarioErrorOf } from './testing.ts'

const SCENARIOS = fileURLToPath(new URL('../../scenarios/', import.meta.url))

function tempDir(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'scenarios-'))
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text)
  return dir
}

const BASE = `name: base
seed: 7
auth:
  users:
    - { id: u1, email: a@x.test, name: A, password: password-1, role: admin }
    - { id: u2, email: b@x.test, name: B, password: password-2, role: child }
chat:
  channels: [{ id: c1, name: C1, members: [u1, u2] }]
faults:
  - { service: chat, effect: { type: latency, ms: 10 } }
`

describe('ScenarioLoader', () => {
  it('loads every committed scenario', () => {
    const loader = new ScenarioLoader(SCENARIOS)
    const names = readdirSync(SCENARIOS)
      .filter((f) => f.endsWith('.yaml'))
      .map((f) => f.slice(0, -5))
    expect(names).toContain('default')
    for (const name of names) expect(loader.load(name).name).toBe(name)
  })

  it('fills defaults so a scenario can be two lines', () => {
    const dir = tempDir({ 'base.yaml': BASE, 'tiny.yaml': 'extends: base\n' })
    const s = new ScenarioLoader(dir).load('tiny')
    expect(s.name).toBe('tiny')
    expect(s.seed).toBe(7)
    expect(s.auth.noSession).toBeUndefined() // MOCKS_AUTH_NO_SESSION, else 401, decides
    expect(s.clock).toBe('2026-02-19T09:00:00.000Z')
    expect(s.auth.users[0]?.session).toEqual({ ipAddress: '127.0.0.1', userAgent: 'devarno-mocks' })
  })

  it('extends: objects merge deeply, arrays replace, faults append', () => {
    const dir = tempDir({
      'base.yaml': BASE,
      'child.yaml': `name: child
extends: base
description: more
auth: { noSession: "200-null" }
chat:
  channels: [{ id: c2, name: C2, members: all }]
faults:
  - { service: chat, effect: { type: status, status: 500 } }
`,
    })
    const s = new ScenarioLoader(dir).load('child')
    expect(s.auth.users).toHaveLength(2)
    expect(s.auth.noSession).toBe('200-null')
    expect(s.chat.channels.map((c) => c.id)).toEqual(['c2'])
    expect(s.faults.map((f) => f.effect.type)).toEqual(['latency', 'status'])
    expect(s.extends).toBe('base')
  })

  it('reports every bad path of a broken file with the file and line', () => {
    const dir = tempDir({
      'broken.yaml': `name: broken
seed: "x"
auth:
  users:
    - { id: u1, email: not-an-email, name: A, password: short, role: king }
faults:
  - { service: chat, effect: { type: latency } }
  - { service: nowhere, effect: { type: status, status: 999 } }
bogus: true
`,
    })
    const err = scenarioErrorOf(() => new ScenarioLoader(dir).load('broken'))
    const paths = err.issues.map((i) => i.path)
    expect(paths).toEqual(
      expect.arrayContaining([
        'seed',
        'auth.users.0.email',
        'auth.users.0.password',
        'auth.users.0.role',
        'faults.0.effect.ms',
        'faults.1.service',
        'faults.1.effect.status',
        '',
      ]),
    )
    expect(err.issues.every((i) => i.file.endsWith('broken.yaml'))).toBe(true)
    expect(err.issues.find((i) => i.path === 'auth.users.0.email')?.line).toBe(5)
    expect(err.issues.find((i) => i.path === 'seed')?.line).toBe(2)
    expect(err.message).toContain('bogus')
  })

  it('reports a broken parent against the parent file', () => {
    const dir = tempDir({ 'base.yaml': 'seed: nope\n', 'child.yaml': 'extends: base\n' })
    const err = scenarioErrorOf(() => new ScenarioLoader(dir).load('child'))
    expect(err.issues[0]?.file).toMatch(/base\.yaml$/)
    expect(err.issues[0]?.path).toBe('seed')
  })

  it('checks references between sections', () => {
    const dir = tempDir({
      'refs.yaml': `${BASE.replace('name: base', 'name: refs')}
  messages:
    - { channel: c9, sender: u1, content: hi, at: "2026-02-19T08:00:00Z" }
    - { channel: c1, sender: ghost, content: hi, at: "2026-02-19T08:00:00Z" }
media:
  files: [{ id: f1, fixture: media/x.png, owner: nobody }]
`.replace('faults:\n  - { service: chat, effect: { type: latency, ms: 10 } }\n', ''),
    })
    const err = scenarioErrorOf(() => new ScenarioLoader(dir).load('refs'))
    expect(err.issues.map((i) => i.path)).toEqual([
      'chat.messages.0.channel',
      'chat.messages.1.sender',
      'media.files.0.owner',
    ])
  })

  it('refuses unknown scenarios, cycles, invalid YAML and mismatched names', () => {
    const dir = tempDir({
      'a.yaml': 'extends: b\n',
      'b.yaml': 'extends: a\n',
      'bad.yaml': 'name: [unclosed\n',
      'wrong.yaml': 'name: other\n',
    })
    const loader = new ScenarioLoader(dir)
    expect(scenarioErrorOf(() => loader.load('missing')).message).toMatch(/Unknown scenario "missing"/)
    expect(scenarioErrorOf(() => loader.load('a')).issues[0]?.message).toMatch(/cycle: a -> b -> a/)
    expect(scenarioErrorOf(() => loader.load('bad')).message).toMatch(/not valid YAML/)
    expect(scenarioErrorOf(() => loader.load('wrong')).issues[0]?.message).toMatch(/must match the file name/)
    expect(scenarioErrorOf(() => loader.load('../etc/passwd')).issues[0]?.path).toBe('name')
  })

  it('resolves inline scenarios on top of a file', () => {
    const dir = tempDir({ 'base.yaml': BASE })
    const s = new ScenarioLoader(dir).resolveInline({ name: 'inline-x', extends: 'base', seed: 9 })
    expect(s.seed).toBe(9)
    expect(s.auth.users).toHaveLength(2)
    expect(
      scenarioErrorOf(() => new ScenarioLoader(dir).resolveInline({ name: 'x', seed: 'no' })).issues[0]?.path,
    ).toBe('seed')
  })

  it('mergeScenario leaves its inputs untouched', () => {
    const parent = { a: { b: 1 }, faults: [1] }
    const out = mergeScenario(parent, { a: { c: 2 }, faults: [2] })
    expect(out).toEqual({ a: { b: 1, c: 2 }, faults: [1, 2] })
    expect(parent).toEqual({ a: { b: 1 }, faults: [1] })
  })
})
