import type { JournalEntry } from '../core/journal.ts'
import type { Rule, Selector } from './rules.ts'

// Judging rules from journal entries (server-side timestamps only, so a loaded machine does
// not flake them): lower bounds strict (never early), growth and upper bounds loose.

export type VerdictStatus = 'pass' | 'fail' | 'not-exercised'

/** One attempt as a verdict shows it. */
export interface Evidence {
  seq: number
  at: string
  method: string
  path: string
  status: number | null
  fault: string | null
  /** Since the failure the attempt answers (backoff), or how long it was held (timeout). */
  ms?: number
  note?: string
  /** Replicated mode: the replica that answered, and the entry's cluster-wide cursor (`since`). */
  replica?: string
  cursor?: string
}

export interface Verdict {
  rule: string
  kind: Rule['kind']
  description: string
  status: VerdictStatus
  /** Why, in one line. */
  detail: string
  evidence: Evidence[]
}

/** A request still open (no journal entry yet), for the timeout rule. */
export interface OpenRequest {
  service: string
  method: string
  path: string
  startedAt: number
  fault: string | null
}

interface Attempt {
  e: JournalEntry
  start: number
  end: number
  /** When it failed (its answer, or its socket's abnormal close), if it did. */
  failedAt: number | undefined
}

const UPGRADE = (e: JournalEntry) => e.requestHeaders.upgrade?.toLowerCase() === 'websocket'

function routeMatches(pattern: string, e: JournalEntry): boolean {
  if (pattern.endsWith('*')) return e.path.startsWith(pattern.slice(0, -1))
  return e.route === pattern || e.path === pattern
}

export function selects(s: Selector, e: JournalEntry): boolean {
  if (e.kind !== 'http' || e.service !== s.service) return false
  if (s.method && e.method !== s.method.toUpperCase()) return false
  if (s.route && !routeMatches(s.route, e)) return false
  if (s.upgrade !== undefined && UPGRADE(e) !== s.upgrade) return false
  return true
}

/** Whether an answer counts as one of the rule's failures. */
export function isFailure(status: number | null, after: readonly (number | '5xx' | 'network')[]): boolean {
  return after.some((a) =>
    a === 'network'
      ? status === null || status === 0 || status === 499
      : a === '5xx'
        ? status !== null && status >= 500 && status <= 599
        : status === a,
  )
}

const endOf = (e: JournalEntry) => Date.parse(e.time)
const startOf = (e: JournalEntry) => endOf(e) - (e.durationMs ?? 0)

function evidence(e: JournalEntry, ms?: number, note?: string): Evidence {
  return {
    seq: e.seq,
    at: e.time,
    method: e.method,
    path: e.path,
    status: e.status,
    fault: e.fault?.id ?? null,
    ...(ms === undefined ? {} : { ms: Math.round(ms) }),
    ...(note ? { note } : {}),
    ...(e.replica === undefined ? {} : { replica: e.replica }),
    ...(e.cursor === undefined ? {} : { cursor: e.cursor }),
  }
}

/**
 * The attempts a rule selects, in order, each with when it failed: its answer, or for an
 * upgrade that succeeded, the abnormal close of the same user's socket on that service soon
 * after (a socket cut by `ws-drop` is a failed connection to a client).
 */
function attempts(
  entries: readonly JournalEntry[],
  s: Selector,
  after: readonly (number | '5xx' | 'network')[],
  stableMs = 0,
): Attempt[] {
  const out: Attempt[] = []
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i]!
    if (!selects(s, e)) continue
    let failedAt = isFailure(e.status, after) ? endOf(e) : undefined
    if (failedAt === undefined && UPGRADE(e) && e.status !== null && e.status < 300) {
      for (let j = i + 1; j < entries.length; j++) {
        const c = entries[j]!
        if (c.kind === 'ws-open' && c.service === e.service && c.userId === e.userId && j > i + 1) break
        if (c.kind !== 'ws-close' || c.service !== e.service || c.userId !== e.userId) continue
        const at = endOf(c)
        if (at - endOf(e) <= stableMs && c.code !== 1000 && c.code !== 1001) failedAt = at
        break
      }
    }
    out.push({ e, start: startOf(e), end: endOf(e), failedAt })
  }
  return out.sort((a, b) => a.start - b.start)
}

type Judge<K extends Rule['kind']> = (
  rule: Extract<Rule, { kind: K }>,
  entries: readonly JournalEntry[],
  open: readonly OpenRequest[],
  now: number,
) => Pick<Verdict, 'status' | 'detail' | 'evidence'>

/**
 * A retry repeats the same call: the same method and path (V01T's articles and orgs share a
 * route pattern, yet one list's retries are not the other's).
 */
