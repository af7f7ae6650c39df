import autocannon from 'autocannon'
import { type Benchmark, type Ctx, cookieOf, userById } from './context.ts'
import { type Captured, json, request } from './net.ts'
import { type Peer, startPeer } from './peers.ts'
import {
  gapText,
  type Part,
  type PerfBreakdown,
  perfDuring,
  perfFigures,
  perfUnavailable,
  scaledTo,
} from './perf.ts'
import { layerGap, type ProfileSummary, topOf } from './profile.ts'
import { type Figure, pairedFigure, type TargetResult } from './report.ts'
import type { Host } from './rpc.ts'
import {
  median,
  pairedDifference,
  pairedQuartilesText,
  pairedRatio,
  round,
  roundOrder,
  signedShare,
  signedUs,
  throughputCost,
} from './stats.ts'

// 1. REST throughput with autocannon: fixed connections and duration per round, candidate
// and baseline rounds alternating. The baseline is a bare node:http server answering the
// bytes captured from the fake (same status, headers, body length).

export const V01T_PATH = '/trace/devarno-ecosystem/node/?page_size=20'
export const CHAT_PATH = '/api/v1/messages?channel=general&limit=50'
export const SESSION_PATH = '/api/auth/get-session'
const HOP_FLOOR = 'auth-hop floor (bare node:http asking a bare get-session server, then answering)'

export interface Run {
  rps: number
  /** Server process CPU time (user + system) per request, µs. */
  cpuUs: number
  p50: number
  p99: number
  /** Response bytes (headers included) per request: equal for candidate and baseline. */
  bytesPerResponse: number
  /** Requests answered in the run. */
  requests: number
}

/** A server under load: where it answers and how to read its process's CPU time. */
export interface Server {
  cpu(): Promise<number>
}

export const hostServer = (host: Host): Server => ({
  cpu: () => host.call<number>('cpu'),
})

export async function cannon(
  server: Server,
  url: string,
  headers: Record<string, string>,
  connections: number,
  seconds: number,
): Promise<Run> {
  // No forced GC before a run: `gc()` shrinks V8's young generation, and a server with a large
  // heap (the fakes, not the bare baselines) then pays for thousands of requests while it grows
  // back (in-process, the 20,000 requests after a forced GC cost 1.6x the same requests without
  // one). A real server is never collected on command; every server is warmed up instead.
  const cpuBefore = await server.cpu()
  const result = await autocannon({ url, headers, connections, duration: seconds, pipelining: 1 })
  const cpu = (await server.cpu()) - cpuBefore
  const done = result.requests.total
  if (result.errors || result.non2xx || done === 0) {
    throw new Error(
      `${url}: ${result.errors} errors, ${result.non2xx} non-2xx answers out of ${done}; the benchmark needs clean 2xx runs`,
    )
  }
  return {
    rps: done / result.duration,
    cpuUs: cpu / done,
    p50: result.latency.p50,
    p99: result.latency.p99,
    bytesPerResponse: result.throughput.total / done,
    requests: done,
  }
}

/**
 * Rounds of several servers back to back: each round runs every one once, in `roundOrder`, so
 * drift on a shared machine hits them all evenly and each ratio pairs runs seconds apart.
 */
async function rotate(ctx: Ctx, runners: (() => Promise<Run>)[]): Promise<Run[][]> {
  const out = runners.map((): Run[] => [])
  const indexes = runners.map((_, j) => j)
  for (let i = 0; i < ctx.opts.rest.rounds; i++) {
    for (const j of roundOrder(indexes, i)) out[j]!.push(await runners[j]!())
  }
  return out
}

/** Two servers in alternating rounds. */
async function alternate(ctx: Ctx, a: () => Promise<Run>, b: () => Promise<Run>): Promise<[Run[], Run[]]> {
  const [ra, rb] = await rotate(ctx, [a, b])
  return [ra!, rb!]
}

/** A throughput cost as a signed change of throughput (a cost is fewer requests: `−0.8 %`). */
const signedCost = (cost: number) => signedShare(-cost)
/** A paired ratio as a signed percentage: `+3.1 %`, `−2 %`. */
const signed = (ratio: number) => signedShare(ratio - 1)

const withoutTimestamp = (body: Buffer) => body.toString().replace(/"timestamp":"[^"]*"/, '"timestamp":""')

