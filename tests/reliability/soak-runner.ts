import { Agent, request } from 'node:http'
import WebSocket from 'ws'
import type { ChatFake } from '../../mocks/chat/index.ts'
import { usersForControl } from '../../mocks/fake/seeded.ts'
import { loadConfig, type ServiceName } from '../../mocks/runtime/config.ts'
import { type Mocks, startMocks } from '../../mocks/runtime/runtime.ts'
import { activeHandles, collectGarbage, eventually, http, openFds, serverSockets, sleep } from './support.ts'

// The soak: WebSocket connect/join/disconnect cycles and REST requests at the same time,
// against one process running every fake and the control plane. Afterwards memory and
// handles must be back near the baseline, nobody may be left online, the journal within its
// bound. The short form runs in `pnpm test` (soak-short.test.ts), the full one in `pnpm soak`.

export interface SoakOptions {
  cycles: number
  requests: number
  /** Sockets cycling at once. */
  wsConcurrency?: number
  /** REST requests in flight at once. */
  httpConcurrency?: number
  journalLimit?: number
  progress?: (line: string) => void
}

export interface SoakResult {
  cycles: number
  requests: number
  wsConcurrency: number
  httpConcurrency: number
  durationMs: number
  wsMs: number
  restMs: number
  /** Requests per route, and answers per status. */
  routes: Record<string, number>
  statuses: Record<string, number>
  failures: string[]
  failureCount: number
  /** Cycles that ended abruptly (terminate, no close frame) rather than with a close. */
  abruptCycles: number
  memory: { rssBefore: number; rssAfter: number; rssPeak: number; heapBefore: number; heapAfter: number }
  handles: {
    before: number
    after: number
    /** Connections still open to the ports clients use (must be none). */
    serverSocketsAfter: number
    /** Chat and media's own keep-alive connections to auth (get-session), closed when idle. */
    authPoolAfter: number
    fdsBefore?: number
    fdsAfter?: number
  }
  /** How long after the load handles took to come back (keep-alive sockets expiring). */
  settleMs: number
  hubSizeAfter: number
  onlineAfter: Record<string, string[]>
  journal: { size: number; limit: number }
}

interface RestCall {
  service: ServiceName
  path: string
  user?: string
}

const REST_MIX: RestCall[] = [
  { service: 'v01t', path: '/trace/devarno-ecosystem/node/?page_size=50' },
  { service: 'v01t', path: '/trace/flight-path/artefact/?search=skyflow&order_by=-priority' },
  { service: 'auth', path: '/api/auth/get-session', user: 'usr_member' },
  { service: 'auth', path: '/api/auth/ok' },
  { service: 'chat', path: '/api/v1/messages?channel=general&limit=20', user: 'usr_member' },
  { service: 'chat', path: '/api/v1/presence?channel=family', user: 'usr_admin' },
  { service: 'media', path: '/api/v1/files/file_sunset', user: 'usr_member2' },
  { service: 'media', path: '/api/v1/files/file_sunset/download', user: 'usr_child' },
  { service: 'media', path: '/api/v1/files/file_garden/download?thumb=1', user: 'usr_admin' },
]

const CYCLE_USERS = ['usr_admin', 'usr_member', 'usr_member2', 'usr_child']

function mb(bytes: number): number {
  return Math.round((bytes / 1024 / 1024) * 10) / 10
}

