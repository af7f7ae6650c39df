import { runSoak, soakProblems } from '../tests/reliability/soak-runner.ts'
import { envInt, writeResult } from '../tests/reliability/support.ts'

// `pnpm soak`: the full-size soak (10,000 WebSocket connect/disconnect cycles and 100,000 REST
// requests at once against one process running every fake). Writes soak-full.json where the
// reliability report reads it (RELIABILITY_OUT, else a temp folder) and exits non-zero when
// memory, handles, presence or the journal did not come back. SOAK_CYCLES / SOAK_REQUESTS
// (or --cycles= / --requests=) resize it.

function arg(name: string): string | undefined {
  return process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3)
}

async function main(): Promise<number> {
  process.env.MOCKS_LOG_LEVEL ??= 'warn'
  const cycles = Number(arg('cycles') ?? envInt('SOAK_CYCLES', 10_000))
  const requests = Number(arg('requests') ?? envInt('SOAK_REQUESTS', 100_000))
  if (!Number.isInteger(cycles) || cycles < 1 || !Number.isInteger(requests) || requests < 1) {
    process.stderr.write('--cycles and --requests must be whole numbers >= 1\n')
    return 2
  }
  const started = Date.now()
  const say = (line: string) =>
    process.stdout.write(`[soak +${Math.round((Date.now() - started) / 1000)}s] ${line}\n`)
  const unhandled: string[] = []
  process.on('unhandledRejection', (r) =>
    unhandled.push(`unhandledRejection: ${String((r as Error)?.stack ?? r)}`),
  )
  process.on('uncaughtException', (e) => unhandled.push(`uncaughtException: ${e.stack ?? e.message}`))
  const result = await runSoak({ cycles, requests, progress: say })
  const problems = [...soakProblems(result), ...unhandled]
  const form = cycles >= 10_000 && requests >= 100_000 ? 'full' : 'custom'
  const file = writeResult(`soak-${form}`, {
    form,
    ...result,
    problems,
    processErrors: unhandled,
  })
  const m = result.memory
  say(
    `${result.cycles} cycles + ${result.requests} requests in ${(result.durationMs / 1000).toFixed(1)} s; ` +
      `RSS ${m.rssBefore} -> ${m.rssAfter} MiB (peak ${m.rssPeak}), heap ${m.heapBefore} -> ${m.heapAfter} MiB, ` +
      `handles ${result.handles.before} -> ${result.handles.after}; ${file}`,
  )
  for (const p of problems) say(`PROBLEM: ${p}`)
  return problems.length ? 1 : 0
}

main().then(
  (code) => process.exit(code),
  (err: Error) => {
    process.stderr.write(`${err.stack ?? err.message}\n`)
    process.exit(1)
  },
)
