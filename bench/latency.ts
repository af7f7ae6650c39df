import http from 'node:http'
import type { Benchmark, Ctx } from './context.ts'
import { json, request, sleep } from './net.ts'
import type { Figure } from './report.ts'
import { max, median, min, percentile, round } from './stats.ts'

// 6. Fault precision: how late a latency fault answers, compared with what was configured.
// Client side on keep-alive connections (request start to last body byte, minus the delay);
// server side from the journal's durationMs (fault middleware entry to response). Baseline: a
// bare node:http server answering the same bytes after setTimeout(delay).

const PATH = '/trace/flight-path/artefact/?page_size=20'
const MATCH = '/trace/flight-path/artefact/'

interface Errors {
  client: number[]
  server: number[]
}

/**
 * `samples` requests over `connections` keep-alive sockets, each sequential; elapsed ms each.
 * The sockets are opened (one unmeasured request each) before `arm` installs the delay, and
 * their loops start `delay / connections` apart, so answers do not all fall due at once and
 * queue behind one another.
 */
async function timedRequests(
  url: string,
  connections: number,
  samples: number,
  delay: number,
  arm: () => Promise<unknown>,
): Promise<number[]> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: connections })
  const out: number[] = []
  try {
    await Promise.all(Array.from({ length: connections }, () => request(url, { agent })))
    await arm()
    let left = samples
    await Promise.all(
      Array.from({ length: connections }, async (_, k) => {
        await sleep((k * delay) / connections)
        while (left > 0) {
          left--
          const started = performance.now()
          const res = await request(url, { agent })
          const elapsed = performance.now() - started
          if (res.status !== 200) throw new Error(`${url}: ${res.status}`)
          out.push(elapsed)
        }
      }),
    )
  } finally {
    agent.destroy()
  }
  return out
}

async function candidate(ctx: Ctx, delay: number): Promise<Errors> {
  const control = ctx.info.control
  const { connections, samplesPerDelay } = ctx.opts.latency
  let id: string | undefined
  try {
    const elapsed = await timedRequests(
      ctx.info.urls.v01t + PATH,
      connections,
      samplesPerDelay,
      delay,
      async () => {
        const fault = await json<{ id: string }>(`${control}/__mocks/faults`, {
          method: 'POST',
          body: {
            service: 'v01t',
            match: { path: MATCH },
            effect: { type: 'latency', ms: delay, jitterMs: 0 },
          },
        })
        id = fault.id
      },
    )
    const { entries } = await json<{
      entries: { durationMs: number | null; fault: { id: string } | null }[]
    }>(`${control}/__mocks/journal?service=v01t&path=${encodeURIComponent(MATCH)}`)
    const server = entries.filter((e) => e.fault?.id === id && e.durationMs !== null)
    if (server.length !== elapsed.length) {
      throw new Error(`journal holds ${server.length} faulted requests, ${elapsed.length} were made`)
    }
    return { client: elapsed.map((e) => e - delay), server: server.map((e) => e.durationMs! - delay) }
  } finally {
    if (id) await json(`${control}/__mocks/faults/${id}`, { method: 'DELETE' })
  }
}

async function baseline(ctx: Ctx, url: string, delay: number): Promise<Errors> {
  const { connections, samplesPerDelay } = ctx.opts.latency
  await ctx.baseline.call('delay:set', 0)
  const elapsed = await timedRequests(url, connections, samplesPerDelay, delay, () =>
    ctx.baseline.call('delay:set', delay),
  )
  const server = await ctx.baseline.call<number[]>('delay:samples')
  return { client: elapsed.map((e) => e - delay), server: server.map((s) => s - delay) }
}

export const latencyBenchmark: Benchmark = {
  id: 'latency',
  async run(ctx) {
    const { delays, connections, samplesPerDelay } = ctx.opts.latency
    const captured = await request(ctx.info.urls.v01t + PATH)
    const base = await ctx.baseline.call<string>('delay:start', {
      status: captured.status,
      headers: captured.headers,
      body: captured.body.toString('base64'),
    })
    // The request's own time with no fault: what the client-side error contains besides the fault.
    const noFault = async (url: string) =>
      median(await timedRequests(url, connections, samplesPerDelay, 0, async () => {}))
    await ctx.baseline.call('delay:set', 0)
    const floor = {
      candidate: await noFault(ctx.info.urls.v01t + PATH),
      baseline: await noFault(base + PATH),
    }
    const figures: Figure[] = [
      {
        name: 'no fault: request time, client side, p50',
        unit: 'ms',
        candidate: floor.candidate,
        baseline: floor.baseline,
      },
    ]
    const all = {
      client: [] as number[],
      server: [] as number[],
      p95: [] as number[],
      clientP95: [] as number[],
    }
    for (const delay of delays) {
      ctx.log(`latency: ${delay} ms`)
      const c = await candidate(ctx, delay)
      const b = await baseline(ctx, base + PATH, delay)
      all.client.push(...c.client)
      all.server.push(...c.server)
      all.p95.push(percentile(c.server, 95))
      all.clientP95.push(percentile(c.client, 95))
      const row = (side: 'client' | 'server', stat: string, pick: (v: number[]) => number): Figure => ({
        name: `latency ${delay} ms: observed − configured, ${side} side, ${stat}`,
        unit: 'ms',
        candidate: pick(c[side]),
        baseline: pick(b[side]),
        rounds: { candidate: [min(c[side]), max(c[side])], baseline: [min(b[side]), max(b[side])] },
      })
      for (const side of ['client', 'server'] as const) {
        figures.push(
          row(side, 'p50', median),
          row(side, 'p95', (v) => percentile(v, 95)),
          row(side, 'min', min),
        )
      }
    }
    const earliest = Math.min(min(all.client), min(all.server))
    const worstP95 = max(all.p95)
    return {
      id: 'latency',
      title: 'Fault precision (latency faults)',
      method: [
        `For each delay (${delays.join(', ')} ms) a runtime fault \`{service:'v01t', match:{path:'${MATCH}'}, effect:{type:'latency', ms, jitterMs:0}}\``,
        `is installed, then ${samplesPerDelay} requests \`GET ${PATH}\` are made over ${connections} keep-alive connections`,
        '(opened beforehand), each connection sequential, their starts staggered by delay / connections so answers do',
        'not coincide. Client side: request start to the last body byte, minus the configured delay (so it includes the',
        'request\'s own time, given as "no fault"). Server side: the journal\'s `durationMs` (from the fault middleware',
        'to the response) minus the delay. Baseline: a bare node:http server answering the same bytes after',
        '`setTimeout(delay)`, timed the same two ways. Ratios are left out: both sides are small errors, not rates.',
        'The rounds columns give min and max.',
      ].join(' '),
      figures,
      targets: [
        {
          id: 'latency-never-early',
          text: 'latency faults are never early (observed − configured >= 0, client and server side)',
          observed: `smallest error ${round(earliest, 2)} ms over ${all.client.length + all.server.length} samples`,
          met: earliest >= 0,
        },
        {
          id: 'latency-p95',
          text: 'latency fault p95 error < 5 ms (judged server side: what the fault controls)',
          observed: `worst server-side p95 ${round(worstP95, 2)} ms over ${delays.join('/')} ms; client side ${round(max(all.clientP95), 2)} ms`,
          met: worstP95 < 5,
        },
      ],
      notes: [],
    }
  },
}
