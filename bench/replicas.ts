import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import autocannon from 'autocannon'
import { freePort } from '../tests/ports.ts'
import { hasRedisServer, type RedisServer, startRedisServer } from '../tests/redis-server.ts'
import {
  type ChatClient,
  chatClient,
  type ReplicaProcess,
  seededUsers,
  startReplica,
} from '../tests/replicas-harness.ts'
import type { Benchmark } from './context.ts'
import { ROOT } from './machine.ts'
import type { Figure } from './report.ts'
import { median, percentile, round } from './stats.ts'

// 9. Replicas (issue 22): two replica processes sharing one world through a real Redis
// (appendonly, fsync always), Debian's haproxy in front (compose/haproxy.cfg). WebSocket
// delivery on the same replica and across replicas (both go through the log) against one
// process without Redis; how long a runtime fault and a scenario switch made through one
// replica take to act on the other; V01T list throughput through haproxy over two replicas
// against one replica alone.

const V01T = '/trace/devarno-ecosystem/node/'

interface Sizes {
  messages: number
  faults: number
  switches: number
}

const SIZES: Record<string, Sizes> = {
  full: { messages: 200, faults: 50, switches: 12 },
  quick: { messages: 60, faults: 20, switches: 6 },
  tiny: { messages: 10, faults: 4, switches: 2 },
}

