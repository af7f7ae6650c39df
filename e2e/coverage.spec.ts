import { readdirSync, readFileSync } from 'node:fs'
import { expect, test } from '../mocks/playwright/index.ts'

// Every scenario file has an e2e test that applies it (`test.use({ scenario: '<name>' })`): a new
// scenario without one fails here, so the catalogue and the suite stay in step.
//
// Exceptions would be named here with their reason; the list may shrink, never hide a scenario
// that has a spec. (The db scenarios, once listed here, are driven through the reference
// client's household panel in e2e/db.spec.ts.)
const AWAITING_CLIENT_PANEL: string[] = []

test('every scenario in scenarios/ is exercised by an e2e spec', () => {
  const scenarios = readdirSync(new URL('../scenarios/', import.meta.url))
    .filter((f) => f.endsWith('.yaml'))
    .map((f) => f.replace(/\.yaml$/, ''))
    .sort()
  const specs = readdirSync(new URL('./', import.meta.url)).filter((f) => f.endsWith('.spec.ts'))
  const used = new Set<string>()
  for (const f of specs) {
    const text = readFileSync(new URL(`./${f}`, import.meta.url), 'utf8')
    for (const m of text.matchAll(/test\.use\(\{ scenario: '([a-z0-9-]+)'/g)) used.add(m[1]!)
  }
  expect(scenarios.length).toBeGreaterThanOrEqual(18)
  // No stale excuse: each listed scenario exists and still has no spec.
  for (const name of AWAITING_CLIENT_PANEL) {
    expect(scenarios).toContain(name)
    expect(used.has(name)).toBe(false)
  }
  expect(scenarios.filter((s) => !used.has(s) && !AWAITING_CLIENT_PANEL.includes(s))).toEqual([])
})
