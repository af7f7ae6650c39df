import path from 'node:path'
import { parseArgs } from 'node:util'
import { PRESETS, runAndWrite } from '../bench/harness.ts'
import { ROOT } from '../bench/machine.ts'
import { renderConsole } from '../bench/report.ts'
import { PROFILE_DIR_ENV } from '../bench/rpc.ts'

// `pnpm bench`: runs every benchmark against real servers on 127.0.0.1, prints a table and
// writes BENCHMARKS.md (~8 min). `--quick`: a short run (~3 min); `--tiny`: a smoke run of
// the harness; `--only rest,ws`: some sections (rest, latency, reset, tenants, db-reset, ws, upload, coldstart, replicas);
// `--out file.md`: write elsewhere; `--cpu-prof dir`: V8 profiles of the server processes (the
// whole run per process, plus each profiled workload's own). Peers (WireMock on Java, Mockoon)
// run in the REST section when installed; a missing one is reported and skipped.

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    tiny: { type: 'boolean', default: false },
    only: { type: 'string' },
    out: { type: 'string' },
    'cpu-prof': { type: 'string' },
  },
})

// Server processes write V8 CPU profiles there (open them in Chrome DevTools): finding causes.
if (values['cpu-prof']) process.env[PROFILE_DIR_ENV] = path.resolve(values['cpu-prof'])
const opts = values.tiny ? PRESETS.tiny : values.quick ? PRESETS.quick : PRESETS.full
const out = values.out ? path.resolve(values.out) : path.join(ROOT, 'BENCHMARKS.md')
const only = values.only
  ?.split(',')
  .map((s) => s.trim())
  .filter(Boolean)
const log = (message: string) =>
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}\n`)

// Ctrl-C: exit normally so child processes are stopped (bench/coldstart.ts, bench/rpc.ts).
process.once('SIGINT', () => process.exit(130))

try {
  const report = await runAndWrite(opts, out, { log, ...(only ? { only } : {}) })
  process.stdout.write(
    `\n${renderConsole(report)}\nwrote ${path.relative(process.cwd(), out) || out} (${Math.round(report.seconds)} s)\n`,
  )
} catch (err) {
  process.stderr.write(`${(err as Error).stack ?? String(err)}\n`)
  process.exit(1)
}
