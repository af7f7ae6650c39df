import { spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { cpus, loadavg, tmpdir, totalmem } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { SoakResult } from '../tests/reliability/soak-runner.ts'

// `pnpm reliability`: runs the reliability suites (tests/reliability: fuzz, soak-short,
// aborts, security, db, ...), reads the JSON each one writes, and writes RELIABILITY.md from those
// figures. `--full` also runs the full-size soak (scripts/soak.ts: 10,000 WebSocket cycles and
// 100,000 REST requests) and fuzzes with more runs per property (--fuzz-runs=N, default 300
// with --full). The file is never typed by hand: run this again to refresh it.

const ROOT = fileURLToPath(new URL('../', import.meta.url))

function arg(name: string): string | undefined {
  return process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3)
}
const full = process.argv.includes('--full')
const fuzzRuns = arg('fuzz-runs') ?? (full ? '300' : undefined)
// With --full the other property-based suites try more cases too.
const fullRuns: Record<string, string> = full
  ? { RELIABILITY_ABORT_RUNS: '60', RELIABILITY_SECURITY_RUNS: '150', RELIABILITY_DB_RUNS: '100' }
  : {}

function run(cmd: string, args: string[], env: Record<string, string>): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd: ROOT, env: { ...process.env, ...env }, stdio: 'inherit' })
    child.on('exit', (code) => resolve(code ?? 1))
    child.on('error', () => resolve(1))
  })
}

function readJson<T>(file: string): T | undefined {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as T
  } catch {
    return undefined
  }
}

// ---- shapes the suites write (tests/reliability/*.ts) ----

interface Counter {
  inputs: number
  statuses: Record<string, number>
  accepted: number
  refused: number
}
interface FuzzResult {
  runsPerProperty: number
  seed: number
  services: Record<string, Counter>
  totalInputs: number
  failures: string[]
  processErrors: string[]
}
/** What the soak suites write: the runner's result, plus the checks made on it. */
type SoakFile = SoakResult & { form: string; problems: string[]; processErrors: string[] }
interface AbortsResult {
  runsPerProperty: number
  survived: { name: string; runs: number; lost: string[] }[]
  processErrors: string[]
}
interface DbResult {
  runsPerProperty: number
  seed: number
  survived: { name: string; runs: number; lost: string[]; seen?: Record<string, number> }[]
  serverSocketsAfter: number
  fds: { before?: number; after?: number }
  processErrors: string[]
}
interface SecurityResult {
  checks: { name: string; cases: number; held: boolean; note?: string }[]
  processErrors: string[]
}
interface VitestJson {
  numPassedTests: number
  numFailedTests: number
  numPendingTests: number
  numTotalTests: number
  startTime: number
  testResults: {
    name: string
    assertionResults: {
      fullName: string
      title: string
      status: string
      duration?: number
      ancestorTitles: string[]
    }[]
  }[]
}

// ---- formatting ----

const n = (x: number) => x.toLocaleString('en-US')
const s1 = (ms: number) => `${(ms / 1000).toFixed(1)} s`
const statusList = (statuses: Record<string, number>) =>
  Object.entries(statuses)
    .sort(([, a], [, b]) => b - a)
    .map(([s, c]) => `${s} ×${n(c)}`)
    .join(', ')

function soakRow(label: string, r: SoakFile): string {
  const m = r.memory
  const h = r.handles
  const online = Object.values(r.onlineAfter).flat().length
  return `| ${label} | ${n(r.cycles)} (${n(r.abruptCycles)} abrupt) | ${n(r.requests)} | ${s1(r.durationMs)} (WS ${s1(r.wsMs)}, REST ${s1(r.restMs)}) | ${Math.round(r.requests / (r.restMs / 1000))} req/s, ${Math.round(r.cycles / (r.wsMs / 1000))} cycles/s | ${m.rssBefore} → ${m.rssAfter} MiB (peak ${m.rssPeak}) | ${m.heapBefore} → ${m.heapAfter} MiB | ${h.before} → ${h.after} | ${h.serverSocketsAfter} | ${h.fdsBefore ?? '?'} → ${h.fdsAfter ?? '?'} | ${online === 0 && r.hubSizeAfter === 0 ? 'nobody online' : `${online} online, ${r.hubSizeAfter} in hub`} | ${n(r.journal.size)} / ${n(r.journal.limit)} | ${r.failureCount === 0 && r.problems.length === 0 ? 'none' : `${r.failureCount} failures; ${r.problems.join('; ')}`} |`
}

