import { loadConfig } from '../mocks/runtime/config.ts'
import { ScenarioLoader } from '../mocks/runtime/scenario-loader.ts'
import type { Benchmark, Ctx } from './context.ts'
import { json } from './net.ts'
import type { Figure } from './report.ts'
import { median, percentile, ratio, round } from './stats.ts'

// 3. Reset and scenario switch, timed inside the server process (mocks.reset() /
// switchScenario(), which resolve once every fake serves the new state), for the default
// scenario and a large one. Baseline: rebuilding the same rows (messages, V01T records,
// users) from a pristine copy into plain Maps: the least work any reset has to do.

interface Timed {
  ms: number
  materializedMs: number
}

/** default + `messagesPerChannel` generated messages in each of its channels + one V01T component of `records`. */
export function largeScenario(messagesPerChannel: number, records: number): Record<string, unknown> {
  const base = new ScenarioLoader(loadConfig({}).scenariosDir).load('default')
  return {
    name: 'bench-large',
    description: 'default with a large chat history and a large V01T component (pnpm bench)',
    extends: 'default',
    chat: { generate: { messagesPerChannel } },
    // Arrays replace the parent's: keep default's applications and add one.
    v01t: {
      applications: [
        ...base.v01t.applications,
        {
          slug: 'bench',
          components: [{ slug: 'node', generate: { count: records, cluster: 'bench-orgs' } }],
        },
      ],
    },
  }
}

async function times(ctx: Ctx, n: number, cmd: string, args?: unknown): Promise<Timed[]> {
  const out: Timed[] = []
  for (let i = 0; i < n; i++) out.push(await ctx.mocks.call<Timed>(cmd, args))
  return out
}

async function baselineTimes(ctx: Ctx, n: number): Promise<number[]> {
  await ctx.baseline.call('reset:prepare', await ctx.mocks.call('snapshot'))
  for (let i = 0; i < 3; i++) await ctx.baseline.call('reset:run')
  const out: number[] = []
  for (let i = 0; i < n; i++) out.push((await ctx.baseline.call<{ ms: number }>('reset:run')).ms)
  return out
}

export const resetBenchmark: Benchmark = {
  id: 'reset',
  async run(ctx) {
    const { defaultRuns, largeRuns, messagesPerChannel, records } = ctx.opts.reset
    ctx.log('reset: default')
    await ctx.mocks.call('switch', { name: 'default' })
    // Warm-up (JIT): the first resets after start are slower than any later one.
    await times(ctx, 3, 'reset')
    const def = await times(ctx, defaultRuns, 'reset')
    const defHttp: number[] = []
    for (let i = 0; i < Math.min(5, defaultRuns); i++) {
      const started = performance.now()
      await json(`${ctx.info.control}/__mocks/reset`, { method: 'POST' })
      defHttp.push(performance.now() - started)
    }
    const defCounts = await ctx.mocks.call<{ messages: number }>('counts')
    const defBase = await baselineTimes(ctx, defaultRuns)

    ctx.log('reset: large scenario')
    const large = largeScenario(messagesPerChannel, records)
    const switchIn = await times(ctx, 1, 'switch', { scenario: large })
    const big = await times(ctx, largeRuns, 'reset')
    const bigCounts = await ctx.mocks.call<{ messages: number }>('counts')
    const bigBase = await baselineTimes(ctx, largeRuns)
    const switchOut = await times(ctx, 1, 'switch', { name: 'default' })

    const fig = (name: string, cand: number[], base?: number[], note?: string): Figure => ({
      name,
      unit: 'ms',
      candidate: median(cand),
      ...(base ? { baseline: median(base), ratio: ratio(median(cand), median(base)) } : {}),
      rounds: { candidate: cand, ...(base ? { baseline: base } : {}) },
      ...(note ? { note } : {}),
    })
    const defMs = def.map((t) => t.ms)
    const bigMs = big.map((t) => t.ms)
    const bigFull = big.map((t) => t.materializedMs)
    return {
      id: 'reset',
      title: 'Reset and scenario switch',
      method: [
        `\`mocks.reset()\` timed in the server process, ${defaultRuns} times for \`default\` (${defCounts.messages} chat messages;`,
        'after 3 unmeasured warm-up resets)',
        `and ${largeRuns} times for an inline scenario \`bench-large\` (extends default; \`chat.generate.messagesPerChannel: ${messagesPerChannel}\`,`,
        `${bigCounts.messages} messages in all, plus a V01T component generating ${records} records).`,
        'A reset resolves when every fake serves the new state; chat writes a seed of more than 2,000 messages to its',
        '@msw/data collection in the background after that (mocks/chat/README.md), so "until materialized" is also given.',
        'The HTTP figure is `POST /__mocks/reset` timed by the client. Baseline: `structuredClone` of the same rows',
        '(every chat message, V01T record and user, taken from the running fakes) rebuilt into Maps by id.',
      ].join(' '),
      figures: [
        fig('reset default', defMs, defBase),
        fig('reset default, p95', [percentile(defMs, 95)], undefined, 'over the runs'),
        fig('reset default over HTTP (POST /__mocks/reset)', defHttp),
        fig('reset bench-large', bigMs, bigBase),
        fig('reset bench-large, until chat materialized', bigFull, bigBase),
        fig(
          'switch default → bench-large',
          switchIn.map((t) => t.ms),
          undefined,
          'one run',
        ),
        fig(
          'switch default → bench-large, until chat materialized',
          switchIn.map((t) => t.materializedMs),
        ),
        fig(
          'switch bench-large → default',
          switchOut.map((t) => t.ms),
          undefined,
          'one run',
        ),
      ],
      targets: [
        {
          id: 'reset-default',
          text: 'reset of the default scenario < 10 ms',
          observed: `median ${round(median(defMs), 2)} ms`,
          met: median(defMs) < 10,
        },
        {
          id: 'reset-large',
          text: `reset of the large scenario (issue #8: 10,000 messages and 1,000 V01T records; here ${bigCounts.messages} and ${records}) < 200 ms`,
          observed: `median ${round(median(bigMs), 1)} ms until serving (${round(median(bigFull), 1)} ms until chat's collection is full)`,
          met: median(bigMs) < 200,
        },
      ],
      notes: [],
    }
  },
}
