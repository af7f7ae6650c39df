import type { ExpectMatcherState } from '@playwright/test'
import { describe, expect, it } from 'vitest'
import type { ControlClient, VerdictReport } from '../client/index.ts'
import type { Verdict } from '../verdicts/index.ts'
import { judgedVerdicts, notPassing, verdictMatchers, verdictsMessage } from './verdicts.ts'

// The matcher's message and its rules: every rule that did not pass is listed with its evidence
// (entries, measured intervals); not-exercised fails unless excluded by name; unknown names are
// an error (a typo must not silently exclude nothing).

const poll: Verdict = {
  rule: 'chat-poll-backoff',
  kind: 'backoff',
  description: 'polling history after a 5xx backs off exponentially with jitter',
  status: 'fail',
  detail:
    'GET /api/v1/messages: gap 3004 ms after 3002 ms grew less than 1.5x (needed 3453 ms); GET /api/v1/messages: gap 3001 ms after 3004 ms grew less than 1.5x (needed 3456 ms)',
  evidence: [3002, 3004, 3001].map((ms, i) => ({
    seq: 40 + i,
    at: `2026-12-05T10:00:0${3 * (i + 1)}.${String(ms - 3000).padStart(3, '0')}Z`,
    method: 'GET',
    path: '/api/v1/messages',
    status: 500,
    fault: 'chat-history-500',
    ms,
    note: 'since the failure it retries',
  })),
}
const ids: Verdict = {
  rule: 'chat-request-ids',
  kind: 'headers',
  description: 'every chat request carries X-Request-ID and traceparent',
  status: 'fail',
  detail: '12 of 12 request(s) lack x-request-id or traceparent',
  evidence: Array.from({ length: 12 }, (_, i) => ({
    seq: 10 + i,
    at: '2026-12-05T10:00:01.000Z',
    method: 'GET',
    path: '/api/v1/messages',
    status: 500,
    fault: null,
    note: 'missing x-request-id, traceparent',
  })),
}
const ws: Verdict = {
  rule: 'chat-ws-backoff',
  kind: 'backoff',
  description: 'WebSocket reconnects back off 1 s, 2 s, 4 s',
  status: 'pass',
  detail: '3 retries, gaps 1005, 2110, 4230 ms',
  evidence: [],
}
const timeout: Verdict = {
  rule: 'v01t-timeout',
  kind: 'timeout',
  description: 'every V01T fetch gives up within its 10 s timeout',
  status: 'not-exercised',
  detail: 'no request was held past the limit',
  evidence: [],
}

const report = (verdicts: Verdict[]): VerdictReport => ({
  tenant: 't-1',
  summary: {
    pass: verdicts.filter((v) => v.status === 'pass').length,
    fail: verdicts.filter((v) => v.status === 'fail').length,
    notExercised: verdicts.filter((v) => v.status === 'not-exercised').length,
  },
  verdicts,
})

describe('toPassVerdicts: which rules count', () => {
  const all = report([poll, ids, ws, timeout])
  it('not-exercised fails unless excluded by name; `rules` judges only those', () => {
    expect(notPassing(all).map((v) => v.rule)).toEqual([
      'chat-poll-backoff',
      'chat-request-ids',
      'v01t-timeout',
    ])
    expect(notPassing(all, { exclude: ['v01t-timeout'] }).map((v) => v.rule)).toEqual([
      'chat-poll-backoff',
      'chat-request-ids',
    ])
    expect(notPassing(all, { rules: ['chat-ws-backoff'] })).toEqual([])
    expect(
      judgedVerdicts(all, { rules: ['chat-ws-backoff', 'v01t-timeout'], exclude: ['v01t-timeout'] }),
    ).toEqual([ws])
  })
  it('an unknown rule name is an error that lists the rules', () => {
    expect(() => notPassing(all, { exclude: ['chat-poll-backof'] })).toThrow(
      'unknown rule "chat-poll-backof" (the rules are: chat-poll-backoff, chat-request-ids, chat-ws-backoff, v01t-timeout)',
    )
  })
})