export const replicasBenchmark: Benchmark = {
  id: 'replicas',
  ownProcesses: () => true,
  async run(ctx) {
    if (!hasRedisServer())
      throw new Error('replicas: redis-server is not installed (apt-get install -y redis-server)')
    const sizes = SIZES[ctx.opts.mode] ?? SIZES.quick!
    const dir = mkdtempSync(path.join(tmpdir(), 'bench-replicas-'))
    const prefix = `bench-${process.pid}-${Date.now()}:`
    let redis: RedisServer | undefined
    const started: ReplicaProcess[] = []
    let lb: ChildProcess | undefined
    try {
      redis = await startRedisServer({ persistDir: dir })
      const ports = { auth: await freePort(), chat: await freePort(), v01t: await freePort() }
      ctx.log('replicas: starting two replicas and haproxy')
      const [a, b] = await Promise.all(
        (['127.0.0.2', '127.0.0.3'] as const).map((host, i) =>
          startReplica({ name: `r${i + 1}`, host, ports, redisUrl: redis!.url, prefix }),
        ),
      )
      started.push(a!, b!)
      lb = await startBalancer(ports)

      // ---- WebSocket delivery ----
      ctx.log(`replicas: WebSocket delivery, ${sizes.messages} paced messages`)
      const users = (await seededUsers(a!.url('auth'))).filter((u) => u.cookieValue)
      const channel = await channelOf(
        a!.url('chat'),
        users.map((u) => u.id),
      )
      const tokens = users.slice(0, 3).map((u) => u.cookieValue!)
      const delivery = await deliveries(channel, sizes.messages, {
        sender: a!.url('chat'),
        same: a!.url('chat'),
        cross: b!.url('chat'),
        tokens,
      })
      ctx.log('replicas: the same in one process without Redis')
      const single = await startReplica({ name: 'single', redisUrl: '', prefix, single: true })
      started.push(single)
      const alone = await deliveries(channel, sizes.messages, {
        sender: single.url('chat'),
        same: single.url('chat'),
        cross: undefined,
        tokens,
      })
      await single.stop()

      // ---- propagation ----
      ctx.log(`replicas: propagation of ${sizes.faults} faults and ${sizes.switches} scenario switches`)
      const faultMs: number[] = []
      // Until the add is answered: after every replica applied it (README "Replicas").
      const answerMs: number[] = []
      for (let i = 0; i < sizes.faults; i++) {
        const id = `bench-${i}`
        const t0 = performance.now()
        const add = fetch(`${a!.url('v01t')}/__mocks/faults`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ id, effect: { type: 'status', status: 503 }, match: { method: 'PUT' } }),
        }).then((res) => {
          answerMs.push(performance.now() - t0)
          return res
        })
        await until(async () =>
          (await json<{ faults: { id: string }[] }>(b!.url('v01t'), '/__mocks/faults')).faults.some(
            (f) => f.id === id,
          ),
        )
        faultMs.push(performance.now() - t0)
        await add
        await fetch(`${a!.url('v01t')}/__mocks/faults/${id}`, { method: 'DELETE' })
      }
      const switchMs: number[] = []
      for (let i = 0; i < sizes.switches; i++) {
        const name = i % 2 === 0 ? 'v01t-500' : 'default'
        const t0 = performance.now()
        const put = fetch(`${a!.url('v01t')}/__mocks/scenario`, {
          method: 'PUT',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ name }),
        })
        await until(
          async () => (await json<{ scenario: string }>(b!.url('v01t'), '/__mocks/health')).scenario === name,
        )
        switchMs.push(performance.now() - t0)
        await put
      }
      if (sizes.switches % 2 === 1)
        await fetch(`${a!.url('v01t')}/__mocks/scenario`, {
          method: 'PUT',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ name: 'default' }),
        })

      // ---- throughput ----
      const connections = ctx.opts.rest.connections.at(-1) ?? 50
      const seconds = ctx.opts.rest.durationSec
      ctx.log(
        `replicas: V01T list throughput, ${ctx.opts.rounds} rounds of ${seconds} s at ${connections} connections`,
      )
      const one: number[] = []
      const two: number[] = []
      for (let r = 0; r < ctx.opts.rounds; r++) {
        one.push(await rps(`${a!.url('v01t')}${V01T}`, connections, seconds))
        two.push(await rps(`http://127.0.0.1:${ports.v01t}${V01T}`, connections, seconds))
      }

      const ms = (name: string, values: number[], p: number, note?: string): Figure => ({
        name,
        unit: 'ms',
        candidate: round(percentile(values, p), 2),
        ...(note ? { note } : {}),
      })
      const p99Switch = percentile(switchMs, 99)
      const p99Fault = percentile(faultMs, 99)
      return {
        id: 'replicas',
        title: 'Replicas',
        method: [
          'Two replica processes (the CLI under tsx, auth + chat + V01T) on 127.0.0.2 and 127.0.0.3 sharing one',
          'Debian redis-server (appendonly, appendfsync always), Debian haproxy in front (compose/haproxy.cfg). WebSocket:',
          `${sizes.messages} messages sent 20 ms apart by a socket on replica 1, timed to a socket on replica 1 (same) and`,
          'one on replica 2 (cross); baseline: the same with one process and no Redis. Propagation: a runtime fault added',
          'through replica 1 (and a scenario switch made through it), timed until replica 2 lists it (polled over HTTP,',
          '~1 ms resolution), and until the add is answered (once every replica has applied it). Throughput: autocannon (in the parent process) on the V01T list, one replica directly against',
          'haproxy over both, in alternating rounds.',
        ].join(' '),
        figures: [
          ms('WS delivery, same replica, p50', delivery.same, 50),
          ms('WS delivery, same replica, p99', delivery.same, 99),
          ms('WS delivery, across replicas, p50', delivery.cross, 50),
          ms('WS delivery, across replicas, p99', delivery.cross, 99),
          ms('WS delivery, one process without Redis, p50', alone.same, 50),
          ms('WS delivery, one process without Redis, p99', alone.same, 99),
          ms('runtime fault in force on the other replica, p50', faultMs, 50),
          ms('runtime fault in force on the other replica, p99', faultMs, 99),
          ms('runtime fault added, answered (every replica has applied it), p50', answerMs, 50),
          ms('runtime fault added, answered (every replica has applied it), p99', answerMs, 99),
          ms('scenario switch in force on the other replica, p50', switchMs, 50),
          ms('scenario switch in force on the other replica, p99', switchMs, 99),
          {
            name: 'V01T list, haproxy over two replicas',
            unit: 'requests/s',
            candidate: round(median(two), 0),
            baseline: round(median(one), 0),
            ratio: round(median(two) / median(one), 2),
            rounds: { candidate: two, baseline: one },
            note: 'baseline: one replica, no balancer',
          },
        ],
        targets: [
          {
            id: 'replica-propagation',
            text: 'a fault or scenario switch through one replica in force on all of them: < 100 ms p99',
            observed: `fault p99 ${round(p99Fault, 1)} ms, scenario switch p99 ${round(p99Switch, 1)} ms`,
            met: p99Fault < 100 && p99Switch < 100,
          },
        ],
        notes: [
          'Same-replica delivery goes through the log too (a message is stored and broadcast when its entry is applied), so it and cross-replica delivery differ only by which reader applies first; both pay one Redis round trip over one process.',
          `This machine has ${ctx.opts.mode === 'tiny' ? 'few' : 'two'} cores shared by autocannon, haproxy, both replicas and Redis: two replicas cannot serve more than one here (each already takes a core at full load, and haproxy and autocannon take theirs). The figure shows the balancer's cost, not scaling; on a machine with a core per replica, the V01T list (no write, no Redis) scales with replicas.`,
        ],
      }
    } finally {
      lb?.kill('SIGTERM')
      await Promise.all(started.map((r) => r.stop()))
      redis?.stop()
      await redis?.exited
      rmSync(dir, { recursive: true, force: true })
    }
  },
}

