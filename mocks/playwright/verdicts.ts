import type { ExpectMatcherState, MatcherReturnType } from '@playwright/test'
import type { ControlClient, VerdictReport } from '../client/index.ts'
import type { Evidence, Verdict } from '../verdicts/index.ts'

// `await expect(mocks).toPassVerdicts()` (issue 21): the matrix's rules (verdicts.yaml) judged
// from the test's tenant's journal, retried like a web-first assertion until every rule passes
// or the expect timeout ends (a client's retries take seconds to happen). A rule with nothing
// to judge (`not-exercised`) counts as a failure unless the test excludes it by name, so a test
// cannot pass a rule it never exercised. The failure message lists each rule that did not pass,
// with its evidence: the journal entries and the measured intervals.

export interface VerdictExpectation {
  /** Rules (by id) this test does not exercise or does not judge. */
  exclude?: string[]
  /** Judge only these rules (by id); every other rule is excluded. */
  rules?: string[]
  /** Judge only journal entries after this seq, or from this ISO time. */
  since?: string | number
  /** How long to wait for every rule to pass; default: the expect timeout. */
  timeout?: number
}

/** Evidence lines shown per rule; the rest are counted. */
const EVIDENCE_LINES = 8

/** The rules the expectation judges, after `rules` and `exclude`; unknown names are an error. */
export function judgedVerdicts(report: VerdictReport, opts: VerdictExpectation = {}): Verdict[] {
  const known = new Set(report.verdicts.map((v) => v.rule))
  for (const name of [...(opts.exclude ?? []), ...(opts.rules ?? [])])
    if (!known.has(name))
      throw new Error(`toPassVerdicts: unknown rule "${name}" (the rules are: ${[...known].join(', ')})`)
  const only = opts.rules ? new Set(opts.rules) : undefined
  const excluded = new Set(opts.exclude ?? [])
  return report.verdicts.filter((v) => (!only || only.has(v.rule)) && !excluded.has(v.rule))
}

/** The judged rules that did not pass: `fail`, and `not-exercised` (which the matcher counts as failing). */
export function notPassing(report: VerdictReport, opts: VerdictExpectation = {}): Verdict[] {
  return judgedVerdicts(report, opts).filter((v) => v.status !== 'pass')
}

function evidenceLine(e: Evidence): string {
  const time = e.at.slice(11, 23)
  const parts = [
    `#${e.seq}`.padEnd(6),
    time,
    `${e.method} ${e.path}`,
    e.status === null ? 'no answer' : String(e.status),
  ]
  if (e.fault) parts.push(`fault ${e.fault}`)
  if (e.ms !== undefined) parts.push(`${e.ms} ms`)
  if (e.note) parts.push(`(${e.note})`)
  return parts.join('  ')
}

/** One rule that did not pass, as the failure message shows it. */
export function describeVerdict(v: Verdict): string {
  const lines = [`${v.status === 'fail' ? '✗' : '○'} ${v.rule} (${v.status}): ${v.description}`]
  for (const part of v.detail.split('; ')) lines.push(`    ${part}`)
  const intervals = v.evidence.filter((e) => e.ms !== undefined).map((e) => e.ms)
  if (intervals.length) lines.push(`    measured: ${intervals.join(', ')} ms`)
  if (v.evidence.length) {
    lines.push('    evidence:')
    for (const e of v.evidence.slice(0, EVIDENCE_LINES)) lines.push(`      ${evidenceLine(e)}`)
    if (v.evidence.length > EVIDENCE_LINES)
      lines.push(`      … and ${v.evidence.length - EVIDENCE_LINES} more entries`)
  }
  if (v.status === 'not-exercised')
    lines.push(`    (nothing to judge: exercise it, or exclude it by name: { exclude: ['${v.rule}'] })`)
  return lines.join('\n')
}

/** The whole failure message of `toPassVerdicts` (or of `.not.toPassVerdicts`). */
export function verdictsMessage(report: VerdictReport, opts: VerdictExpectation = {}, isNot = false): string {
  const judged = judgedVerdicts(report, opts)
  const failing = judged.filter((v) => v.status !== 'pass')
  const head = `expect(mocks).${isNot ? 'not.' : ''}toPassVerdicts()`
  const scope = `tenant ${report.tenant}${opts.since !== undefined ? `, journal since ${opts.since}` : ''}`
  if (isNot)
    return `${head}: expected a rule not to pass, but all ${judged.length} judged rules passed (${scope}): ${judged.map((v) => v.rule).join(', ')}`
  const counts = `${failing.filter((v) => v.status === 'fail').length} failed, ${failing.filter((v) => v.status === 'not-exercised').length} not exercised`
  return [
    `${head}: ${failing.length} of ${judged.length} judged rules did not pass (${counts}; ${scope})`,
    '',
    ...failing.map(describeVerdict),
  ].join('\n')
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/**
 * The matchers, for `expect.extend(verdictMatchers)` (devarno-mocks/playwright's own `expect`
 * has them already).
 */
export const verdictMatchers = {
  async toPassVerdicts(
    this: ExpectMatcherState,
    mocks: ControlClient,
    opts: VerdictExpectation = {},
  ): Promise<MatcherReturnType> {
    const timeout = opts.timeout ?? this.timeout
    const deadline = Date.now() + timeout
    const query = opts.since === undefined ? {} : { since: opts.since }
    let report: VerdictReport
    let pass: boolean
    // Retried until the outcome is the one asked for (passing, or with `.not` failing).
    for (let i = 0; ; i++) {
      report = await mocks.verdicts(query)
      pass = notPassing(report, opts).length === 0
      if (pass !== this.isNot || Date.now() >= deadline) break
      await sleep(Math.min([100, 250, 500][i] ?? 1000, Math.max(0, deadline - Date.now())))
    }
    const final = report
    return {
      name: 'toPassVerdicts',
      pass,
      message: () => verdictsMessage(final, opts, this.isNot),
      expected: this.isNot ? 'a rule not passing' : 'every judged rule passing',
      actual: Object.fromEntries(judgedVerdicts(final, opts).map((v) => [v.rule, v.status])),
      timeout,
    }
  },
}
