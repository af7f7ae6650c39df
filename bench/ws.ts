import WebSocket from 'ws'
import { CHAT_MAX_FRAME_BYTES } from '../mocks/chat/index.ts'
import { type Benchmark, type Ctx, cookieOf, type SeededUser } from './context.ts'
import { request, sleep } from './net.ts'
import {
  gapText,
  type PerfBreakdown,
  type PerfRecording,
  perfFigures,
  perfUnavailable,
  scaledTo,
  startPerf,
} from './perf.ts'
import { layerGap, type ProfileSummary, topOf } from './profile.ts'
import { type Figure, pairedFigure } from './report.ts'
import type { Host } from './rpc.ts'
import { median, pairedQuartilesText, percentile, ratio, round } from './stats.ts'

// 4. WebSocket fan-out: N clients joined to `general`, one sender. Paced phase: p50/p99 from
// send to receipt at every client; burst phase: delivered frames per second with a bounded
// number of messages in flight. Baseline: a bare `ws` server broadcasting chat's frame shape
// with the same byte count. Clients and sender live in this process; servers in children.

const CHANNEL = 'general'
const MARK = '"content":"bench-'
const CONTENT_PAD = 'x'.repeat(64)

interface Fleet {
  name: string
  /** The server process, for its CPU time. */
  host: Host
  receivers: WebSocket[]
  sender: WebSocket
  connectMs: number
  /** Bytes of one message frame as received (checked equal for both servers). */
  frameBytes: number
}

interface Tracker {
  sentAt: Map<number, number>
  delivered: Map<number, number>
  latencies: number[]
  onComplete: (seq: number) => void
}

let seqCounter = 0
const content = (seq: number) => `bench-${String(seq).padStart(7, '0')}-${CONTENT_PAD}`

