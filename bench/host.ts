import { mkdir, writeFile } from 'node:fs/promises'
import type http from 'node:http'
import path from 'node:path'
import type { MiddlewareHandler } from 'hono'
import type { ChatFake } from '../mocks/chat/index.ts'
import type { FaultPort } from '../mocks/faults/engine.ts'
import type { MediaFake } from '../mocks/media/index.ts'
import type { ScenarioRequest } from '../mocks/runtime/runtime.ts'
import {
  bytesServer,
  delayServer,
  honoBytesApp,
  honoBytesServer,
  hopServer,
  listen,
  uploadSink,
  wsBroadcastServer,
} from './baseline.ts'
import { inProcessClient, type Served } from './inproc.ts'
import { ROOT } from './machine.ts'
import { type CpuProfile, startProfiling, summarise } from './profile.ts'
import { PROFILE_DIR_ENV } from './rpc.ts'
import { roundOrder } from './stats.ts'

// Child-process entry (bench/rpc.ts forks it): `mocks` runs the real fakes and control plane
// on ephemeral 127.0.0.1 ports; `baseline` runs the bare servers. Both answer IPC commands and
// can watch their own memory (so the load generator's never pollutes the measure). The
// baseline process never loads the fakes' code.

type Handler = (args: never) => unknown
type Handlers = Record<string, Handler>

const gc = (globalThis as { gc?: () => void }).gc

/**
 * Peak growth of RSS (what the OS gave the process) and of allocated memory (V8 heap in use
 * plus external buffers). RSS alone can hide an allocation that reuses pages freed earlier.
 */
function memoryWatcher(): Handlers {
  let timer: ReturnType<typeof setInterval> | undefined
  let base = { rss: 0, allocated: 0 }
  let peak = { rss: 0, allocated: 0 }
  const sample = () => {
    const m = process.memoryUsage()
    return { rss: m.rss, allocated: m.heapUsed + m.external }
  }
  const note = () => {
    const now = sample()
    peak = { rss: Math.max(peak.rss, now.rss), allocated: Math.max(peak.allocated, now.allocated) }
  }
  return {
    'memory:start': () => {
      gc?.()
      gc?.()
      base = sample()
      peak = { ...base }
      clearInterval(timer)
      // 1 ms: an upload yields to the event loop between chunks, so peaks are seen.
      timer = setInterval(note, 1)
    },
    'memory:stop': () => {
      clearInterval(timer)
      note()
      return { rss: peak.rss - base.rss, allocated: peak.allocated - base.allocated }
    },
    gc: () => {
      gc?.()
    },
    ...profiler(),
    /** CPU time used so far (user + system, µs): per-request cost, robust to a busy machine. */
    cpu: () => {
      const u = process.cpuUsage()
      return u.user + u.system
    },
  }
}

/**
 * One CPU profile per workload: started before it, summarised (self time by function and by
 * file) when it ends. With `pnpm bench --cpu-prof dir` the raw profile is written there too.
 */
function profiler(): Handlers {
  let running: { stop(): Promise<CpuProfile> } | undefined
  return {
    'profile:start': async () => {
      await running?.stop()
      running = await startProfiling()
    },
    'profile:stop': async (title: string) => {
      if (!running) throw new Error('profile:stop without profile:start')
      const profile = await running.stop()
      running = undefined
      const dir = process.env[PROFILE_DIR_ENV]
      if (dir) {
        await mkdir(dir, { recursive: true })
        const file = `${title.replace(/[^a-z0-9]+/gi, '-').toLowerCase()}-${Date.now()}.cpuprofile`
        await writeFile(path.join(dir, file), JSON.stringify(profile))
      }
      return summarise(profile, title, ROOT)
    },
  }
}

/** A measured block must time the route, not an error answer: anything but a 200 stops the run. */
async function served200(answer: Promise<Served>): Promise<void> {
  const { status } = await answer
  if (status !== 200) throw new Error(`in-process request answered ${status}, not 200`)
}

/**
 * CPU µs per request of `requests` in-process requests (`get` then checks each is a 200), after
 * a quarter as many unmeasured. CPU time, not wall time: other work on a shared machine delays
 * a block without making it cost more.
 */
async function cpuPerRequest(requests: number, get: () => Promise<Served>): Promise<number> {
  for (let i = 0; i < requests / 4; i++) await served200(get())
  const started = process.cpuUsage()
  for (let i = 0; i < requests; i++) await served200(get())
  const used = process.cpuUsage(started)
  return (used.user + used.system) / requests
}