export async function runSoak(opts: SoakOptions): Promise<SoakResult> {
  const wsConcurrency = opts.wsConcurrency ?? 8
  const httpConcurrency = opts.httpConcurrency ?? 16
  const log = opts.progress ?? (() => {})
  const config = loadConfig({ MOCKS_SCENARIO: 'default' })
  const mocks: Mocks = await startMocks({
    config,
    ephemeralPorts: true,
    journalLimit: opts.journalLimit ?? 5000,
  })
  const chat = mocks.services.get('chat')?.fake as ChatFake
  const ports = [...mocks.services.values()].flatMap((s) => (s.server ? [s.server.port] : []))
  if (mocks.control) ports.push(mocks.control.port)
  // Chat and media keep pooled connections to auth (get-session) open until their idle timeout.
  const clientFacing = ports.filter((p) => p !== mocks.services.get('auth')?.server?.port)
  const cookies = new Map(
    usersForControl(mocks.scenario, config.betterAuthSecret).map((u) => [
      u.id,
      `${u.cookieName}=${u.cookieValue}`,
    ]),
  )
  const tokens = new Map(
    usersForControl(mocks.scenario, config.betterAuthSecret).map((u) => [u.id, u.cookieValue ?? '']),
  )
  const routes: Record<string, number> = {}
  const statuses: Record<string, number> = {}
  const failures: string[] = []
  let failureCount = 0
  let abruptCycles = 0
  const fail = (what: string) => {
    failureCount++
    if (failures.length < 20) failures.push(what)
  }

  let agent = new Agent({ keepAlive: true, maxSockets: httpConcurrency })
  const rest = (call: RestCall, verify: boolean) =>
    new Promise<void>((resolve) => {
      const url = new URL(`${mocks.url(call.service)}${call.path}`)
      const req = request(
        {
          host: url.hostname,
          port: url.port,
          path: `${url.pathname}${url.search}`,
          agent,
          headers: call.user ? { cookie: cookies.get(call.user) ?? '' } : {},
          timeout: 15_000,
        },
        (res) => {
          const key = `${call.service} ${url.pathname}`
          routes[key] = (routes[key] ?? 0) + 1
          statuses[String(res.statusCode)] = (statuses[String(res.statusCode)] ?? 0) + 1
          const chunks: Buffer[] = []
          let size = 0
          res.on('data', (c: Buffer) => {
            size += c.length
            if (verify) chunks.push(c)
          })
          res.on('end', () => {
            if (res.statusCode !== 200) fail(`${key}: HTTP ${res.statusCode}`)
            else if (res.headers['content-length'] && Number(res.headers['content-length']) !== size)
              fail(`${key}: ${size} bytes of ${res.headers['content-length']}`)
            else if (verify && res.headers['content-type']?.includes('json')) {
              try {
                JSON.parse(Buffer.concat(chunks).toString('utf8'))
              } catch {
                fail(`${key}: body is not JSON`)
              }
            }
            resolve()
          })
          res.on('error', (err) => {
            fail(`${key}: ${err.message}`)
            resolve()
          })
        },
      )
      req.on('timeout', () => req.destroy(new Error('timed out')))
      req.on('error', (err) => {
        fail(`${call.service} ${call.path}: ${err.message}`)
        resolve()
      })
      req.end()
    })

  const restPhase = async (total: number) => {
    let next = 0
    const lane = async () => {
      for (let i = next++; i < total; i = next++) {
        await rest(REST_MIX[i % REST_MIX.length]!, i % 97 === 0)
        if (i > 0 && i % 10_000 === 0) log(`  ${i} requests`)
      }
    }
    await Promise.all(Array.from({ length: httpConcurrency }, lane))
  }

  const wsBase = `${mocks.url('chat')!.replace(/^http/, 'ws')}/ws?token=`
  /** Connect, join general, see itself online, disconnect (every 4th abruptly, no close frame). */
  const cycle = (n: number) =>
    new Promise<void>((resolve) => {
      const user = CYCLE_USERS[n % CYCLE_USERS.length]!
      const ws = new WebSocket(`${wsBase}${tokens.get(user)}`, { perMessageDeflate: false })
      let done = false
      const finish = (problem?: string) => {
        if (done) return
        done = true
        clearTimeout(timer)
        if (problem) {
          fail(`ws cycle ${n} (${user}): ${problem}`)
          ws.terminate()
        }
        resolve()
      }
      const timer = setTimeout(() => finish('no presence within 15 s'), 15_000)
      ws.on('unexpected-response', (_req, res) => {
        res.resume()
        finish(`upgrade refused with HTTP ${res.statusCode}`)
      })
      ws.on('error', (err) => finish(err.message))
      ws.on('open', () => ws.send(JSON.stringify({ type: 'join', channel: 'general' })))
      ws.on('message', (data) => {
        let frame: { type: string; user_id?: string; online?: boolean }
        try {
          frame = JSON.parse(String(data)) as typeof frame
        } catch {
          return finish(`frame is not JSON: ${String(data).slice(0, 100)}`)
        }
        if (frame.type === 'error') return finish(`error frame ${String(data)}`)
        if (frame.type !== 'presence' || frame.user_id !== user || !frame.online) return
        ws.removeAllListeners('message')
        ws.once('close', () => finish())
        if (n % 4 === 3) {
          abruptCycles++
          ws.terminate()
        } else ws.close(1000)
      })
    })

  const wsPhase = async (total: number) => {
    let next = 0
    const lane = async () => {
      for (let i = next++; i < total; i = next++) {
        await cycle(i)
        if (i > 0 && i % 1000 === 0) log(`  ${i} WebSocket cycles`)
      }
    }
    await Promise.all(Array.from({ length: wsConcurrency }, lane))
  }

  const settle = async () => {
    agent.destroy()
    await eventually(() => chat.state().hub.size === 0 && serverSockets(clientFacing) === 0, 10_000, 25)
  }

  try {
    // Warm-up: code paths compiled and connection pools at their working size.
    log('warm-up')
    // A tenth of the load (at least 100 cycles and 1,000 requests): the baseline is then taken
    // with V8's heap and the allocator near their working size, so RSS compares like for like.
    await Promise.all([
      wsPhase(Math.min(opts.cycles, Math.max(100, Math.round(opts.cycles / 10)))),
      restPhase(Math.min(opts.requests, Math.max(1000, Math.round(opts.requests / 10)))),
    ])
    await settle()
    collectGarbage()
    const before = process.memoryUsage()
    const handlesBefore = activeHandles().length
    const fdsBefore = openFds()
    failures.length = 0
    failureCount = 0
    abruptCycles = 0
    for (const k of Object.keys(routes)) delete routes[k]
    for (const k of Object.keys(statuses)) delete statuses[k]

    agent = new Agent({ keepAlive: true, maxSockets: httpConcurrency })
    let rssPeak = before.rss
    const sampler = setInterval(() => {
      rssPeak = Math.max(rssPeak, process.memoryUsage().rss)
    }, 200)
    sampler.unref()
    log(`load: ${opts.cycles} WebSocket cycles and ${opts.requests} REST requests at once`)
    const started = performance.now()
    let wsMs = 0
    let restMs = 0
    await Promise.all([
      wsPhase(opts.cycles).then(() => {
        wsMs = performance.now() - started
      }),
      restPhase(opts.requests).then(() => {
        restMs = performance.now() - started
      }),
    ])
    const durationMs = performance.now() - started
    clearInterval(sampler)

    await settle()
    // Idle keep-alive sockets (chat and media asking auth) close on their own timeout.
    const settleStart = performance.now()
    await eventually(() => activeHandles().length <= handlesBefore, 8000, 50)
    const settleMs = performance.now() - settleStart
    collectGarbage()
    const after = process.memoryUsage()
    const fdsAfter = openFds()

    const handlesAfter = activeHandles().length
    const serverSocketsAfter = serverSockets(clientFacing)
    const authPoolAfter = serverSockets(ports) - serverSocketsAfter
    const onlineAfter: Record<string, string[]> = {}
    for (const channel of ['general', 'family', 'parents']) {
      const res = await http(mocks.url('chat') ?? '', {
        path: `/api/v1/presence?channel=${channel}`,
        headers: { cookie: cookies.get('usr_admin') ?? '' },
      })
      const list = JSON.parse(res.text) as { user_id: string; online: boolean }[]
      onlineAfter[channel] = list.filter((p) => p.online).map((p) => p.user_id)
    }
    return {
      cycles: opts.cycles,
      requests: opts.requests,
      wsConcurrency,
      httpConcurrency,
      durationMs: Math.round(durationMs),
      wsMs: Math.round(wsMs),
      restMs: Math.round(restMs),
      routes,
      statuses,
      failures,
      failureCount,
      abruptCycles,
      memory: {
        rssBefore: mb(before.rss),
        rssAfter: mb(after.rss),
        rssPeak: mb(rssPeak),
        heapBefore: mb(before.heapUsed),
        heapAfter: mb(after.heapUsed),
      },
      handles: {
        before: handlesBefore,
        after: handlesAfter,
        serverSocketsAfter,
        authPoolAfter,
        ...(fdsBefore === undefined ? {} : { fdsBefore }),
        ...(fdsAfter === undefined ? {} : { fdsAfter }),
      },
      settleMs: Math.round(settleMs),
      hubSizeAfter: chat.state().hub.size,
      onlineAfter,
      journal: { size: mocks.journal.size, limit: mocks.journal.limit },
    }
  } finally {
    agent.destroy()
    await mocks.close()
    await sleep(0)
  }
}