async function json<T>(base: string, p: string): Promise<T> {
  return (await (await fetch(`${base}${p}`)).json()) as T
}

async function until(check: () => Promise<boolean>, ms = 10_000): Promise<void> {
  const deadline = performance.now() + ms
  while (!(await check())) {
    if (performance.now() > deadline) throw new Error(`replicas bench: not within ${ms} ms`)
  }
}

async function channelOf(chat: string, users: string[]): Promise<string> {
  const { channels } = await json<{ channels: { id: string; members: string[] }[] }>(
    chat,
    '/__mocks/channels',
  )
  return (channels.find((c) => users.every((u) => c.members.includes(u))) ?? channels[0]!).id
}

/** Paced messages from one socket, timed to a socket on the same replica and on another. */
async function deliveries(
  channel: string,
  n: number,
  at: { sender: string; same: string; cross: string | undefined; tokens: string[] },
): Promise<{ same: number[]; cross: number[] }> {
  const sender = await chatClient(at.sender, at.tokens[0]!)
  const same = await chatClient(at.same, at.tokens[1] ?? at.tokens[0]!)
  const cross = at.cross ? await chatClient(at.cross, at.tokens[2] ?? at.tokens[0]!) : undefined
  const clients: ChatClient[] = [sender, same, ...(cross ? [cross] : [])]
  try {
    for (const c of clients) c.send({ type: 'join', channel })
    for (const c of clients) await c.next((f) => f.type === 'presence')
    const out = { same: [] as number[], cross: [] as number[] }
    for (let i = 0; i < n; i++) {
      const content = `bench ${i} ${Date.now()}`
      const t0 = performance.now()
      sender.send({ type: 'message', channel, content })
      const is = (f: Record<string, unknown>) => f.type === 'message' && f.content === content
      await Promise.all([
        same.next(is, 10_000).then(() => out.same.push(performance.now() - t0)),
        cross?.next(is, 10_000).then(() => out.cross.push(performance.now() - t0)),
      ])
      for (const c of clients) c.frames.length = 0
      await new Promise((r) => setTimeout(r, 20))
    }
    return out
  } finally {
    for (const c of clients) c.close()
  }
}

async function rps(url: string, connections: number, seconds: number): Promise<number> {
  const result = await autocannon({ url, connections, duration: seconds, pipelining: 1 })
  if (result.errors || result.non2xx || result.requests.total === 0)
    throw new Error(
      `${url}: ${result.errors} errors, ${result.non2xx} non-2xx; the benchmark needs clean 2xx runs`,
    )
  return result.requests.total / result.duration
}

/** Debian's haproxy on 127.0.0.1 with compose/haproxy.cfg; unused services on free ports. */
async function startBalancer(ports: { auth: number; chat: number; v01t: number }): Promise<ChildProcess> {
  const env = {
    ...process.env,
    LB_HOST: '127.0.0.1',
    REPLICA1: '127.0.0.2',
    REPLICA2: '127.0.0.3',
    V01T_PORT: String(ports.v01t),
    CHAT_PORT: String(ports.chat),
    AUTH_PORT: String(ports.auth),
    MEDIA_PORT: String(await freePort()),
    UPSTASH_PORT: String(await freePort()),
    DB_PORT: String(await freePort()),
    CONTROL_PORT: String(await freePort()),
  }
  const child = spawn('haproxy', ['-db', '-f', path.join(ROOT, 'compose/haproxy.cfg')], {
    env,
    stdio: 'ignore',
  })
  await new Promise<void>((resolve, reject) => {
    child.once('error', () =>
      reject(new Error('replicas: haproxy is not installed (apt-get install -y haproxy)')),
    )
    child.once('spawn', () => resolve())
  })
  // Both servers up (checks every second, rise 1) before measuring.
  await until(async () => {
    const seen = new Set<string>()
    for (let i = 0; i < 6; i++) {
      const res = await fetch(`http://127.0.0.1:${ports.v01t}/__mocks/journal`).catch(() => undefined)
      if (!res?.ok) return false
      seen.add(res.url)
      await fetch(`http://127.0.0.1:${ports.v01t}${V01T}`)
    }
    const { entries } = await json<{ entries: { replica?: string }[] }>(
      `http://127.0.0.1:${ports.v01t}`,
      '/__mocks/journal',
    )
    const names = new Set(entries.map((e) => e.replica))
    return names.has('r1') && names.has('r2')
  }, 20_000)
  return child
}