async function mocksHandlers(services: string[] | undefined): Promise<Handlers> {
  const [{ loadConfig }, { startMocks }, { usersForControl }, { FAKES }, { scenarioRecords }] =
    await Promise.all([
      import('../mocks/runtime/config.ts'),
      import('../mocks/runtime/runtime.ts'),
      import('../mocks/fake/seeded.ts'),
      import('../mocks/registry.ts'),
      import('../mocks/v01t/store.ts'),
    ])
  const config = loadConfig({ MOCKS_SCENARIO: 'default' })
  const wanted = (services ?? FAKES.map((f) => f.name)).filter((s) => FAKES.some((f) => f.name === s))
  const mocks = await startMocks({ config, only: wanted, ephemeralPorts: true })
  const chat = () => mocks.services.get('chat')?.fake as ChatFake | undefined
  const media = () => mocks.services.get('media')?.fake as MediaFake | undefined
  // A reset resolves when every fake serves the new state; chat may still be writing a large
  // seed to its collection in the background (mocks/chat/README.md): timed separately.
  const timed = async (run: () => Promise<unknown>) => {
    const started = performance.now()
    await run()
    const ms = performance.now() - started
    await chat()?.store().materialized
    return { ms, materializedMs: performance.now() - started }
  }
  return {
    info: () => ({
      urls: Object.fromEntries(wanted.map((s) => [s, mocks.url(s)])),
      control: mocks.control?.url ?? null,
      users: usersForControl(mocks.scenario, config.betterAuthSecret),
      maxFileSize: config.maxFileSize,
    }),
    /**
     * The fault engine's cost, in-process: `requests` V01T list requests through the fake's own
     * Node listener without sockets (bench/inproc.ts: none of the machine's network noise), in `rounds` pairs
     * alternating with and without `faults` installed faults that match nothing. CPU µs per request.
     */
    'engine:cost': async (a: { path: string; faults: number; requests: number; rounds: number }) => {
      const get = inProcessClient(mocks.app('v01t').fetch)
      const block = () => cpuPerRequest(a.requests, () => get(a.path))
      const install = () =>
        Array.from({ length: a.faults }, (_, i) =>
          mocks.faults.add({
            service: 'v01t',
            match: { path: `/nothing/${i}` },
            effect: { type: 'status', status: 500 },
          }),
        )
      const withFaults: number[] = []
      const without: number[] = []
      // Warm-up: the first blocks run before the JIT settles (several times slower). Every block
      // also starts with a quarter of its requests unmeasured, and no block follows a forced full
      // GC: `gc()` shrinks the young generation, and the thousands of requests after it then cost
      // several times more (scavenges until it has grown back), which swamped the few % measured.
      for (let i = 0; i < 3; i++) await block()
      for (let r = 0; r < a.rounds; r++) {
        const ids = install().map((f) => f.id)
        const w = await block()
        for (const id of ids) mocks.faults.remove(id)
        const o = await block()
        withFaults.push(w)
        without.push(o)
      }
      mocks.journal.clear()
      return { withFaults, without }
    },
    /**
     * Chat history's cost split, in-process: `requests` chat history requests through chat's own
     * Node listener without sockets, in `rounds` pairs alternating the get-session hop between the
     * fake auth and a bare server in this process answering the fake auth's own get-session bytes
     * (over loopback either way). CPU µs per request: their difference is the fake auth's share.
     */
    'chat:split': async (a: {
      path: string
      cookie: string
      requests: number
      rounds: number
      /** The fake auth's get-session answer to `cookie`, captured by the caller (body base64). */
      session: { status: number; headers: Record<string, string>; body: string }
    }) => {
      const fakeAuth = mocks.config.authServiceUrl
      const session = bytesServer(a.session.status, a.session.headers, Buffer.from(a.session.body, 'base64'))
      const bareAuth = await listen(session)
      const get = inProcessClient(mocks.app('chat').fetch)
      const block = (authUrl: string) => {
        mocks.config.authServiceUrl = authUrl
        return cpuPerRequest(a.requests, () => get(a.path, { cookie: a.cookie }))
      }
      const withFake: number[] = []
      const withBare: number[] = []
      try {
        for (let i = 0; i < 2; i++) await block(fakeAuth)
        for (let r = 0; r < a.rounds; r++) {
          for (const url of roundOrder([fakeAuth, bareAuth], r))
            (url === fakeAuth ? withFake : withBare).push(await block(url))
        }
      } finally {
        mocks.config.authServiceUrl = fakeAuth
        session.closeAllConnections()
        await new Promise((resolve) => session.close(resolve))
        mocks.journal.clear()
      }
      return { withFake, withBare }
    },
    /**
     * V01T list's cost by layer, in-process (as engine:cost), in `rounds` rounds (every app once
     * a round, the order rotated and reversed every other round). Apps built up one layer at a
     * time: `floor`, a bare Hono app answering the fake's captured answer to `path` (status,
     * headers, bytes: the REST section's floor); `frame`, the fake app's frame (createFakeApp:
     * control slice, chain router, envelopes) with a fault port that lets every request through
     * and a route answering those bytes as V01T's route does (200, its content type); `cors`,
     * that with V01T's CORS; `faults`, that with the tenancy check, fault engine and journal the
     * fake runs on; `fake`, the fake itself. Every app but the frame (no CORS header) writes as
     * many bytes per answer, checked. CPU µs per request of each, per round.
     */
    'v01t:layers': async (a: { path: string; requests: number; rounds: number }) => {
      const [{ createFakeApp }, { v01t }, { V01T_CORS }, { createControlApp }, { createLogger }] =
        await Promise.all([
          import('../mocks/fake/app.ts'),
          import('../mocks/v01t/index.ts'),
          import('../mocks/v01t/app.ts'),
          import('../mocks/runtime/control.ts'),
          import('../mocks/core/logger.ts'),
        ])
      const fake = mocks.app('v01t')
      const answer = await fake.request(a.path)
      if (answer.status !== 200) throw new Error(`v01t:layers: ${a.path} answered ${answer.status}, not 200`)
      const body = new Uint8Array(await answer.arrayBuffer())
      const headers: Record<string, string> = {}
      answer.headers.forEach((value, name) => {
        headers[name] = value
      })
      const through: MiddlewareHandler = (_c, next) => next()
      // The runtime's own port, but letting every request through untouched and unjournaled.
      const passing = Object.assign(Object.create(mocks.router) as FaultPort, { http: () => through })
      const built = (faults: FaultPort, cors: boolean) => {
        const app = createFakeApp(
          v01t,
          { config, logger: createLogger('bench'), faults, control: createControlApp(mocks, 'v01t') },
          cors ? { cors: V01T_CORS } : {},
        )
        app.get('/trace/:app/:component/', (c) =>
          c.body(body, 200, { 'content-type': headers['content-type'] ?? 'application/json' }),
        )
        return app
      }
      const apps = {
        floor: honoBytesApp(answer.status, headers, body),
        frame: built(passing, false),
        cors: built(passing, true),
        faults: built(mocks.router, true),
        fake,
      }
      const names = Object.keys(apps) as (keyof typeof apps)[]
      const clients = new Map(names.map((n) => [n, inProcessClient(apps[n].fetch)]))
      const out = Object.fromEntries(names.map((n) => [n, [] as number[]])) as Record<
        keyof typeof apps,
        number[]
      >
      try {
        // The same answer from each (the frame's lacks only the CORS header), then warmed up.
        const written = new Map<string, number>()
        for (const [name, get] of clients) written.set(name, (await get(a.path)).bytes)
        const floorBytes = written.get('floor')
        for (const name of ['cors', 'faults', 'fake']) {
          if (written.get(name) !== floorBytes)
            throw new Error(`v01t:layers: ${name} wrote ${written.get(name)} bytes, the floor ${floorBytes}`)
        }
        for (const get of clients.values()) await cpuPerRequest(a.requests, () => get(a.path))
        for (let r = 0; r < a.rounds; r++) {
          for (const name of roundOrder(names, r)) {
            const get = clients.get(name)!
            out[name].push(await cpuPerRequest(a.requests, () => get(a.path)))
          }
        }
      } finally {
        mocks.journal.clear()
      }
      return out
    },
    /**
     * Tenant creation timed in the server process (`mocks.createTenant`, which resolves once every
     * fake serves the tenant), `n` times, each deleted after; the first `warm` are not returned.
     */
    'tenants:create': async (a: { n: number; warm: number; request: ScenarioRequest }) => {
      const out: number[] = []
      for (let i = 0; i < a.warm + a.n; i++) {
        const started = performance.now()
        const { id } = await mocks.createTenant(a.request)
        const ms = performance.now() - started
        await chat()?.store(id).materialized
        await mocks.deleteTenant(id)
        if (i >= a.warm) out.push(ms)
      }
      return out
    },
    /** RSS and heap growth per live tenant of the default scenario, `n` of them, after full GCs. */
    'tenants:memory': async (a: { n: number }) => {
      const settle = async () => {
        for (let i = 0; i < 3; i++) {
          gc?.()
          await new Promise((r) => setTimeout(r, 20))
        }
        const m = process.memoryUsage()
        return { rss: m.rss, heap: m.heapUsed + m.external }
      }
      const before = await settle()
      const ids: string[] = []
      for (let i = 0; i < a.n; i++) ids.push((await mocks.createTenant({ name: 'default' })).id)
      const after = await settle()
      for (const id of ids) await mocks.deleteTenant(id)
      const freed = await settle()
      return {
        rssPerTenant: (after.rss - before.rss) / a.n,
        heapPerTenant: (after.heap - before.heap) / a.n,
        heapLeftAfterDelete: freed.heap - before.heap,
      }
    },
    /**
     * Tenant resolution's cost, in-process like engine:cost (V01T list through the Node listener without sockets,
     * CPU µs per request), in alternating blocks: the default tenant alone (the single world),
     * the default tenant with `tenants` others live (sessions are then looked up), and one of
     * those tenants named by X-Mocks-Tenant.
     */
    'tenants:cost': async (a: { path: string; tenants: number; requests: number; rounds: number }) => {
      const app = mocks.app('v01t')
      // Baseline: the same fake built on a bare fault engine (no tenancy at all), same scenario.
      const [{ createV01tFake }, { FaultEngine }, { faultHost }, { Journal }, { createLogger }] =
        await Promise.all([
          import('../mocks/v01t/index.ts'),
          import('../mocks/faults/engine.ts'),
          import('../mocks/runtime/fault-host.ts'),
          import('../mocks/core/journal.ts'),
          import('../mocks/core/logger.ts'),
        ])
      const engine = new FaultEngine({
        ...faultHost(config),
        journal: new Journal(),
        logger: createLogger('bench'),
      })
      const bareFake = createV01tFake({ config, logger: createLogger('bench'), faults: engine })
      await bareFake.applyScenario(mocks.scenario)
      const clients = new Map([app, bareFake.app].map((h) => [h, inProcessClient(h.fetch)]))
      const block = (headers: Record<string, string>, on = app) => {
        const get = clients.get(on)!
        return cpuPerRequest(a.requests, () => get(a.path, headers))
      }
      // Each candidate block is paired with a baseline block run next to it, in the same
      // conditions (the same live tenants in the process, so the same heap for the GC to walk),
      // in roundOrder: the figure is the median of the per-round ratios, as in
      // the REST section. (Before, the two candidates with tenants live ran after the tenants
      // were created while every baseline block ran before, so the cost of a heap holding 8
      // more worlds was charged to resolution, and one ratio of medians let a load spike on a
      // shared machine decide the figure.)
      const bare: number[] = []
      const alone: number[] = []
      const bareLive: number[] = []
      const beside: number[] = []
      const named: number[] = []
      for (let r = 0; r < a.rounds; r++) {
        for (const which of roundOrder(['bare', 'alone'], r)) {
          if (which === 'bare') bare.push(await block({}, bareFake.app))
          else alone.push(await block({}))
        }
        const ids: string[] = []
        for (let i = 0; i < a.tenants; i++) ids.push((await mocks.createTenant({ name: 'default' })).id)
        for (const which of roundOrder(['bare', 'beside', 'named'], r)) {
          if (which === 'bare') bareLive.push(await block({}, bareFake.app))
          else if (which === 'beside') beside.push(await block({}))
          else named.push(await block({ 'x-mocks-tenant': ids[0]! }))
        }
        for (const id of ids) await mocks.deleteTenant(id)
      }
      mocks.journal.clear()
      return { bare, alone, bareLive, beside, named }
    },
    reset: () => timed(() => mocks.reset()),
    switch: (request: ScenarioRequest) => timed(() => mocks.switchScenario(request)),
    /** The seeded state as plain rows, for the reset baseline. */
    snapshot: async () => {
      await chat()?.store().materialized
      return {
        messages: chat()
          ?.store()
          .messages.all()
          .map((m) => ({ ...m })),
        records: scenarioRecords(mocks.scenario),
        users: mocks.scenario.auth.users,
      }
    },
    counts: () => ({ messages: chat()?.store().messages.count() ?? 0 }),
    'media:uploads': () => media()?.inspect().uploads,
    ...memoryWatcher(),
    exit: async () => {
      await mocks.close()
      process.exit(0)
    },
  }
}

