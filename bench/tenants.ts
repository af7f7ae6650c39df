import type { Benchmark } from './context.ts'
import type { Figure } from './report.ts'
import { largeScenario } from './reset.ts'
import { V01T_PATH } from './rest.ts'
import { median, pairedRatio, round } from './stats.ts'

/** A cost as a signed percentage: `+3.1 %`, `−2 %` (the report printed `+-0.5 %` before). */
const signed = (cost: number) => `${cost >= 0 ? '+' : '−'}${round(Math.abs(cost) * 100, 1)} %`

// 7. Tenants (issue 16), timed in the server process: creating a tenant from the default
// scenario and from the large one (resolves when every fake serves it), the memory each live
// tenant of the default scenario holds, and what tenant resolution costs a V01T list request
// (CPU per request through the fake's own `app.request()`, alternating blocks in one process).

const MiB = 1024 * 1024

export const tenantsBenchmark: Benchmark = {
  id: 'tenants',
  async run(ctx) {
    const { defaultRuns, largeRuns, messagesPerChannel, records } = ctx.opts.reset
    ctx.log('tenants: create from default')
    const fromDefault = await ctx.mocks.call<number[]>('tenants:create', {
      n: defaultRuns,
      warm: 3,
      request: { name: 'default' },
    })
    ctx.log('tenants: create from the large scenario')
    const fromLarge = await ctx.mocks.call<number[]>('tenants:create', {
      n: largeRuns,
      warm: 1,
      request: { scenario: largeScenario(messagesPerChannel, records) },
    })
    const live = ctx.opts.mode === 'tiny' ? 4 : 16
    ctx.log(`tenants: memory of ${live} live tenants`)
    const memory = await ctx.mocks.call<{
      rssPerTenant: number
      heapPerTenant: number
      heapLeftAfterDelete: number
    }>('tenants:memory', { n: live })
    ctx.log('tenants: resolution cost')
    const cost = await ctx.mocks.call<{
      bare: number[]
      alone: number[]
      bareLive: number[]
      beside: number[]
      named: number[]
    }>('tenants:cost', {
      path: V01T_PATH,
      tenants: 8,
      requests: ctx.opts.rest.engineRequests,
      rounds: Math.max(4, 2 * ctx.opts.rounds),
    })
    const ms = (name: string, values: number[], note?: string): Figure => ({
      name,
      unit: 'ms',
      candidate: median(values),
      rounds: { candidate: values },
      ...(note ? { note } : {}),
    })
    // Each candidate against the baseline blocks run beside it (median of per-round ratios).
    const us = (name: string, values: number[], baseline: number[]): Figure => ({
      name,
      unit: 'µs CPU/request',
      candidate: median(values),
      baseline: median(baseline),
      ratio: pairedRatio(values, baseline),
      rounds: { candidate: values, baseline },
    })
    const aloneCost = pairedRatio(cost.alone, cost.bare) - 1
    const besideCost = pairedRatio(cost.beside, cost.bareLive) - 1
    const namedCost = pairedRatio(cost.named, cost.bareLive) - 1
    return {
      id: 'tenants',
      title: 'Tenants',
      method: [
        `\`mocks.createTenant()\` timed in the server process, ${defaultRuns} times from \`default\` and ${largeRuns} from`,
        '`bench-large` (after unmeasured warm-ups), each deleted after; memory: RSS and heap (used + external)',
        `after full GCs, before and with ${live} live tenants of \`default\`. Resolution cost: CPU per V01T list`,
        `request through the fake's own \`app.request()\` in alternating blocks of ${ctx.opts.rest.engineRequests}; baseline: the same`,
        'fake built on a bare fault engine (no tenancy at all); candidates: the running fake with the default tenant alone,',
        'with 8 other tenants live (sessions are then looked up), and one of them named by `X-Mocks-Tenant`. Each',
        'round runs the baseline next to each candidate, in the same conditions (with the 8 tenants live for the last',
        'two, so their heap weighs on both sides), order rotated; a ratio is the median of the per-round ratios.',
      ].join(' '),
      figures: [
        ms('create a tenant from default', fromDefault),
        ms('create a tenant from bench-large', fromLarge),
        {
          name: 'RSS per live tenant (default)',
          unit: 'MiB',
          candidate: round(memory.rssPerTenant / MiB, 2),
        },
        {
          name: 'heap per live tenant (default)',
          unit: 'MiB',
          candidate: round(memory.heapPerTenant / MiB, 2),
        },
        {
          name: 'heap left after deleting them',
          unit: 'MiB',
          candidate: round(memory.heapLeftAfterDelete / MiB, 2),
        },
        us('V01T list, the default tenant alone (tenancy in place)', cost.alone, cost.bare),
        us(
          'V01T list, default tenant with 8 tenants live (baseline: no tenancy, 8 tenants live)',
          cost.beside,
          cost.bareLive,
        ),
        us(
          'V01T list, a tenant named by X-Mocks-Tenant (baseline: no tenancy, 8 tenants live)',
          cost.named,
          cost.bareLive,
        ),
      ],
      targets: [
        {
          id: 'tenant-create',
          text: 'creating a tenant from the default scenario < 10 ms (median)',
          observed: `median ${round(median(fromDefault), 2)} ms`,
          met: median(fromDefault) < 10,
        },
        {
          id: 'tenant-rss',
          text: 'RSS per extra live tenant of the default scenario < 3 MB',
          observed: `${round(memory.rssPerTenant / MiB, 2)} MiB (heap ${round(memory.heapPerTenant / MiB, 2)} MiB)`,
          met: memory.rssPerTenant < 3 * 1000 * 1000,
        },
        {
          id: 'tenant-resolution',
          text: 'V01T list with tenant resolution against the default tenant: under 5 % cost',
          observed: `default tenant alone ${signed(aloneCost)}, with tenants live ${signed(besideCost)}, a named tenant ${signed(namedCost)} CPU per request against no tenancy (paired rounds)`,
          met: aloneCost < 0.05 && besideCost < 0.05 && namedCost < 0.05,
        },
      ],
      notes: [],
    }
  },
}