function open(url: string, user: SeededUser): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${url}/ws?token=${user.cookieValue}`, { maxPayload: CHAT_MAX_FRAME_BYTES })
    const timer = setTimeout(() => {
      ws.terminate()
      reject(new Error(`${url}: ${user.id} not joined within 20 s`))
    }, 20_000)
    ws.once('unexpected-response', (_req, res) => {
      clearTimeout(timer)
      reject(new Error(`${url}: handshake for ${user.id} answered ${res.statusCode}`))
    })
    ws.once('error', (err) => {
      clearTimeout(timer)
      reject(err)
    })
    ws.once('open', () => ws.send(JSON.stringify({ type: 'join', channel: CHANNEL })))
    const onMessage = (data: Buffer) => {
      const frame = JSON.parse(data.toString()) as { type: string; user_id?: string; online?: boolean }
      if (frame.type === 'error') reject(new Error(`${url}: join refused: ${data.toString()}`))
      if (frame.type === 'presence' && frame.user_id === user.id && frame.online) {
        clearTimeout(timer)
        // Late socket errors (resets at the end) must not crash the run.
        ws.on('error', () => {})
        ws.off('message', onMessage)
        resolve(ws)
      }
    }
    ws.on('message', onMessage)
  })
}

async function openFleet(
  name: string,
  host: Host,
  url: string,
  users: SeededUser[],
  sender: SeededUser,
  ctx: Ctx,
): Promise<Fleet> {
  const { clients, batch } = ctx.opts.ws
  const started = performance.now()
  const receivers: WebSocket[] = []
  for (let i = 0; i < clients; i += batch) {
    const n = Math.min(batch, clients - i)
    receivers.push(
      ...(await Promise.all(Array.from({ length: n }, (_, j) => open(url, users[(i + j) % users.length]!)))),
    )
  }
  const connectMs = performance.now() - started
  const s = await open(url, sender)
  // Measure one frame's size, as every receiver gets it.
  const seq = seqCounter++
  const got = new Promise<number>((resolve) => {
    const first = receivers[0]!
    const onFrame = (data: Buffer) => {
      if (!data.includes(MARK)) return
      first.off('message', onFrame)
      resolve(data.length)
    }
    first.on('message', onFrame)
  })
  s.send(JSON.stringify({ type: 'message', channel: CHANNEL, content: content(seq) }))
  const frameBytes = await got
  await sleep(200)
  return { name, host, receivers, sender: s, connectMs, frameBytes }
}

function track(fleet: Fleet): Tracker {
  const t: Tracker = { sentAt: new Map(), delivered: new Map(), latencies: [], onComplete: () => {} }
  const n = fleet.receivers.length
  for (const ws of fleet.receivers) {
    ws.removeAllListeners('message')
    ws.on('message', (data: Buffer) => {
      const now = performance.now()
      const text = data.toString('latin1')
      const at = text.indexOf(MARK)
      if (at < 0) return
      const seq = Number(text.slice(at + MARK.length, at + MARK.length + 7))
      const sent = t.sentAt.get(seq)
      if (sent === undefined) return
      t.latencies.push(now - sent)
      const count = (t.delivered.get(seq) ?? 0) + 1
      t.delivered.set(seq, count)
      if (count === n) t.onComplete(seq)
    })
  }
  return t
}

function send(fleet: Fleet, t: Tracker): void {
  const seq = seqCounter++
  t.sentAt.set(seq, performance.now())
  fleet.sender.send(JSON.stringify({ type: 'message', channel: CHANNEL, content: content(seq) }))
}

interface Round {
  pacedP50: number
  pacedP99: number
  framesPerSec: number
  burstP50: number
  burstP99: number
  /** Server CPU time per delivered frame in the burst, µs. */
  cpuPerFrameUs: number
}

/** Called around a round's burst (perf samples only the burst, the phase the CPU is measured in). */
interface BurstHooks {
  start(): Promise<void>
  stop(frames: number): Promise<void>
}

async function round1(fleet: Fleet, ctx: Ctx, hooks?: BurstHooks): Promise<Round> {
  const { pacedMessages, pacedIntervalMs, burstMessages, window } = ctx.opts.ws
  const n = fleet.receivers.length
  // Paced: latency without queueing behind earlier messages.
  const paced = track(fleet)
  const collect = new Promise<void>((resolve, reject) => {
    let complete = 0
    const timer = setTimeout(
      () => reject(new Error(`${fleet.name}: paced phase incomplete (${complete}/${pacedMessages})`)),
      pacedMessages * pacedIntervalMs + 20_000,
    )
    paced.onComplete = () => {
      if (++complete === pacedMessages) {
        clearTimeout(timer)
        resolve()
      }
    }
  })
  for (let i = 0; i < pacedMessages; i++) {
    send(fleet, paced)
    await sleep(pacedIntervalMs)
  }
  await collect

  // Burst: at most `window` messages not yet delivered to everyone.
  const burst = track(fleet)
  await hooks?.start()
  const cpuBefore = await fleet.host.call<number>('cpu')
  const started = performance.now()
  const elapsed = await new Promise<number>((resolve, reject) => {
    let sent = 0
    let complete = 0
    const timer = setTimeout(
      () => reject(new Error(`${fleet.name}: burst phase incomplete (${complete}/${burstMessages})`)),
      60_000,
    )
    const pump = () => {
      while (sent < burstMessages && sent - complete < window) {
        sent++
        send(fleet, burst)
      }
    }
    burst.onComplete = () => {
      complete++
      if (complete === burstMessages) {
        clearTimeout(timer)
        resolve(performance.now() - started)
      } else pump()
    }
    pump()
  })
  const cpuPerFrameUs = ((await fleet.host.call<number>('cpu')) - cpuBefore) / (burstMessages * n)
  await hooks?.stop(burstMessages * n)
  return {
    pacedP50: percentile(paced.latencies, 50),
    pacedP99: percentile(paced.latencies, 99),
    framesPerSec: (burstMessages * n) / (elapsed / 1000),
    burstP50: percentile(burst.latencies, 50),
    burstP99: percentile(burst.latencies, 99),
    cpuPerFrameUs,
  }
}

/** Users whose seeded session get-session accepts (banned and expired ones cannot connect). */
async function liveUsers(ctx: Ctx): Promise<SeededUser[]> {
  const out: SeededUser[] = []
  for (const u of ctx.info.users) {
    if (!u.cookieValue || u.banned) continue
    const res = await request(`${ctx.info.urls.auth}/api/auth/get-session`, {
      headers: { cookie: cookieOf(u) },
    })
    if (res.status === 200 && res.body.toString() !== 'null') out.push(u)
  }
  return out
}

function close(fleet: Fleet | undefined) {
  for (const ws of [...(fleet?.receivers ?? []), ...(fleet ? [fleet.sender] : [])]) ws.terminate()
}

export const wsBenchmark: Benchmark = {
  id: 'ws',
  async run(ctx) {
    const o = ctx.opts.ws
    await ctx.mocks.call('switch', { name: 'default' })
    const users = await liveUsers(ctx)
    const sender = users.find((u) => u.id === 'usr_member') ?? users[0]!
    const base = await ctx.baseline.call<string>('ws:start', {
      users: Object.fromEntries(users.map((u) => [decodeURIComponent(u.cookieValue!), u.id])),
      maxPayload: CHAT_MAX_FRAME_BYTES,
    })
    let cand: Fleet | undefined
    let bare: Fleet | undefined
    try {
      ctx.log(`ws: connecting ${o.clients} clients to chat`)
      cand = await openFleet(
        'chat',
        ctx.mocks,
        ctx.info.urls.chat!.replace(/^http/, 'ws'),
        users,
        sender,
        ctx,
      )
      ctx.log(`ws: connecting ${o.clients} clients to the bare ws server`)
      bare = await openFleet('bare ws', ctx.baseline, base.replace(/^http/, 'ws'), users, sender, ctx)
      if (cand.frameBytes !== bare.frameBytes) {
        throw new Error(`frames differ in size: chat ${cand.frameBytes} B, baseline ${bare.frameBytes} B`)
      }
      const rc: Round[] = []
      const rb: Round[] = []
      for (let i = 0; i < o.rounds; i++) {
        ctx.log(`ws: round ${i + 1}`)
        if (i % 2 === 0) {
          rc.push(await round1(cand, ctx))
          rb.push(await round1(bare, ctx))
        } else {
          rb.push(await round1(bare, ctx))
          rc.push(await round1(cand, ctx))
        }
      }
      // Where chat's time goes: one more round with the profiler on in its process, and one of
      // the bare ws server in its own (per delivered frame, so the gap is split by layer).
      const profiledRound = async (fleet: Fleet, title: string): Promise<ProfileSummary> => {
        await fleet.host.call('profile:start')
        try {
          await round1(fleet, ctx)
        } catch (err) {
          await fleet.host.call('profile:stop', title).catch(() => {})
          throw err
        }
        const summary = await fleet.host.call<ProfileSummary>('profile:stop', title)
        return { ...summary, requests: (o.pacedMessages + o.burstMessages) * fleet.receivers.length }
      }
      ctx.log('ws: profiles of chat and bare ws (one more round each)')
      const profile = await profiledRound(
        cand,
        `WS fan-out to ${o.clients} clients (a paced phase and a burst)`,
      )
      const bareProfile = await profiledRound(bare, 'bare ws')
      // The same under Linux perf (every thread, kernel included), per delivered frame.
      const perfWhy = perfUnavailable()
      // Only the burst is sampled: its CPU per frame is what the shares are applied to.
      const sampledRound = async (fleet: Fleet, title: string): Promise<PerfBreakdown> => {
        let recording: PerfRecording | undefined
        let result: PerfBreakdown | undefined
        try {
          await round1(fleet, ctx, {
            start: async () => {
              recording = await startPerf(title, fleet.host.pid)
            },
            stop: async (frames) => {
              const r = recording
              recording = undefined
              result = await r?.stop(frames)
            },
          })
        } finally {
          await recording?.stop(0).catch(() => undefined)
        }
        if (!result) throw new Error(`ws: no perf samples for ${title}`)
        return result
      }
      let kernel: { chat: PerfBreakdown; bare: PerfBreakdown } | undefined
      if (perfWhy === null) {
        ctx.log('ws: perf samples of chat and bare ws (one more round each)')
        // Shares from perf, scaled to the CPU per frame measured in the rounds (no perf).
        kernel = {
          chat: scaledTo(await sampledRound(cand, 'chat'), median(rc.map((r) => r.cpuPerFrameUs))),
          bare: scaledTo(await sampledRound(bare, 'bare ws'), median(rb.map((r) => r.cpuPerFrameUs))),
        }
      }
      const fig = (name: string, unit: string, pick: (r: Round) => number, note?: string): Figure =>
        pairedFigure(name, unit, rc.map(pick), rb.map(pick), note)
      const fps = fig('fan-out, delivered frames per second (burst)', 'frames/s', (r) => r.framesPerSec)
      const p99 = median(rc.map((r) => r.pacedP99))
      return {
        id: 'ws',
        title: 'WebSocket fan-out',
        method: [
          `${o.clients} clients (seeded users with a live session, cycled) connect in batches of ${o.batch}, send`,
          `\`{"type":"join","channel":"${CHANNEL}"}\` and wait for their own presence frame; a separate sender socket (usr_member)`,
          `joins too. Per round: a paced phase of ${o.pacedMessages} messages, one every ${o.pacedIntervalMs} ms (latency from`,
          'send to receipt at every client, all samples), then a burst of',
          `${o.burstMessages} messages with at most ${o.window} not yet delivered to every client (frames/s = messages ×`,
          `clients / elapsed). ${o.rounds} rounds alternating candidate and baseline. Baseline: a bare \`ws\` server in`,
          'another child process that answers join with the same presence frame and broadcasts each message in chat’s',
          `frame shape (\`{type,id,sender,content,channel,timestamp}\`, UUID and ISO timestamp), ${cand.frameBytes} bytes a`,
          'frame for both (checked). Chat also stores each message and journals every frame; the baseline does neither.',
          'Where Linux perf can sample the kernel, the burst of one more round of each under `perf record` (as in the REST section).',
        ].join(' '),
        figures: [
          fps,
          fig(
            'server CPU per delivered frame (burst)',
            'µs',
            (r) => r.cpuPerFrameUs,
            'robust to a busy machine',
          ),
          fig('paced latency p50', 'ms', (r) => r.pacedP50),
          fig('paced latency p99', 'ms', (r) => r.pacedP99),
          fig('burst latency p50', 'ms', (r) => r.burstP50, 'includes queueing'),
          fig('burst latency p99', 'ms', (r) => r.burstP99, 'includes queueing'),
          ...(kernel
            ? perfFigures(
                'WS fan-out, CPU per delivered frame',
                kernel.chat,
                kernel.bare,
                'baseline = bare ws',
              )
            : []),
          {
            name: `connect and join ${o.clients} clients`,
            unit: 'ms',
            candidate: cand.connectMs,
            baseline: bare.connectMs,
            ratio: ratio(cand.connectMs, bare.connectMs),
            note: 'chat validates each handshake with get-session; the baseline checks nothing',
          },
        ],
        targets: [
          {
            id: 'ws-fanout',
            text: 'WS fan-out >= 0.85 of a bare ws broadcast server',
            observed: `ratio ${round(fps.ratio ?? Number.NaN, 3)}${pairedQuartilesText(
              rc.map((r) => r.framesPerSec),
              rb.map((r) => r.framesPerSec),
            )} (${o.clients} clients)`,
            met: (fps.ratio ?? 0) >= 0.85,
          },
          {
            id: 'ws-p99',
            text: `WS send-to-receive p99 < 25 ms with ${o.clients} clients`,
            observed: `paced p99 ${round(p99, 1)} ms (${o.clients} clients, one message every ${o.pacedIntervalMs} ms; bare ws ${round(median(rb.map((r) => r.pacedP99)), 1)} ms)`,
            met: p99 < 25,
          },
        ],
        notes: [
          `Fan-out ${(fps.ratio ?? 0) >= 0.85 ? 'meets' : 'misses'} 0.85 of bare ws (${round(fps.ratio ?? Number.NaN, 3)}): chat spends ${round(median(rc.map((r) => r.cpuPerFrameUs)), 2)} µs of CPU per delivered frame against ${round(median(rb.map((r) => r.cpuPerFrameUs)), 2)} µs for bare ws. Where chat's time goes (profile below, self time by file or package): ${topOf(profile)}. Profiled busy time per delivered frame by layer (sampled on the wall clock: a loaded machine inflates it, so read it as shares): ${layerGap(profile, 'chat', [bareProfile, 'bare ws'])}.`,
          kernel
            ? `Where the CPU goes, kernel included (Linux perf, every thread of the server process; the burst of one more round each; the shares of each part, applied to the burst's CPU per delivered frame measured in the rounds): chat ${kernel.chat.totalUs} µs per delivered frame, bare ws ${kernel.bare.totalUs} µs. Chat's extra ${round(kernel.chat.totalUs - kernel.bare.totalUs, 1)} µs: ${gapText(kernel.chat, kernel.bare)}.`
            : `Kernel-side breakdown (Linux perf) not measured: ${perfWhy}.`,
        ],
        profiles: [profile],
      }
    } finally {
      close(cand)
      close(bare)
      // Chat's socket closes are handled (presence, journal) before the next section.
      await sleep(300)
    }
  },
}