function baselineHandlers(): Handlers {
  const servers = new Map<string, http.Server>()
  const serve = async (name: string, server: http.Server) => {
    servers.get(name)?.close()
    servers.get(name)?.closeAllConnections()
    servers.set(name, server)
    return listen(server)
  }
  let delay: ReturnType<typeof delayServer> | undefined
  let sink: ReturnType<typeof uploadSink> | undefined
  let snapshot: unknown
  type Captured = { status: number; headers: Record<string, string>; body: string }
  return {
    'bytes:serve': (a: { name: string } & Captured) =>
      serve(a.name, bytesServer(a.status, a.headers, Buffer.from(a.body, 'base64'))),
    'hono:serve': (a: { name: string } & Captured) =>
      serve(a.name, honoBytesServer(a.status, a.headers, Buffer.from(a.body, 'base64'))),
    'hop:serve': (a: { name: string; sessionUrl: string } & Captured) =>
      serve(a.name, hopServer(a.status, a.headers, Buffer.from(a.body, 'base64'), a.sessionUrl)),
    'delay:start': async (a: Captured) => {
      delay = delayServer(a.status, a.headers, Buffer.from(a.body, 'base64'))
      return serve('delay', delay.server)
    },
    'delay:set': (ms: number) => delay?.setDelay(ms),
    'delay:samples': () => delay?.samples() ?? [],
    'ws:start': (a: { users: Record<string, string>; maxPayload: number }) =>
      serve('ws', wsBroadcastServer(a.users, a.maxPayload)),
    'upload:start': (cap: number) => {
      sink = uploadSink(cap)
      return serve('upload', sink.server)
    },
    'upload:last': () => ({ last: sink?.last(), held: sink?.held() ?? 0 }),
    'reset:prepare': (data: unknown) => {
      snapshot = data
    },
    // Rebuilding the same rows from a pristine copy into plain maps: the least any reset does.
    'reset:run': () => {
      const started = performance.now()
      const copy = structuredClone(snapshot) as {
        messages?: { id: string; channelId?: string }[]
        records: { slug: string }[]
        users: { id: string }[]
      }
      const byChannel = new Map<string, { id: string }[]>()
      const messages = new Map<string, unknown>()
      for (const m of copy.messages ?? []) {
        messages.set(m.id, m)
        const key = m.channelId ?? ''
        let rows = byChannel.get(key)
        if (!rows) {
          rows = []
          byChannel.set(key, rows)
        }
        rows.push(m)
      }
      const records = new Map(copy.records.map((r, i) => [`${r.slug}:${i}`, r]))
      const users = new Map(copy.users.map((u) => [u.id, u]))
      const ms = performance.now() - started
      return { ms, sizes: [messages.size, records.size, users.size, byChannel.size] }
    },
    ...memoryWatcher(),
    exit: async () => {
      for (const s of servers.values()) {
        s.closeAllConnections()
        s.close()
      }
      process.exit(0)
    },
  }
}

const [role = '', rawOptions = '{}'] = process.argv.slice(2)
const options = JSON.parse(rawOptions) as { services?: string[] }
const handlers = role === 'mocks' ? await mocksHandlers(options.services) : baselineHandlers()

process.on('message', async (msg: { id: number; cmd: string; args?: unknown }) => {
  try {
    const handler = handlers[msg.cmd]
    if (!handler) throw new Error(`unknown command "${msg.cmd}"`)
    const result = await (handler as (a: unknown) => unknown)(msg.args)
    process.send?.({ id: msg.id, ok: true, result })
  } catch (err) {
    process.send?.({ id: msg.id, ok: false, error: (err as Error).stack ?? String(err) })
  }
})
// The parent went away: do not linger holding ports.
process.on('disconnect', () => process.exit(0))
process.send?.({ ready: true })