/** Captures the fake's answer, serves it from the baseline and checks both give the same bytes. */
async function baselineFor(
  ctx: Ctx,
  name: string,
  url: string,
  path: string,
  headers: Record<string, string>,
  server: 'bytes:serve' | 'hono:serve' | 'hop:serve' = 'bytes:serve',
  extra: Record<string, unknown> = {},
): Promise<{ url: string; captured: Captured }> {
  const captured = await request(url + path, { headers })
  if (captured.status !== 200) throw new Error(`${url}${path} answered ${captured.status}`)
  const base = await ctx.baseline.call<string>(server, {
    ...extra,
    name,
    status: captured.status,
    headers: captured.headers,
    body: captured.body.toString('base64'),
  })
  const [again, served] = await Promise.all([
    request(url + path, { headers }),
    request(base + path, { headers }),
  ])
  const same = (x: Captured) =>
    x.status === captured.status &&
    x.body.length === captured.body.length &&
    withoutTimestamp(x.body) === withoutTimestamp(captured.body) &&
    JSON.stringify(x.headers) === JSON.stringify(captured.headers)
  if (!same(again))
    throw new Error(`${name}: the fake's answer changes between requests beyond its timestamp`)
  if (!same(served)) throw new Error(`${name}: the baseline does not serve the captured bytes`)
  return { url: base, captured }
}

function figures(label: string, cand: Run[], base: Run[], note?: string): Figure[] {
  const figure = (name: string, unit: string, pick: (r: Run) => number): Figure => {
    const c = median(cand.map(pick))
    const b = median(base.map(pick))
    return {
      name: `${label}, ${name}`,
      unit,
      candidate: c,
      baseline: b,
      ratio: pairedRatio(cand.map(pick), base.map(pick)),
      rounds: { candidate: cand.map(pick), baseline: base.map(pick) },
      ...(note ? { note } : {}),
    }
  }
  return [
    figure('throughput', 'req/s', (r) => r.rps),
    figure('server CPU per request', 'µs', (r) => r.cpuUs),
    figure('latency p50', 'ms', (r) => r.p50),
    figure('latency p99', 'ms', (r) => r.p99),
    figure('bytes per response (headers + body)', 'B', (r) => r.bytesPerResponse),
  ]
}

const rps = (r: Run) => r.rps
const cpuOf = (runs: Run[]) => median(runs.map((r) => r.cpuUs))

const WAKE_PART: Part = 'kernel: waking the client to read an answer'

const ratioOf = (a: Run[], b: Run[]) => pairedRatio(a.map(rps), b.map(rps))
const quartilesOf = (a: Run[], b: Run[]) => pairedQuartilesText(a.map(rps), b.map(rps))

/** The fake's throughput against another server's, paired by round (a peer: how many times faster). */
function versus(label: string, fake: Run[], other: Run[], note: string): Figure {
  return {
    name: label,
    unit: 'req/s',
    candidate: median(fake.map(rps)),
    baseline: median(other.map(rps)),
    ratio: ratioOf(fake, other),
    rounds: { candidate: fake.map(rps), baseline: other.map(rps) },
    note,
  }
}

interface PeerRuns {
  peer: Peer
  runs: Run[]
}