/** A suite's checks as a table: name, cases, held. */
function checksTable(checks: SecurityResult['checks']): string[] {
  return [
    '| check | cases | held |',
    '|---|---:|---|',
    ...checks.map(
      (c) => `| ${c.name}${c.note ? ` (${c.note})` : ''} | ${n(c.cases)} | ${c.held ? 'yes' : 'NO'} |`,
    ),
    '',
  ]
}

async function main(): Promise<number> {
  const out = mkdtempSync(join(tmpdir(), 'reliability-run-'))
  const startedAt = new Date()
  const loadBefore = loadavg().map((l) => l.toFixed(2))
  const env: Record<string, string> = {
    RELIABILITY_OUT: out,
    ...fullRuns,
    ...(fuzzRuns ? { RELIABILITY_FUZZ_RUNS: fuzzRuns } : {}),
  }
  process.stdout.write(`reliability: suites → ${out}\n`)
  const vitestBin = join(ROOT, 'node_modules', '.bin', 'vitest')
  const vitestJson = join(out, 'vitest.json')
  const suitesCode = await run(
    vitestBin,
    ['run', 'tests/reliability', '--reporter=default', '--reporter=json', `--outputFile=${vitestJson}`],
    env,
  )
  let soakCode: number | undefined
  if (full) {
    process.stdout.write('reliability: full soak (scripts/soak.ts)\n')
    soakCode = await run(process.execPath, ['--import', 'tsx', join(ROOT, 'scripts', 'soak.ts')], env)
  }
  const loadAfter = loadavg().map((l) => l.toFixed(2))

  const vitest = readJson<VitestJson>(vitestJson)
  const fuzz = readJson<FuzzResult>(join(out, 'fuzz.json'))
  const soakShort = readJson<SoakFile>(join(out, 'soak-short.json'))
  const soakFull = readJson<SoakFile>(join(out, 'soak-full.json'))
  const aborts = readJson<AbortsResult>(join(out, 'aborts.json'))
  const security = readJson<SecurityResult>(join(out, 'security.json'))
  const tenants = readJson<SecurityResult>(join(out, 'tenants.json'))
  const db = readJson<DbResult>(join(out, 'db.json'))

  const lines: string[] = []
  const add = (...l: string[]) => lines.push(...l)
  add(
    '# Reliability',
    '',
    `Written by \`pnpm reliability${full ? ' --full' : ''}\` (scripts/reliability-report.ts) from the run of ${startedAt.toISOString()}: the figures below are that run's, read from the JSON the suites in \`tests/reliability/\` wrote. Do not edit this file; run the command again.`,
    '',
    `Machine: ${cpus().length} × ${cpus()[0]?.model ?? 'CPU'}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}; load average ${loadBefore.join(' / ')} at the start, ${loadAfter.join(' / ')} at the end (the machine is shared: throughput figures are lower bounds).`,
    '',
  )
  if (vitest) {
    add(
      `Suites: ${vitest.numPassedTests} of ${vitest.numTotalTests} tests passed, ${vitest.numFailedTests} failed, ${vitest.numPendingTests} skipped (vitest exit code ${suitesCode}).${soakCode === undefined ? '' : ` Full soak exit code ${soakCode}.`}`,
      '',
    )
    const failed = vitest.testResults.flatMap((f) => f.assertionResults.filter((a) => a.status === 'failed'))
    const skipped = vitest.testResults.flatMap((f) =>
      f.assertionResults.filter((a) => a.status === 'skipped' || a.status === 'pending'),
    )
    for (const f of failed) add(`- FAILED: ${f.fullName}`)
    for (const f of skipped) add(`- skipped: ${f.fullName}`)
    if (failed.length || skipped.length) add('')
  } else add(`Suites: no vitest report (exit code ${suitesCode}).`, '')

  add('## Bad input (property-based)', '')
  if (fuzz) {
    add(
      `fast-check seed ${fuzz.seed}, ${fuzz.runsPerProperty} runs per property (plus shrinking), every route and WS frame type of each fake and of the control plane: wrong types, missing and repeated parameters, huge and negative numbers, invalid percent-encoding, unicode and NUL, oversized heads, broken and crowded cookies, malformed and truncated multipart, invalid, binary and protocol-violating WS frames, JSON bodies of wrong shapes. Each answer was checked against that service's own envelope with a strict zod schema (or a valid success shape), for stack traces and file paths, and state was compared after every refusal.`,
      '',
      '| service | inputs tried | accepted | refused | answers seen |',
      '|---|---:|---:|---:|---|',
      ...Object.entries(fuzz.services).map(
        ([name, c]) =>
          `| ${name} | ${n(c.inputs)} | ${n(c.accepted)} | ${n(c.refused)} | ${statusList(c.statuses)} |`,
      ),
      `| **total** | **${n(fuzz.totalInputs)}** | | | |`,
      '',
      `Answers that broke the rules: ${fuzz.failures.length === 0 ? 'none' : fuzz.failures.length}.${fuzz.failures.length ? '' : ' No 5xx without a fault, no stack or path in any body, no state changed by a refused request, every service healthy afterwards.'}`,
      ...fuzz.failures.slice(0, 20).map((f) => `- ${f}`),
      '',
    )
  } else add('No fuzz results were written (the fuzz suite did not run or crashed).', '')

  add('## Load held', '')
  const soaks: [string, SoakFile][] = []
  if (soakShort) soaks.push(['short (in `pnpm test`)', soakShort])
  if (soakFull) soaks.push(['full (`pnpm soak`)', soakFull])
  if (soaks.length) {
    add(
      'WebSocket connect/join/disconnect cycles and REST requests at the same time, against one process running all four fakes and the control plane (clients in the same process). Baseline taken after a warm-up; "after" once every client had gone and a full GC ran.',
      '',
      '| form | WS cycles | REST requests | duration | throughput | RSS | heap used | handles | server sockets after | fds | presence after | journal | failures |',
      '|---|---:|---:|---|---|---|---|---|---:|---|---|---|---|',
      ...soaks.map(([label, r]) => soakRow(label, r)),
      '',
    )
    for (const [label, r] of soaks) {
      add(
        `${label}: answers ${statusList(r.statuses)}; ${r.wsConcurrency} sockets and ${r.httpConcurrency} requests in flight; handles back within ${r.settleMs} ms; chat's and media's own keep-alive connections to auth after the load: ${r.handles.authPoolAfter}.`,
      )
    }
    add('')
  }
  if (!soakFull) {
    add(
      'The full-size soak (10,000 cycles, 100,000 requests) was not part of this run; it runs with `pnpm soak` or `pnpm reliability --full`.',
      '',
    )
  }

  add('## Faults and aborts survived', '')
  if (aborts) {
    add(
      '| what | runs | left behind |',
      '|---|---:|---|',
      ...aborts.survived.map(
        (a) => `| ${a.name} | ${n(a.runs)} | ${a.lost.length ? a.lost.join('; ') : 'nothing'} |`,
      ),
      '',
    )
  } else add('No abort results were written.', '')

  add('## Database (db)', '')
  if (db) {
    add(
      `The db service (tests/reliability/db.test.ts): the Postgres wire protocol, Neon's SQL-over-HTTP and its WebSocket bridge on one port, over the embedded PGlite. fast-check seed ${db.seed}, ${db.runsPerProperty} runs per property (HTTP: three times as many). After every run no proxied connection is left and nobody owns PGlite (one client at a time owns the shared session); at the end a fresh client's query answers outside any transaction.`,
      '',
      '| what | runs | what the clients saw | left behind |',
      '|---|---:|---|---|',
      ...db.survived.map(
        (a) =>
          `| ${a.name} | ${n(a.runs)} | ${a.seen ? statusList(a.seen) : ''} | ${a.lost.length ? a.lost.join('; ') : 'nothing'} |`,
      ),
      '',
      `Server sockets on the db port after the suite: ${db.serverSocketsAfter}; file descriptors ${db.fds.before ?? '?'} → ${db.fds.after ?? '?'} (the process's, PGlite's in-memory database included).`,
      '',
    )
  } else add('No db results were written.', '')

  add('## Safe defaults', '')
  if (security) {
    add(...checksTable(security.checks))
  } else add('No security results were written.', '')

  add('## Tenants', '')
  if (tenants) {
    add(
      'Tenant ids (unknown, malformed, oversized, deleted) in the X-Mocks-Tenant header, the baggage member, the',
      "mocks_tenant cookie and the control API's ?tenant=, on every HTTP fake, chat handshakes and the control plane:",
      'each refused in its envelope, never answered from another world (tests/reliability/tenants.test.ts).',
      '',
      ...checksTable(tenants.checks),
    )
  } else add('No tenant results were written.', '')

  add('## What was lost', '')
  const lost = [
    ...(fuzz?.failures ?? []),
    ...soaks.flatMap(([label, r]) => r.problems.map((p) => `${label}: ${p}`)),
    ...(aborts?.survived.flatMap((a) => a.lost.map((l) => `${a.name}: ${l}`)) ?? []),
    ...(db?.survived.flatMap((a) => a.lost.map((l) => `db: ${a.name}: ${l}`)) ?? []),
    ...(db && db.serverSocketsAfter > 0 ? [`db: ${db.serverSocketsAfter} server sockets left open`] : []),
    ...(security?.checks.filter((c) => !c.held).map((c) => c.name) ?? []),
    ...(tenants?.checks.filter((c) => !c.held).map((c) => c.name) ?? []),
    ...[fuzz, soakShort, soakFull, aborts, security, tenants, db].flatMap((r) => r?.processErrors ?? []),
  ]
  const missing = [
    ['fuzz', fuzz],
    ['soak-short', soakShort],
    ['aborts', aborts],
    ['security', security],
    ['tenants', tenants],
    ['db', db],
    ...(full ? [['soak-full', soakFull]] : []),
  ].flatMap(([name, r]) => (r ? [] : [`${name} wrote no results`]))
  const failedTests =
    vitest?.testResults.flatMap((f) =>
      f.assertionResults.filter((a) => a.status === 'failed').map((a) => `failed test: ${a.fullName}`),
    ) ?? (vitest ? [] : ['the suites wrote no vitest report'])
  lost.push(...failedTests)
  if (lost.length === 0 && missing.length === 0) {
    add(
      'Nothing: no request answered wrongly, no byte stored half-way, no socket, handle or file descriptor left open, no unhandled rejection, nobody left online.',
      '',
    )
  } else add(...[...missing, ...lost].map((l) => `- ${l}`), '')

  const regressions = vitest?.testResults.flatMap((f) =>
    f.assertionResults.filter(
      (a) => /regression/i.test(`${a.ancestorTitles.join(' ')} ${a.title}`) || /Regression/.test(a.title),
    ),
  )
  if (regressions?.length) {
    add(
      '## Regression tests for bugs these suites found',
      '',
      ...regressions.map(
        (r) => `- ${r.status === 'passed' ? 'passed' : r.status.toUpperCase()}: ${r.fullName}`,
      ),
      '',
    )
  }

  writeFileSync(join(ROOT, 'RELIABILITY.md'), `${lines.join('\n').trimEnd()}\n`)
  process.stdout.write(`reliability: wrote RELIABILITY.md (${lost.length + missing.length} problems)\n`)
  if (!process.env.RELIABILITY_KEEP) rmSync(out, { recursive: true, force: true })
  return suitesCode === 0 && (soakCode ?? 0) === 0 && lost.length === 0 && missing.length === 0 ? 0 : 1
}

main().then(
  (code) => process.exit(code),
  (err: Error) => {
    process.stderr.write(`${err.stack ?? err.message}\n`)
    process.exit(1)
  },
)
