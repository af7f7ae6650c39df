import { afterAll, beforeAll, expect, it } from 'vitest'
import { runSoak, soakProblems } from './soak-runner.ts'
import { envInt, watchProcess, writeResult } from './support.ts'

// The soak in its short form (pnpm test): WebSocket cycles and REST requests at once against
// one process, then memory, handles, presence and the journal checked against the baseline.
// The full size (10,000 cycles, 100,000 requests) is `pnpm soak`; SOAK_CYCLES and
// SOAK_REQUESTS resize this one.

const CYCLES = envInt('SOAK_CYCLES', 300)
const REQUESTS = envInt('SOAK_REQUESTS', 3000)

let watch: ReturnType<typeof watchProcess>
beforeAll(() => {
  watch = watchProcess()
})
afterAll(() => watch.stop())

it(`${CYCLES} WebSocket cycles and ${REQUESTS} REST requests leave nothing behind`, async () => {
  const result = await runSoak({ cycles: CYCLES, requests: REQUESTS })
  const problems = soakProblems(result)
  writeResult('soak-short', { form: 'short', ...result, problems, processErrors: watch.seen })
  expect(problems).toEqual([])
  expect(result.hubSizeAfter).toBe(0)
  expect(Object.values(result.onlineAfter).flat()).toEqual([])
  expect(result.journal.size).toBeLessThanOrEqual(result.journal.limit)
  expect(watch.seen).toEqual([])
}, 180_000)