export const restBenchmark: Benchmark = {
  id: 'rest',
  async run(ctx) {
    const { rest } = ctx.opts
    const v01t = ctx.info.urls.v01t!
    const chat = ctx.info.urls.chat!
    const auth = ctx.info.urls.auth!
    const chatHeaders = { cookie: cookieOf(userById(ctx.info, 'usr_member')) }
    await json(`${ctx.info.control}/__mocks/reset`, { method: 'POST' })
    const v = await baselineFor(ctx, 'v01t', v01t, V01T_PATH, {})
    const h = await baselineFor(ctx, 'chat', chat, CHAT_PATH, chatHeaders)
    // Explaining figures: the Hono floor (same V01T bytes from a bare Hono app) and the
    // get-session hop alone (auth's side of every chat request).
    const floor = await baselineFor(ctx, 'hono', v01t, V01T_PATH, {}, 'hono:serve')
    const g = await baselineFor(ctx, 'auth', auth, SESSION_PATH, chatHeaders)
    // The floor of chat history's design: a bare server asking a bare get-session server.
    const hop = await baselineFor(ctx, 'hop', chat, CHAT_PATH, chatHeaders, 'hop:serve', {
      sessionUrl: g.url + SESSION_PATH,
    })
    const profiles: ProfileSummary[] = []
    const mocks = hostServer(ctx.mocks)
    const bare = hostServer(ctx.baseline)
    const run =
      (
        server: Server,
        url: string,
        connections: number,
        headers: Record<string, string> = {},
        seconds = rest.durationSec,
      ) =>
      () =>
        cannon(server, url, headers, connections, seconds)
    /**
     * One extra run with the server's process profiled (after the measured rounds: profiling
     * slows it). The fake's profiles go into the report; the baselines' explain the gap to them.
     */
    const profiled = async (
      host: Host,
      title: string,
      url: string,
      connections: number,
      headers: Record<string, string> = {},
    ): Promise<ProfileSummary> => {
      await host.call('profile:start')
      let requests: number
      try {
        requests = (await run(hostServer(host), url, connections, headers, rest.sampleSec)()).requests
      } catch (err) {
        await host.call('profile:stop', title).catch(() => {})
        throw err
      }
      const summary = await host.call<ProfileSummary>('profile:stop', title)
      const withCount = { ...summary, requests }
      if (host === ctx.mocks) profiles.push(withCount)
      return withCount
    }
    const low = rest.connections[0]!

    // Peers serving the same V01T bytes, started once (both at a time).
    ctx.log(`rest: starting the peers (${rest.peers.join(', ') || 'none'})`)
    const started = await Promise.all(rest.peers.map((name) => startPeer(name, V01T_PATH, v.captured)))
    const peers = started.flatMap((p) => (p.ok ? [p.peer] : []))
    const missing = started.flatMap((p) => (p.ok ? [] : [{ name: p.name, why: p.why }]))
    for (const m of missing) ctx.log(`rest: peer ${m.name} not measured: ${m.why}`)

    // A peer that fails during the runs (errors, non-2xx answers, a crash) is dropped and
    // reported with why: the bench goes on without it.
    const failed = new Map<Peer, string>()
    const nanRun: Run = {
      rps: Number.NaN,
      cpuUs: Number.NaN,
      p50: Number.NaN,
      p99: Number.NaN,
      bytesPerResponse: Number.NaN,
      requests: 0,
    }
    const peerRun =
      (p: Peer, c: number, seconds = rest.durationSec) =>
      async (): Promise<Run> => {
        if (failed.has(p)) return nanRun
        try {
          return await cannon({ cpu: async () => p.cpu() }, p.url + V01T_PATH, {}, c, seconds)
        } catch (err) {
          failed.set(p, `failed during the runs at ${c} connections: ${(err as Error).message}`)
          ctx.log(`rest: peer ${p.name} ${failed.get(p)}`)
          return nanRun
        }
      }
    const livePeers = () => peers.filter((p) => !failed.has(p))

    const figs: Figure[] = []
    const notes: string[] = []
    const targets: TargetResult[] = []
    const v01tByConnections: {
      connections: number
      fake: Run[]
      bare: Run[]
      hono: Run[]
      peers: PeerRuns[]
    }[] = []
    try {
      for (const c of rest.connections) {
        const servers: [Server, string][] = [
          [mocks, v01t],
          [bare, v.url],
          [bare, floor.url],
        ]
        if (rest.warmupSec > 0) {
          ctx.log(`rest: V01T warm-up, ${c} connections`)
          for (const [server, url] of servers) await run(server, url + V01T_PATH, c, {}, rest.warmupSec)()
          // "Warmed up": the JVM's JIT needs longer than node's before WireMock reaches its pace
          // (once: the later connection counts find it warm).
          for (const p of livePeers())
            await peerRun(p, c, rest.warmupSec + (c === low ? rest.peerWarmupSec : 0))()
        }
        const racing = livePeers()
        ctx.log(
          `rest: V01T list, ${c} connections (fake, bare node:http, bare Hono${racing.map((p) => `, ${p.name}`).join('')})`,
        )
        const [fake, node, hono, ...peerRuns] = await rotate(ctx, [
          ...servers.map(([server, url]) => run(server, url + V01T_PATH, c)),
          ...racing.map((p) => peerRun(p, c)),
        ])
        v01tByConnections.push({
          connections: c,
          fake: fake!,
          bare: node!,
          hono: hono!,
          peers: racing.map((peer, j) => ({ peer, runs: peerRuns[j]! })),
        })
      }
      // Failed peers leave the figures; what they measured before failing is not a result.
      for (const r of v01tByConnections) r.peers = r.peers.filter((p) => !failed.has(p.peer))
      for (const [p, why] of failed) missing.push({ name: p.name, why })

      ctx.log('rest: chat history (fake, the auth-hop floor, bare node:http)')
      if (rest.warmupSec > 0) {
        for (const [server, url] of [
          [mocks, chat],
          [bare, hop.url],
          [bare, h.url],
        ] as const)
          await run(server, url + CHAT_PATH, low, chatHeaders, rest.warmupSec)()
      }
      const [hc, pc, hb] = (await rotate(ctx, [
        run(mocks, chat + CHAT_PATH, low, chatHeaders),
        run(bare, hop.url + CHAT_PATH, low, chatHeaders),
        run(bare, h.url + CHAT_PATH, low, chatHeaders),
      ])) as [Run[], Run[], Run[]]

      ctx.log('rest: get-session alone')
      if (rest.warmupSec > 0) {
        await run(mocks, auth + SESSION_PATH, low, chatHeaders, rest.warmupSec)()
        await run(bare, g.url + SESSION_PATH, low, chatHeaders, rest.warmupSec)()
      }
      const [gc, gb] = await alternate(
        ctx,
        run(mocks, auth + SESSION_PATH, low, chatHeaders),
        run(bare, g.url + SESSION_PATH, low, chatHeaders),
      )

      ctx.log('rest: profiles of the fake and its baselines (V01T list, chat history)')
      const v01tProfiles = new Map<
        number,
        { fake: ProfileSummary; bare: ProfileSummary; hono: ProfileSummary }
      >()
      for (const c of rest.connections) {
        v01tProfiles.set(c, {
          fake: await profiled(ctx.mocks, `V01T list, ${c} connections`, v01t + V01T_PATH, c),
          bare: await profiled(ctx.baseline, 'bare node:http', v.url + V01T_PATH, c),
          hono: await profiled(ctx.baseline, 'bare Hono', floor.url + V01T_PATH, c),
        })
      }
      const chatProfile = await profiled(
        ctx.mocks,
        `chat history (chat and auth share the process), ${low} connections`,
        chat + CHAT_PATH,
        low,
        chatHeaders,
      )
      const floorProfile = await profiled(
        ctx.baseline,
        'the auth-hop floor',
        hop.url + CHAT_PATH,
        low,
        chatHeaders,
      )

      // The same workloads under Linux perf, the kernel and every thread included: what the
      // V8 profiles cannot see, and where the fake's extra CPU over sockets goes.
      const perfWhy = perfUnavailable()
      const sampled = (title: string, host: Host, url: string, headers: Record<string, string> = {}) =>
        perfDuring(
          title,
          host.pid,
          async () => (await run(hostServer(host), url, low, headers, rest.sampleSec)()).requests,
        )
      let kernelView:
        | {
            fake: PerfBreakdown
            hono: PerfBreakdown
            bare: PerfBreakdown
            chat: PerfBreakdown
            hop: PerfBreakdown
          }
        | undefined
      if (perfWhy === null) {
        ctx.log('rest: perf samples of the fake and its baselines (V01T list, chat history)')
        kernelView = {
          fake: await sampled('the fake', ctx.mocks, v01t + V01T_PATH),
          hono: await sampled('bare Hono', ctx.baseline, floor.url + V01T_PATH),
          bare: await sampled('bare node:http', ctx.baseline, v.url + V01T_PATH),
          chat: await sampled('chat history', ctx.mocks, chat + CHAT_PATH, chatHeaders),
          hop: await sampled('the auth-hop floor', ctx.baseline, hop.url + CHAT_PATH, chatHeaders),
        }
      }

      ctx.log(`rest: V01T list with ${rest.idleFaults} idle faults`)
      const install = async () => {
        for (let i = 0; i < rest.idleFaults; i++) {
          await json(`${ctx.info.control}/__mocks/faults`, {
            method: 'POST',
            body: {
              service: 'v01t',
              match: { path: `/nothing/${i}` },
              effect: { type: 'status', status: 500 },
            },
          })
        }
      }
      const clear = () => json(`${ctx.info.control}/__mocks/faults?source=runtime`, { method: 'DELETE' })
      const withFaults = (seconds: number) => async () => {
        await install()
        try {
          return await run(mocks, v01t + V01T_PATH, low, {}, seconds)()
        } finally {
          await clear()
        }
      }
      if (rest.warmupSec > 0) {
        await withFaults(rest.warmupSec)()
        await run(mocks, v01t + V01T_PATH, low, {}, rest.warmupSec)()
      }
      const [fw, fo] = await alternate(ctx, withFaults(rest.durationSec), run(mocks, v01t + V01T_PATH, low))

      ctx.log(`rest: fault engine cost in-process, ${rest.idleFaults} idle faults`)
      const engine = await ctx.mocks.call<{ withFaults: number[]; without: number[] }>('engine:cost', {
        path: V01T_PATH,
        faults: rest.idleFaults,
        requests: rest.engineRequests,
        rounds: ctx.opts.rounds,
      })
      ctx.log('rest: chat history in-process, get-session from the fake auth and from a bare server')
      const split = await ctx.mocks.call<{ withFake: number[]; withBare: number[] }>('chat:split', {
        path: CHAT_PATH,
        cookie: chatHeaders.cookie,
        requests: Math.max(100, Math.round(rest.engineRequests / 8)),
        // As many rounds as the REST runs: chat's blocks are short and its hop's syscalls noisy.
        rounds: rest.rounds,
        session: { ...g.captured, body: g.captured.body.toString('base64') },
      })
      ctx.log('rest: V01T list in-process, layer by layer')
      const layers = await ctx.mocks.call<Record<'floor' | 'frame' | 'cors' | 'faults' | 'fake', number[]>>(
        'v01t:layers',
        { path: V01T_PATH, requests: rest.engineRequests, rounds: rest.rounds },
      )
      const ec = pairedRatio(engine.withFaults, engine.without)
      // The target is judged on the extra CPU the faults cost a request, measured in-process
      // where a microsecond shows, against what a V01T list costs the server over sockets.
      const extraUs = pairedDifference(engine.withFaults, engine.without)
      const servedUs = cpuOf(fo)
      const faultsCost = throughputCost(extraUs, servedUs)

      // Figures, targets and the notes that explain them, all from this run.
      for (const r of v01tByConnections) {
        const c = r.connections
        figs.push(
          ...figures(`V01T list, ${c} connections`, r.fake, r.bare),
          ...figures(`bare Hono app serving the V01T bytes (the floor), ${c} connections`, r.hono, r.bare),
        )
        for (const p of r.peers) {
          figs.push(
            ...figures(`${p.peer.name} serving the V01T bytes (peer), ${c} connections`, p.runs, r.bare),
            versus(
              `V01T list, the fake against ${p.peer.name} (peer), ${c} connections`,
              r.fake,
              p.runs,
              'candidate = the fake, baseline = the peer; ratio = how many times the peer\u2019s throughput',
            ),
          )
        }
        const vr = ratioOf(r.fake, r.bare)
        const fr = ratioOf(r.hono, r.bare)
        targets.push({
          id: `v01t-throughput-${c}`,
          text: `V01T list throughput at ${c} connections >= 0.75 of a bare node:http server serving the same bytes`,
          observed: `ratio ${round(vr, 3)}${quartilesOf(r.fake, r.bare)} (bare Hono floor ${round(fr, 3)}; the fake at ${round(ratioOf(r.fake, r.hono), 3)} of the floor)`,
          met: vr >= 0.75,
        })
        const prof = v01tProfiles.get(c)
        notes.push(
          `V01T list at ${c} connections ${vr >= 0.75 ? 'meets' : 'misses'} 0.75 of bare node:http (${round(vr, 3)}). A bare Hono app on @hono/node-server serving the same bytes (one route, no middleware; every fake is a Hono app) reaches ${round(fr, 3)} at ${round(cpuOf(r.hono), 1)} µs CPU per request; the fake spends ${round(cpuOf(r.fake), 1)} µs, ${round(cpuOf(r.fake) - cpuOf(r.hono), 1)} µs more, and bare node:http ${round(cpuOf(r.bare), 1)} µs. Where the fake's time goes (profile below, self time by file or package): ${topOf(prof?.fake)}. ${prof ? `Profiled busy time per request by layer (sampled on the wall clock: a loaded machine inflates it, so read it as shares): ${layerGap(prof.fake, 'the fake', [prof.hono, 'bare Hono'], [prof.bare, 'bare node:http'])}.` : ''}`,
        )
      }

      // What each layer adds in-process, and how the fake's extra CPU over the floor compares
      // over sockets (paired per round there too: the two ran in the same rounds).
      const low0 = v01tByConnections[0]!
      const layerUs = {
        frame: pairedDifference(layers.frame, layers.floor),
        cors: pairedDifference(layers.cors, layers.frame),
        faults: pairedDifference(layers.faults, layers.cors),
        route: pairedDifference(layers.fake, layers.faults),
      }
      const inProcessExtra = pairedDifference(layers.fake, layers.floor)
      const socketsExtra = pairedDifference(
        low0.fake.map((r) => r.cpuUs),
        low0.hono.map((r) => r.cpuUs),
      )
      const layerRounds = layers.fake.length
      // A factor from one or two rounds says more about the machine than the fake.
      const factors =
        layerRounds >= 3 && inProcessExtra > 0 && socketsExtra > 0
          ? `, ${round(socketsExtra / inProcessExtra, 1)}× the in-process gap; the floor's own request costs ${round(cpuOf(low0.hono) / median(layers.floor), 1)}× its in-process cost there (the kernel, the HTTP parser, wake-ups and the process's heap included)`
          : ''
      figs.push(
        pairedFigure(
          'V01T list in-process (the Node listener without sockets), CPU per request, the fake against the bare Hono floor',
          'µs',
          layers.fake,
          layers.floor,
          `baseline = the floor's app in the fake's process; layers (medians of per-round differences): frame ${signedUs(layerUs.frame)}, CORS ${signedUs(layerUs.cors)}, tenancy check, fault engine and journal ${signedUs(layerUs.faults)}, route ${signedUs(layerUs.route)}`,
        ),
      )
      notes.push(
        `V01T list by layer, in-process (the fake's process, each app behind the Node listener without sockets, ${layerRounds} ${layerRounds === 1 ? 'round' : 'rounds'}; medians of per-round differences, which need not add up): the bare Hono floor costs ${round(median(layers.floor), 2)} µs a request; the fake app's frame (control slice, chain router, envelopes; a route answering the same bytes) adds ${signedUs(layerUs.frame)}, V01T's CORS ${signedUs(layerUs.cors)} (with the request's header view, built by whichever layer asks first), the tenancy check, fault engine and journal (no fault installed) ${signedUs(layerUs.faults)}, and the route's own work (its matching, the page from its memo, the timestamp) ${signedUs(layerUs.route)}: the fake costs ${round(median(layers.fake), 2)} µs, ${signedUs(inProcessExtra)} over the floor. Over sockets (${low0.connections} connections) the fake's CPU per request exceeds the floor's by ${signedUs(socketsExtra)}${factors}.`,
      )

      figs.push(
        ...figures('chat history', hc, hb),
        ...figures(HOP_FLOOR, pc, hb),
        versus(
          'chat history against the auth-hop floor',
          hc,
          pc,
          'candidate = the fake, baseline = the floor of its design; the target ratio',
        ),
        ...figures(`get-session alone (${g.captured.body.length} body bytes)`, gc, gb),
        pairedFigure(
          'chat history in-process (chat\u2019s Node listener without sockets), CPU per request, get-session from the fake auth (served in-process, as chat asks it)',
          'µs',
          split.withFake,
          split.withBare,
          'baseline = the same, get-session over loopback from a bare server answering the fake auth\u2019s own bytes',
        ),
      )
      const authShareUs = pairedDifference(split.withFake, split.withBare)
      const hr = ratioOf(hc, pc)
      targets.push({
        id: 'chat-history-throughput',
        text: "chat history (with the get-session hop to the fake auth, no session cache) >= 0.8 of the design's own floor (bare node:http asking a bare get-session server)",
        observed: `ratio ${round(hr, 3)} of the floor${quartilesOf(hc, pc)} (the fake ${round(ratioOf(hc, hb), 3)} of bare node:http, the floor ${round(ratioOf(pc, hb), 3)})`,
        met: hr >= 0.8,
      })
      notes.push(
        `chat history ${hr >= 0.8 ? 'meets' : 'misses'} 0.8 of its design's floor (${round(hr, 3)}). Each request is chat's own HTTP request (CORS, fault engine, journal, the route; the 50 messages' JSON is memoised per span) and a get-session request to the fake auth (the same layers and the session lookup), which the fake serves in-process: auth's listener is given it on an in-process socket (mocks/core/loopback.ts), so no HTTP client, kernel round trip or HTTP parser lies between them, while auth's faults, journal and Node's header limit act as over TCP (tests/loopback.test.ts compares the two ways under every kind of auth fault). ${round(cpuOf(hc), 1)} µs CPU per request against ${round(cpuOf(pc), 1)} µs for the floor (two bare servers and a keep-alive node:http client, in one process) and ${round(cpuOf(hb), 1)} µs for bare node:http. get-session alone, over sockets, costs ${round(cpuOf(gc), 1)} µs (${round(ratioOf(gc, gb), 3)} of bare node:http serving its bytes). Split in-process (chat's own Node listener, no socket for its request; paired rounds): a chat history request costs ${round(median(split.withFake), 1)} µs with get-session from the fake auth, in-process, and ${round(median(split.withBare), 1)} µs with it over loopback from a bare server answering the same bytes: ${signedUs(authShareUs)} (paired difference). Sessions are never cached: the real services ask auth on every request, which is what lets an auth fault cascade. Where the time goes (profile below): ${topOf(chatProfile)}. Profiled busy time per request by layer (sampled on the wall clock: a loaded machine inflates it, so read it as shares): ${layerGap(chatProfile, 'the fake', [floorProfile, 'the floor'])}.`,
      )

      if (kernelView) {
        // Shares from perf, scaled to the CPU per request measured in the rounds (no perf).
        const k = {
          fake: scaledTo(kernelView.fake, cpuOf(low0.fake)),
          hono: scaledTo(kernelView.hono, cpuOf(low0.hono)),
          bare: scaledTo(kernelView.bare, cpuOf(low0.bare)),
          chat: scaledTo(kernelView.chat, cpuOf(hc)),
          hop: scaledTo(kernelView.hop, cpuOf(pc)),
        }
        figs.push(
          ...perfFigures(
            `V01T list, ${low} connections, CPU per request`,
            k.fake,
            k.hono,
            'baseline = the bare Hono floor',
          ),
          ...perfFigures('chat history, CPU per request', k.chat, k.hop, 'baseline = the auth-hop floor'),
        )
        notes.push(
          `Where the CPU goes over sockets (Linux perf, every thread of the server process, kernel included; one more run of each, ${low} connections; the shares of each part, applied to the CPU per request measured in the rounds): a V01T list costs the fake ${k.fake.totalUs} µs per request, the bare Hono floor ${k.hono.totalUs} µs and bare node:http ${k.bare.totalUs} µs. The fake's extra ${round(k.fake.totalUs - k.hono.totalUs, 1)} µs over the floor: ${gapText(k.fake, k.hono)}. Part of the kernel's share is not the fake's code at all: a loopback send runs the client's receive path, and waking a client that had gone idle (${k.fake.parts[WAKE_PART]} µs per request for the fake, ${k.hono.parts[WAKE_PART]} µs for the floor, ${k.bare.parts[WAKE_PART]} µs for bare node:http) costs more the slower the server, since a client kept busy by a fast server is often still running when the answer comes. Chat history costs ${k.chat.totalUs} µs against the floor's ${k.hop.totalUs} µs: ${gapText(k.chat, k.hop)}.`,
        )
      } else notes.push(`Kernel-side breakdown (Linux perf) not measured: ${perfWhy}.`)

      // Peers: the fake against each, at every connection count; WireMock's target is 5x.
      const wiremockTarget = (runs: { c: number; ratio: number }[]) => {
        const last = runs.at(-1)
        return last
          ? {
              observed: runs.map((r) => `${round(r.ratio, 2)}x at ${r.c} connections`).join(', '),
              met: runs.every((r) => r.ratio >= 5),
            }
          : undefined
      }
      const wm = wiremockTarget(
        v01tByConnections.flatMap((r) =>
          r.peers
            .filter((p) => p.peer.name === 'wiremock')
            .map((p) => ({ c: r.connections, ratio: ratioOf(r.fake, p.runs) })),
        ),
      )
      const wmMissing = missing.find((m) => m.name === 'wiremock')
      targets.push({
        id: 'v01t-vs-wiremock',
        text: 'V01T list throughput >= 5x WireMock (warmed up) serving the same bytes',
        observed: wm ? wm.observed : `not measured: ${wmMissing?.why ?? 'WireMock not in this run'}`,
        met: wm?.met ?? false,
      })
      for (const p of livePeers()) {
        const per = v01tByConnections.map((r) => {
          const runs = r.peers.find((x) => x.peer === p)!.runs
          return `${round(ratioOf(r.fake, runs), 2)}x at ${r.connections} connections (${round(cpuOf(runs), 1)} µs CPU per request against the fake's ${round(cpuOf(r.fake), 1)} µs)`
        })
        notes.push(`Peer ${p.description}: the fake serves the same V01T bytes ${per.join(', ')}.`)
      }
      for (const m of missing) notes.push(`Peer ${m.name} not measured in this run: ${m.why}.`)

      const fc = pairedRatio(
        fw.map((r) => r.cpuUs),
        fo.map((r) => r.cpuUs),
      )
      figs.push(
        ...figures(
          `V01T list with ${rest.idleFaults} idle faults`,
          fw,
          fo,
          'baseline = same fake, no faults',
        ),
        pairedFigure(
          `V01T list in-process (the Node listener without sockets) with ${rest.idleFaults} idle faults, CPU per request`,
          'µs',
          engine.withFaults,
          engine.without,
          'baseline = same fake, no faults',
        ),
      )
      targets.push({
        id: 'idle-faults-cost',
        text: `${rest.idleFaults} installed faults that match nothing cost < 5 % of V01T list throughput (judged by their extra CPU per request, measured in-process where a microsecond can be resolved, against the CPU a request costs over sockets)`,
        observed: `${signedUs(extraUs)} CPU per request in-process (paired; ${signed(ec)} of the in-process request), against ${round(servedUs, 1)} µs per request over sockets: ${signedCost(faultsCost)} throughput; measured directly over sockets ${signed(fc)} server CPU per request, throughput ratio ${round(ratioOf(fw, fo), 3)}`,
        met: faultsCost < 0.05,
      })
    } finally {
      await Promise.all(peers.map((p) => p.close()))
    }
    const peerText = rest.peers.length
      ? ` Peers, in the same rounds: ${rest.peers
          .map((n) =>
            n === 'wiremock'
              ? 'WireMock (the npm `wiremock` package\u2019s standalone jar on the machine\u2019s Java; one stub mapping with the captured status, headers and base64 body; request journal capped at 5,000 like the fake\u2019s)'
              : 'Mockoon\u2019s CLI (npm `@mockoon/cli`; an environment built with @mockoon/commons, one route with the captured body, templating and CORS off, logs to stdout only)',
          )
          .join(
            ' and ',
          )}, each warmed up ${rest.peerWarmupSec} s more than the others before the first rounds; they add their own headers (WireMock \`matched-stub-id\` and chunked encoding, Mockoon a \`charset\`), so their bytes per response differ a little.`
      : ''
    return {
      id: 'rest',
      title: 'REST throughput',
      method: [
        `autocannon (in the parent process), ${rest.connections.join(' and ')} connections for V01T, ${low} for chat and get-session,`,
        `${rest.durationSec} s per run, ${rest.rounds} rounds; in each round every server of a group runs once, back to back,`,
        'the order rotated and reversed every other round; each ratio is the median of per-round ratios (targets give their',
        "quartiles too). Short runs, many of them: this machine's speed changes within seconds (a bare server's throughput",
        'can double from one 1 s run to the next), and a pair that straddles a change says nothing about the servers.',
        `${rest.warmupSec ? `Every server is warmed up ${rest.warmupSec} s at the same connections first. ` : ''}`,
        `V01T: \`GET ${V01T_PATH}\` (${v.captured.body.length} body bytes), from the fake, a bare \`node:http\` server and a bare Hono`,
        'app on @hono/node-server (one route, no middleware: the floor of a Hono fake), both in another child process and',
        'answering the response captured from the fake with the same status, headers and body bytes (checked before the',
        `runs; the V01T body differs only by its \`timestamp\`, which has a fixed length).${peerText}`,
        `Chat: \`GET ${CHAT_PATH}\` with usr_member's cookie (${h.captured.body.length} body bytes); every request validates`,
        'the session by a get-session request to the fake auth (no session cache), which the fake serves in-process (auth\u2019s',
        "listener given the request on an in-process socket: mocks/core/loopback.ts). Its target is judged against the design's own",
        'floor: a bare node:http server that, per request, GETs a bare server answering the captured get-session bytes',
        '(same process, keep-alive node:http agent, answer parsed), then answers the chat bytes; the bare chat baseline',
        'runs in the same rounds. get-session alone: the fake auth against bare node:http serving its bytes. Chat split:',
        'in the fake\u2019s process, chat history in-process (as the idle-faults figure below) with the get-session hop',
        'going, in alternate rounds, to the fake auth (in-process, as chat asks it) and over loopback to a bare server there',
        'answering the fake auth\u2019s own bytes. The',
        `idle-faults figure compares the fake with ${rest.idleFaults} runtime faults installed (\`{service:'v01t', match:{path:'/nothing/<i>'}, effect:{type:'status',status:500}}\`)`,
        'against the same fake with none, over sockets and in-process (the fake\u2019s app behind @hono/node-server\u2019s',
        `request listener, given Node's own IncomingMessage and ServerResponse on a socket that discards the answer: every layer`,
        `of the fake runs as over TCP, the kernel's part is left out; ${rest.engineRequests} requests a round). The target is judged on`,
        'the extra CPU per request measured in-process (median of paired differences), as a share of the CPU a V01T list costs',
        'the server over sockets: throughput over sockets cannot resolve a few percent on a shared 2-core machine.',
        'Layers: in-process the same way, in the fake\u2019s process, apps built up one layer at a time and each answering the',
        'fake\u2019s own V01T answer: the bare Hono floor; the fake app\u2019s frame (createFakeApp with its control slice, a fault',
        'port letting every request through, a route answering the bytes as V01T\u2019s does); that with V01T\u2019s CORS; that',
        'with the tenancy check, fault engine and journal; the fake itself; every app once a round, in as many rounds as the',
        'REST runs, the order rotated and reversed as theirs; every app but the frame writes the same bytes per answer.',
        'Profiles: after the measured rounds, one more run of each fake workload with the V8 profiler on in the fake\u2019s process.',
        'Where Linux perf can sample the kernel, one more run each of the fake, the bare Hono floor, bare node:http, chat',
        'history and its floor under `perf record` (cpu-clock every 1 ms of CPU, call stacks, every thread of the server',
        'process); each sample goes to one part by its stack, and each part\u2019s share is applied to the CPU per request',
        'measured in the rounds (sampling costs the sampled process CPU itself).',
      ].join(' '),
      figures: figs,
      targets,
      notes,
      profiles,
    }
  },
}