const callOf = (a: Attempt) => `${a.e.method} ${a.e.path}`

function byCall(list: readonly Attempt[]): Attempt[][] {
  const groups = new Map<string, Attempt[]>()
  for (const a of list) {
    const g = groups.get(callOf(a))
    if (g) g.push(a)
    else groups.set(callOf(a), [a])
  }
  return [...groups.values()]
}

const backoff: Judge<'backoff'> = (rule, entries) => {
  const gaps: { a: Attempt; gap: number }[] = []
  const problems: string[] = []
  const pending: string[] = []
  for (const list of byCall(attempts(entries, rule.select, rule.after, rule.stableMs))) {
    // Retries: attempts that follow a failed one; a success that holds ends the streak.
    let streak: number[] = []
    // A step that grew too little, forgiven once: one late timer makes the next gap look flat,
    // while a fixed interval is flat at every step (two in a row fail).
    let flat: string | undefined
    for (let i = 1; i < list.length; i++) {
      const prev = list[i - 1]!
      const cur = list[i]!
      if (prev.failedAt === undefined) {
        streak = []
        flat = undefined
        continue
      }
      const gap = cur.start - prev.failedAt
      const call = callOf(cur)
      gaps.push({ a: cur, gap })
      // Lower bounds strict: never early.
      if (streak.length === 0 && gap < rule.initialMs)
        problems.push(`${call}: first retry after ${Math.round(gap)} ms, sooner than ${rule.initialMs} ms`)
      // Growth loose: against the previous gap less what a late timer may have added to it.
      const last = streak.at(-1)
      if (last !== undefined) {
        const ref = Math.max(rule.initialMs, last - rule.lateMs)
        const needed = Math.min(rule.capMs ?? Number.POSITIVE_INFINITY, ref * rule.minGrowth)
        if (gap < needed) {
          const step = `gap ${Math.round(gap)} ms after ${Math.round(last)} ms grew less than ${rule.minGrowth}x (needed ${Math.round(needed)} ms)`
          if (flat) problems.push(`${call}: ${flat}, then ${step}: two steps in a row did not grow`)
          flat = step
        } else flat = undefined
      }
      if (rule.maxGapMs !== undefined && gap > rule.maxGapMs)
        problems.push(`${call}: gap ${Math.round(gap)} ms over the cap of ${rule.maxGapMs} ms`)
      streak.push(gap)
    }
    // Still failing after a flat step: the next gap decides.
    if (flat && list.at(-1)?.failedAt !== undefined) pending.push(`${callOf(list.at(-1)!)}: ${flat}`)
  }
  gaps.sort((x, y) => x.a.start - y.a.start)
  const ev = gaps.map(({ a, gap }) => evidence(a.e, gap, 'since the failure it retries'))
  if (problems.length) return { status: 'fail', detail: problems.join('; '), evidence: ev }
  if (pending.length)
    return {
      status: 'not-exercised',
      detail: `undecided: ${pending.join('; ')}; the next retry decides (one flat step is forgiven, two fail)`,
      evidence: ev,
    }
  if (gaps.length < rule.minRetries)
    return {
      status: 'not-exercised',
      detail: `${gaps.length} retr${gaps.length === 1 ? 'y' : 'ies'} after failures seen; ${rule.minRetries} needed to judge`,
      evidence: ev,
    }
  return {
    status: 'pass',
    detail: `${gaps.length} retries, gaps ${gaps.map((g) => Math.round(g.gap)).join(', ')} ms`,
    evidence: ev,
  }
}

const maxRetries: Judge<'max-retries'> = (rule, entries) => {
  const list = attempts(entries, rule.select, rule.after)
  const failures = list.filter((a) => a.failedAt !== undefined && isFailure(a.e.status, rule.after))
  if (failures.length === 0)
    return { status: 'not-exercised', detail: 'no failure answer to retry', evidence: [] }
  const ev: Evidence[] = []
  let worst = 0
  for (const f of failures) {
    const retries = list.filter(
      (a) => a.start > f.end && a.start - f.end <= rule.windowMs && callOf(a) === callOf(f),
    )
    // Retries stop counting at the first success (a new attempt chain after it is a new request).
    const firstOk = retries.findIndex((a) => a.failedAt === undefined)
    const counted = firstOk < 0 ? retries : retries.slice(0, firstOk + 1)
    if (counted.length > worst) worst = counted.length
    if (counted.length > rule.max) {
      ev.push(
        evidence(f.e, undefined, 'failure'),
        ...counted.map((a) => evidence(a.e, a.start - f.end, 'retry')),
      )
    }
  }
  if (ev.length)
    return {
      status: 'fail',
      detail: `${worst} retries after a failure; at most ${rule.max} allowed`,
      evidence: ev.slice(0, 20),
    }
  return {
    status: 'pass',
    detail: `${failures.length} failure answer(s), at most ${worst} retr${worst === 1 ? 'y' : 'ies'} each`,
    evidence: failures.slice(0, 10).map((f) => evidence(f.e)),
  }
}