/** Limits a soak must stay within; empty = it held. Shared by the test and scripts/soak.ts. */
export function soakProblems(r: SoakResult): string[] {
  const problems: string[] = []
  if (r.failureCount)
    problems.push(`${r.failureCount} failed requests or cycles: ${r.failures.slice(0, 5).join('; ')}`)
  const non200 = Object.entries(r.statuses).filter(([s]) => s !== '200')
  if (non200.length) problems.push(`answers other than 200: ${JSON.stringify(Object.fromEntries(non200))}`)
  const answered = Object.values(r.statuses).reduce((a, b) => a + b, 0)
  if (answered !== r.requests) problems.push(`${answered} answers for ${r.requests} requests`)
  if (r.hubSizeAfter !== 0) problems.push(`${r.hubSizeAfter} sockets still in the chat hub`)
  const online = Object.entries(r.onlineAfter).filter(([, users]) => users.length)
  if (online.length) problems.push(`stale presence: ${JSON.stringify(Object.fromEntries(online))}`)
  if (r.journal.size > r.journal.limit) problems.push(`journal ${r.journal.size} > limit ${r.journal.limit}`)
  if (r.handles.serverSocketsAfter !== 0)
    problems.push(`${r.handles.serverSocketsAfter} server sockets still open`)
  if (r.handles.after > r.handles.before + 2)
    problems.push(`handles ${r.handles.before} before, ${r.handles.after} after`)
  if (
    r.handles.fdsAfter !== undefined &&
    r.handles.fdsBefore !== undefined &&
    r.handles.fdsAfter > r.handles.fdsBefore + 2
  )
    problems.push(`file descriptors ${r.handles.fdsBefore} before, ${r.handles.fdsAfter} after`)
  // A leak of 1 KiB per cycle or request would show as ~10 MiB at the short size, ~100 MiB at full.
  const heapSlack = 16 + (r.cycles + r.requests) / 10_000
  if (r.memory.heapAfter - r.memory.heapBefore > heapSlack)
    problems.push(
      `heap ${r.memory.heapBefore} MiB before, ${r.memory.heapAfter} MiB after (slack ${heapSlack} MiB)`,
    )
  const rssSlack = 80 + (r.cycles + r.requests) / 2_000
  if (r.memory.rssAfter - r.memory.rssBefore > rssSlack)
    problems.push(
      `RSS ${r.memory.rssBefore} MiB before, ${r.memory.rssAfter} MiB after (slack ${rssSlack} MiB)`,
    )
  return problems
}