describe('toPassVerdicts: the failure message', () => {
  it('lists each rule that did not pass with its detail, measured intervals and evidence', () => {
    const text = verdictsMessage(report([poll, ids, ws, timeout]), { since: 39 })
    const lines = text.split('\n')
    expect(lines[0]).toBe(
      'expect(mocks).toPassVerdicts(): 3 of 4 judged rules did not pass (2 failed, 1 not exercised; tenant t-1, journal since 39)',
    )
    expect(text).toContain(
      [
        '✗ chat-poll-backoff (fail): polling history after a 5xx backs off exponentially with jitter',
        '    GET /api/v1/messages: gap 3004 ms after 3002 ms grew less than 1.5x (needed 3453 ms)',
        '    GET /api/v1/messages: gap 3001 ms after 3004 ms grew less than 1.5x (needed 3456 ms)',
        '    measured: 3002, 3004, 3001 ms',
        '    evidence:',
        '      #40     10:00:03.002  GET /api/v1/messages  500  fault chat-history-500  3002 ms  (since the failure it retries)',
      ].join('\n'),
    )
    // Long evidence is cut, and says how much more there is.
    expect(text).toContain(
      '✗ chat-request-ids (fail): every chat request carries X-Request-ID and traceparent',
    )
    expect(text).toContain(
      '      #17     10:00:01.000  GET /api/v1/messages  500  (missing x-request-id, traceparent)',
    )
    expect(text).not.toContain('#18 ')
    expect(text).toContain('      … and 4 more entries')
    // not-exercised says how to exclude it; a passing rule is not listed.
    expect(text).toContain(
      "○ v01t-timeout (not-exercised): every V01T fetch gives up within its 10 s timeout\n    no request was held past the limit\n    (nothing to judge: exercise it, or exclude it by name: { exclude: ['v01t-timeout'] })",
    )
    expect(text).not.toContain('chat-ws-backoff')
  })
  it('with .not, names the rules that all passed', () => {
    expect(verdictsMessage(report([ws]), {}, true)).toBe(
      'expect(mocks).not.toPassVerdicts(): expected a rule not to pass, but all 1 judged rules passed (tenant t-1): chat-ws-backoff',
    )
  })
})

describe('toPassVerdicts: the matcher', () => {
  /** A control client whose verdicts change from one call to the next. */
  const client = (reports: VerdictReport[]) => {
    const calls: unknown[] = []
    const mocks = {
      verdicts: async (q: unknown) => {
        calls.push(q)
        return reports[Math.min(calls.length - 1, reports.length - 1)]!
      },
    } as unknown as ControlClient
    return { mocks, calls }
  }
  const state = (isNot = false) => ({ isNot, timeout: 2000 }) as unknown as ExpectMatcherState

  it('retries until the rules pass (a client’s retries take time), passing `since` on', async () => {
    const { mocks, calls } = client([report([{ ...ws, status: 'not-exercised' }]), report([ws])])
    const r = await verdictMatchers.toPassVerdicts.call(state(), mocks, { since: 12 })
    expect(r.pass).toBe(true)
    expect(calls).toEqual([{ since: 12 }, { since: 12 }])
  })
  it('fails after the timeout with the message of the last report', async () => {
    const { mocks } = client([report([poll, ws])])
    const started = Date.now()
    const r = await verdictMatchers.toPassVerdicts.call(state(), mocks, { timeout: 300 })
    expect(Date.now() - started).toBeGreaterThanOrEqual(290)
    expect(r.pass).toBe(false)
    expect(r.message()).toContain('✗ chat-poll-backoff (fail)')
    expect(r.actual).toEqual({ 'chat-poll-backoff': 'fail', 'chat-ws-backoff': 'pass' })
  })
  it('with .not, stops as soon as a rule does not pass', async () => {
    const { mocks, calls } = client([report([ws]), report([ws, timeout])])
    const r = await verdictMatchers.toPassVerdicts.call(state(true), mocks)
    expect(r.pass).toBe(false)
    expect(calls).toHaveLength(2)
  })
})