const HELD = new Set(['hang', 'latency', 'slow-body'])

const timeout: Judge<'timeout'> = (rule, entries, open, now) => {
  const bound = rule.limitMs + rule.graceMs
  const held = entries.filter((e) => selects(rule.select, e) && e.fault && HELD.has(e.fault.type))
  const ev: Evidence[] = []
  const problems: string[] = []
  let judged = 0
  for (const e of held) {
    const ms = e.durationMs ?? 0
    const gaveUp = isFailure(e.status, ['network'])
    // A held request answered sooner than the limit says nothing about the client's timeout.
    if (!gaveUp && ms < rule.limitMs) continue
    judged++
    ev.push(evidence(e, ms, gaveUp ? 'client gave up' : 'answered: the client waited'))
    if (ms > bound)
      problems.push(`${e.method} ${e.path} held ${Math.round(ms)} ms (limit ${rule.limitMs} ms)`)
  }
  for (const o of open) {
    if (o.service !== rule.select.service) continue
    if (rule.select.method && o.method !== rule.select.method.toUpperCase()) continue
    const ms = now - o.startedAt
    if (ms <= bound) continue
    judged++
    problems.push(`${o.method} ${o.path} still open after ${Math.round(ms)} ms (limit ${rule.limitMs} ms)`)
  }
  if (problems.length) return { status: 'fail', detail: problems.slice(0, 5).join('; '), evidence: ev }
  if (judged === 0)
    return { status: 'not-exercised', detail: 'no request was held past the limit', evidence: [] }
  return {
    status: 'pass',
    detail: `${judged} held request(s), each given up within ${bound} ms`,
    evidence: ev,
  }
}

const headers: Judge<'headers'> = (rule, entries) => {
  // Upgrades and CORS preflights are the browser's own: a page cannot set headers on them.
  const list = entries.filter((e) => selects(rule.select, e) && !UPGRADE(e) && e.method !== 'OPTIONS')
  if (list.length === 0) return { status: 'not-exercised', detail: 'no request', evidence: [] }
  const wanted = rule.headers.map((h) => h.toLowerCase())
  const missing = list.flatMap((e) => {
    const lacks = wanted.filter((h) => !(h in e.requestHeaders))
    return lacks.length ? [evidence(e, undefined, `missing ${lacks.join(', ')}`)] : []
  })
  if (missing.length)
    return {
      status: 'fail',
      detail: `${missing.length} of ${list.length} request(s) lack ${wanted.join(' or ')}`,
      evidence: missing.slice(0, 20),
    }
  return {
    status: 'pass',
    detail: `${list.length} request(s), each with ${wanted.join(' and ')}`,
    evidence: [],
  }
}

const rate: Judge<'rate'> = (rule, entries) => {
  const list = attempts(entries, rule.select, rule.after)
  const failing = list.filter((a, i) => a.failedAt !== undefined || list[i - 1]?.failedAt !== undefined)
  if (!list.some((a) => a.failedAt !== undefined))
    return { status: 'not-exercised', detail: 'the service never failed', evidence: [] }
  let worst = 0
  let worstAt = 0
  for (let i = 0, j = 0; i < failing.length; i++) {
    while (failing[i]!.start - failing[j]!.start > rule.windowMs) j++
    if (i - j + 1 > worst) {
      worst = i - j + 1
      worstAt = j
    }
  }
  if (worst > rule.max)
    return {
      status: 'fail',
      detail: `${worst} attempts within ${rule.windowMs} ms against a failing service; at most ${rule.max}`,
      evidence: failing.slice(worstAt, worstAt + worst).map((a) => evidence(a.e)),
    }
  return {
    status: 'pass',
    detail: `at most ${worst} attempt(s) in any ${rule.windowMs} ms while failing`,
    evidence: [],
  }
}

const JUDGES: { [K in Rule['kind']]: Judge<K> } = {
  backoff,
  'max-retries': maxRetries,
  timeout,
  headers,
  rate,
}

/** Every rule judged over one tenant's journal (oldest first) and its open requests. */
export function judge(
  rules: readonly Rule[],
  entries: readonly JournalEntry[],
  open: readonly OpenRequest[] = [],
  now = Date.now(),
): Verdict[] {
  return rules.map((rule) => {
    const run = JUDGES[rule.kind] as Judge<Rule['kind']>
    return {
      rule: rule.id,
      kind: rule.kind,
      description: rule.description,
      ...run(rule as never, entries, open, now),
    }
  })
}
