import type { Benchmark } from './context.ts'
import { type Figure, pairedFigure } from './report.ts'
import { largeScenario } from './reset.ts'
import { cannon, hostServer, V01T_PATH } from './rest.ts'
import {
  median,
  pairedDifference,
  pairedRatio,
  round,
  signedShare,
  signedUs,
  throughputCost,
} from './stats.ts'

// 7. Tenants (issue 16), timed in the server process: creating a tenant from the default
// scenario and from the large one (resolves when every fake serves it), the memory each live
// tenant of the default scenario holds, and what tenant resolution costs a V01T list request
// (CPU per request through the fake's Node listener without sockets, alternating blocks in one
// process, as a share of what the request costs the server over sockets).

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
    // The denominator: what a V01T list of the default tenant costs the server over sockets.
    ctx.log('tenants: CPU per V01T list request over sockets')
    const server = hostServer(ctx.mocks)
    const url = `${ctx.info.urls.v01t}${V01T_PATH}`
    const { warmupSec, durationSec } = ctx.opts.rest
    if (warmupSec > 0) await cannon(server, url, {}, 10, warmupSec)
    const servedRuns = []
    for (let r = 0; r < Math.max(1, ctx.opts.rounds); r++)
      servedRuns.push(await cannon(server, url, {}, 10, durationSec))
    const servedUs = median(servedRuns.map((r) => r.cpuUs))
    const ms = (name: string, values: number[], note?: string): Figure => ({
      name,
      unit: 'ms',
      candidate: median(values),
      rounds: { candidate: values },
      ...(note ? { note } : {}),
    })
    // Each candidate against the baseline blocks run beside it (median of per-round ratios).
    const us = (name: string, values: number[], baseline: number[]): Figure =>
      pairedFigure(name, 'µs CPU/request', values, baseline)
    // Extra CPU per request (median of paired differences) and what it costs throughput when a
    // request costs the server `servedUs` over sockets.
    const extra = {
      alone: pairedDifference(cost.alone, cost.bare),
      beside: pairedDifference(cost.beside, cost.bareLive),
      named: pairedDifference(cost.named, cost.bareLive),
    }
    const costOf = (us: number) => throughputCost(us, servedUs)
    const aloneCost = costOf(extra.alone)
    const besideCost = costOf(extra.beside)
    const namedCost = costOf(extra.named)
    const inProcess = (a: number[], b: number[]) => signedShare(pairedRatio(a, b) - 1)
    return {
      id: 'tenants',
      title: 'Tenants',
      method: [
        `\`mocks.createTenant()\` timed in the server process, ${defaultRuns} times from \`default\` and ${largeRuns} from`,
        '`bench-large` (after unmeasured warm-ups), each deleted after; memory: RSS and heap (used + external)',
        `after full GCs, before and with ${live} live tenants of \`default\`. Resolution cost: CPU per V01T list`,
        `request in-process, through the fake's app behind @hono/node-server's request listener given Node's own IncomingMessage and`,
        `ServerResponse on a socket that discards the answer (every layer runs as over TCP; the kernel's part, the same for all, is left out),`,
        `in alternating blocks of ${ctx.opts.rest.engineRequests}; baseline: the same`,
        'fake built on a bare fault engine (no tenancy at all); candidates: the running fake with the default tenant alone,',
        'with 8 other tenants live (sessions are then looked up), and one of them named by `X-Mocks-Tenant`. Each',
        'round runs the baseline next to each candidate, in the same conditions (with the 8 tenants live for the last',
        'two, so their heap weighs on both sides), order rotated and reversed as the REST rounds; a ratio is the median of the per-round ratios. The target',
        'is judged on the extra CPU per request (median of the per-round differences) as a share of the CPU a V01T list of the',
        `default tenant costs the server over sockets (autocannon, 10 connections, median of ${Math.max(1, ctx.opts.rounds)} runs):`,
        'a CPU-bound server loses that share of its throughput. Throughput over sockets cannot resolve a few percent on a',
        'shared 2-core machine (two full runs of the same code gave +0.7/+8.8/+5.7 % and −2.3/+0.6/+4.9 %).',
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
        {
          name: 'V01T list over sockets, server CPU per request (the default tenant; the denominator of the cost)',
          unit: 'µs',
          candidate: servedUs,
          rounds: { candidate: servedRuns.map((r) => r.cpuUs) },
        },
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
          observed: `against no tenancy, extra CPU per request in-process: default tenant alone ${signedUs(extra.alone)}, with tenants live ${signedUs(extra.beside)}, a named tenant ${signedUs(extra.named)} (of the in-process request: ${inProcess(cost.alone, cost.bare)}, ${inProcess(cost.beside, cost.bareLive)}, ${inProcess(cost.named, cost.bareLive)}); against the ${round(servedUs, 1)} µs a request costs over sockets: ${signedShare(aloneCost)}, ${signedShare(besideCost)}, ${signedShare(namedCost)} of throughput`,
          met: aloneCost < 0.05 && besideCost < 0.05 && namedCost < 0.05,
        },
      ],
      notes: [],
    }
  },
}
