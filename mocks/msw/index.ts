import {
  HttpResponse,
  http,
  type RequestHandler,
  type WebSocketHandler,
  type WebSocketHandlerConnection,
  ws,
} from 'msw'
import { createLogger } from '../core/logger.ts'
import { promiseOf } from '../core/promises.ts'
import type { WsPeer } from '../core/ws.ts'
import { createFakeApp } from '../fake/app.ts'
import type { FakeDescriptor, FakeService } from '../fake/descriptor.ts'
import { usersForControl } from '../fake/seeded.ts'
import { FAKES } from '../registry.ts'
import { type Env, loadConfig, type ServiceName } from '../runtime/config.ts'
import { type Mocks, startMocks } from '../runtime/runtime.ts'

// The msw adapter (DESIGN §6): every fake runs in-process under one runtime (`startMocks` with
// `listen: false`): scenario, fault engine, journal and each fake's `/__mocks` slice, as on Node.
// msw only moves bytes: HTTP handlers call the fake's own `app.fetch`, and each 'http+ws'
// fake's WebSocket (`ws.link`; chat's) joins that fake's one hub through its `acceptSocket`.
// Which services, origins and WebSocket paths: the descriptors (mocks/registry.ts). Nothing
// listens on a port.

/**
 * Origins (scheme://host:port, no path) each fake answers on, by service name: a string, or a
 * list for a service reached by several names (V01T: `V01T_API_URL` server side,
 * `NEXT_PUBLIC_V01T_API_URL` in the browser). `<name>Ws` is where an 'http+ws' service's
 * WebSocket is opened (ws:// or wss://); it defaults to the service's origin with a ws scheme.
 */
export type MswUrls = Record<string, string | string[] | undefined>

export interface MswMocksOptions {
  /** Scenario name; default `env.MOCKS_SCENARIO`, then `default`. */
  scenario?: string
  /** Override any origin; unset ones come from `env`, then DESIGN §1's localhost defaults. */
  urls?: MswUrls
  /** Env read for configuration and the service URLs; default `process.env`. */
  env?: Env
  /** Mock only some services (default all registered fakes); others go to the network as msw decides. */
  services?: ServiceName[]
  /** The fakes known (default the registry). */
  fakes?: readonly FakeDescriptor[]
  journalLimit?: number
}

/** Each HTTP fake's origin (a list where its descriptor names several URL env names), and `<name>Ws`. */
export type ResolvedMswUrls = Record<string, string | string[]>

export interface MswMocks {
  /** For `setupServer(...handlers)` (or `server.use(...)`). */
  handlers: (RequestHandler | WebSocketHandler)[]
  /** The runtime: `switchScenario`, `reset`, `faults.add/remove/list`, `journal`, `scenario`. */
  mocks: Mocks
  urls: ResolvedMswUrls
  /** `better-auth.session_token=<signed>` for a seeded user, by id or role. */
  cookieFor(userIdOrRole: string): string
  /** The signed cookie value alone (the chat socket's `?token=`). */
  tokenFor(userIdOrRole: string): string
  /** Closes open chat sockets (1001) and releases timers. */
  close(): Promise<void>
}

/** A socket a fake accepted: client frames go in, and it is told when the socket closes. */
export interface AcceptedSocket {
  receive(data: string | ArrayBuffer | ArrayBufferView | Blob): void
  closed(code: number): void
}

/** What an 'http+ws' fake offers msw (chat's `acceptSocket`): a handshake check, then its hub. */
export interface SocketAcceptor {
  acceptSocket(
    peer: WsPeer,
    request: Request,
  ): Promise<
    { ok: true; socket: AcceptedSocket } | { ok: false; status: number; code: string; message: string }
  >
}

function acceptsSockets(fake: unknown): fake is FakeService & SocketAcceptor {
  return typeof (fake as Partial<SocketAcceptor>).acceptSocket === 'function'
}

export class MswConfigError extends Error {
  override name = 'MswConfigError'
}

/**
 * A WebSocket URL env may name the endpoint (`ws://localhost:8082/ws`) rather than the origin the
 * matrix gives (`NEXT_PUBLIC_CHAT_WS_URL=ws://localhost:8082`, the client adding `/ws`): both work.
 */
const WS_PATH = '/ws'

function origin(name: string, raw: string, schemes: string[], allowedPath?: string): string {
  let url: URL
  try {
    url = new URL(raw)
  } catch {
    throw new MswConfigError(
      `${name} "${raw}" is not a URL; give an origin such as ${schemes[0]}//localhost:8082`,
    )
  }
  if (!schemes.includes(url.protocol)) {
    throw new MswConfigError(`${name} "${raw}" must use ${schemes.join(' or ')}`)
  }
  const path = url.pathname.replace(/\/+$/, '')
  if ((path !== '' && path !== allowedPath) || url.search || url.hash) {
    throw new MswConfigError(
      `${name} "${raw}" has a path; the fakes serve their routes at the root, so give the origin only (${url.origin})`,
    )
  }
  return `${url.protocol}//${url.host}`
}

export function resolveMswUrls(
  urls: MswUrls = {},
  env: Env = process.env,
  fakes: readonly FakeDescriptor[] = FAKES,
): ResolvedMswUrls {
  const httpSchemes = ['http:', 'https:']
  const out: ResolvedMswUrls = {}
  for (const fake of fakes) {
    if (fake.transport === 'tcp') continue
    const names = fake.frontend.urls ?? []
    const raw = urls[fake.name] ?? names.map((n) => env[n]).filter((u): u is string => Boolean(u))
    const given = (Array.isArray(raw) ? raw : [raw]).map((u) => origin(`${fake.name} URL`, u, httpSchemes))
    const list = [...new Set(given.length ? given : [`http://localhost:${fake.port}`])]
    out[fake.name] = names.length > 1 ? list : (list[0] as string)
    if (fake.transport === 'http+ws') {
      const wsKey = `${fake.name}Ws`
      const fromEnv = (fake.frontend.wsUrls ?? []).map((n) => env[n]).find(Boolean)
      const wsRaw = urls[wsKey] ?? fromEnv ?? wsOrigin(list[0] as string)
      // The matrix's form is the origin (the client adds /ws); the endpoint itself is accepted too.
      out[wsKey] = origin(`${fake.name} WebSocket URL`, String(wsRaw), ['ws:', 'wss:'], WS_PATH)
    }
  }
  return out
}

/** Every origin of a service in resolved URLs (its HTTP ones). */
function originsOf(urls: ResolvedMswUrls, name: ServiceName): string[] {
  const v = urls[name]
  return v === undefined ? [] : Array.isArray(v) ? v : [v]
}

function wsOrigin(httpOrigin: string): string {
  return httpOrigin.replace(/^http/, 'ws')
}

function isUpgrade(request: Request): boolean {
  return request.headers.get('upgrade')?.toLowerCase() === 'websocket'
}

/**
 * Builds the in-process runtime and the msw handlers that serve it. Call it before or after
 * `server.listen()`; the fakes' own get-session calls go through the global fetch at call time,
 * so msw serves them with the auth handler.
 */
export async function createMswMocks(opts: MswMocksOptions = {}): Promise<MswMocks> {
  const env = opts.env ?? process.env
  const known = opts.fakes ?? FAKES
  const urls = resolveMswUrls(opts.urls, env, known)
  const config = loadConfig(
    { ...env, ...(opts.scenario ? { MOCKS_SCENARIO: opts.scenario } : {}) },
    undefined,
    known,
  )
  // By default every HTTP fake; a TCP one (db) is refused only when asked for by name.
  const wanted = opts.services ?? known.filter((f) => f.transport !== 'tcp').map((f) => f.name)
  const fakes: FakeDescriptor[] = []
  for (const name of wanted) {
    const fake = known.find((f) => f.name === name)
    if (!fake) throw new MswConfigError(`No fake registered for "${name}" (mocks/registry.ts)`)
    if (fake.transport === 'tcp') throw new MswConfigError(`${name} is a TCP service: msw serves HTTP only`)
    fakes.push(fake)
  }
  // URLs that follow where a service is reached (chat and media validate sessions at auth's
  // origin; media advertises download URLs on its own) are msw's origins, so they come back here.
  for (const fake of known) {
    const first = originsOf(urls, fake.name)[0]
    if (first) fake.derive?.(config, first)
  }
  const origins = new Map<string, ServiceName>()
  const addOrigin = (o: string, name: ServiceName) => {
    const other = origins.get(o)
    if (other && other !== name) throw new MswConfigError(`${o} is given for both ${other} and ${name}`)
    origins.set(o, name)
  }
  for (const fake of fakes) for (const o of originsOf(urls, fake.name)) addOrigin(o, fake.name)

  const mocks = await startMocks({
    config,
    fakes: known,
    only: wanted,
    listen: false,
    ...(opts.journalLimit ? { journalLimit: opts.journalLimit } : {}),
  })
  try {
    return await serve(mocks, urls, origins)
  } catch (err) {
    await mocks.close()
    throw err
  }
}

async function serve(
  mocks: Mocks,
  urls: ResolvedMswUrls,
  origins: ReadonlyMap<string, ServiceName>,
): Promise<MswMocks> {
  const logger = createLogger('msw')

  // `down` closes a listener on Node. Here the handler plays the listener: while a service is
  // down its requests fail as network errors and its open sockets are cut, as on Node.
  const down = new Set<ServiceName>()
  const sockets = new Map<ServiceName, Set<WsPeer>>()
  for (const name of mocks.services.keys()) {
    mocks.faults.attach(name, {
      down: async () => {
        down.add(name)
        for (const peer of [...(sockets.get(name) ?? [])]) peer.terminate()
      },
      up: async () => {
        down.delete(name)
      },
    })
  }
  // As startMocks does once listeners exist: scenario `down` faults act now that controls do.
  mocks.faults.install(mocks.scenario.faults, mocks.scenario.seed, mocks.scenario.name)
  await mocks.faults.settled()

  const handlers: (RequestHandler | WebSocketHandler)[] = [
    http.all(
      ({ request }) => {
        const name = origins.get(new URL(request.url).origin)
        return name !== undefined && mocks.services.has(name)
      },
      async ({ request }) => {
        // A `ws`-library handshake over http: leave it to the ws.link upgrade handler.
        if (isUpgrade(request)) return undefined
        const name = origins.get(new URL(request.url).origin)!
        if (down.has(name)) return HttpResponse.error()
        return mocks.app(name).fetch(request)
      },
    ),
  ]

  for (const [name, { descriptor, fake }] of mocks.services) {
    if (descriptor.transport !== 'http+ws') continue
    if (!acceptsSockets(fake)) {
      throw new MswConfigError(`The ${name} fake has no acceptSocket(peer, request): msw cannot join its hub`)
    }
    const open = new Set<WsPeer>()
    sockets.set(name, open)
    const gate = createUpgradeGate(mocks, descriptor)
    const link = ws.link(`${urls[`${name}Ws`]}/*`)
    const httpOrigin = originsOf(urls, name)[0]
    handlers.push(
      link.addEventListener('connection', ({ client }) => {
        connectClient({
          client,
          name,
          fake,
          envelope: descriptor.envelope,
          gate,
          httpUrl: `${httpOrigin}${client.url.pathname}${client.url.search}`,
          isDown: () => down.has(name),
          sockets: open,
          logger,
        })
      }),
    )
  }

  const user = (key: string) => {
    const users = usersForControl(mocks.scenario, mocks.config.betterAuthSecret)
    const u = users.find((x) => x.id === key) ?? users.find((x) => x.role === key && !x.banned)
    if (!u?.cookieValue)
      throw new Error(`No seeded user with a session for "${key}" in ${mocks.scenario.name}`)
    return u
  }

  return {
    handlers,
    mocks,
    urls,
    cookieFor: (key) => `${user(key).cookieName}=${user(key).cookieValue}`,
    tokenFor: (key) => user(key).cookieValue!,
    async close() {
      await mocks.close()
      for (const name of mocks.services.keys()) mocks.faults.detach(name)
    },
  }
}

// ---- WebSockets ('http+ws' fakes: chat's) ----

type UpgradeEnv = { Bindings: { accept: (request: Request) => Promise<Response> } }

/**
 * The handshake half of a fake's WebSocket route (chat's `/ws`), for sockets msw opened: the same
 * fault middleware (ws-reject, status, latency, hang, reset, journal) and the fake's own 404/500
 * envelope, then the fake's `acceptSocket`. The hub is the fake's; this holds no state.
 */
function createUpgradeGate(mocks: Mocks, descriptor: FakeDescriptor) {
  const app = createFakeApp(descriptor, {
    config: mocks.config,
    logger: createLogger(descriptor.name),
    faults: mocks.faults,
  })
  // Node answers an accepted upgrade from this route with a bare 200 too (journaled as such).
  app.get(descriptor.wsPath ?? '/', (c) => (c.env as UpgradeEnv['Bindings']).accept(c.req.raw))
  return app
}

type MswClient = WebSocketHandlerConnection['client']
type ClientData = string | ArrayBuffer | ArrayBufferView | Blob

interface ClientDeps {
  client: MswClient
  name: ServiceName
  fake: FakeService & SocketAcceptor
  envelope: FakeDescriptor['envelope']
  gate: ReturnType<typeof createUpgradeGate>
  httpUrl: string
  isDown: () => boolean
  sockets: Set<WsPeer>
  logger: ReturnType<typeof createLogger>
}

function connectClient(d: ClientDeps): void {
  const { client } = d
  const peer = mswPeer(client)
  const maxPayload = d.fake.websocket?.maxPayload ?? Number.POSITIVE_INFINITY
  const abort = new AbortController()
  const pending: ClientData[] = []
  let socket: AcceptedSocket | undefined
  let closedWith: number | undefined
  d.sockets.add(peer)

  client.addEventListener('message', (event) => {
    const data = event.data as ClientData
    // ws refuses an oversized frame itself (1009) before the service sees it.
    if (byteLength(data) > maxPayload) {
      peer.close(1009, '')
      return
    }
    if (socket) socket.receive(data)
    else pending.push(data)
  })
  client.addEventListener('close', (event) => {
    if (closedWith !== undefined) return
    closedWith = event.code
    d.sockets.delete(peer)
    abort.abort()
    socket?.closed(event.code)
  })

  // msw opens the client socket before any listener can answer, so the handshake is checked
  // after `open`; frames sent meanwhile wait and are handled in order once it is accepted.
  if (d.isDown()) {
    refuse(peer, client, `connection refused (${d.name} is down)`)
    return
  }
  const headers = new Headers({
    upgrade: 'websocket',
    connection: 'Upgrade',
    'sec-websocket-version': '13',
  })
  // A browser sends its page's Origin (jsdom/happy-dom have one); Node clients send none.
  const pageOrigin = (globalThis as { location?: { origin?: string } }).location?.origin
  if (pageOrigin && pageOrigin !== 'null') headers.set('origin', pageOrigin)
  const request = new Request(d.httpUrl, { headers, signal: abort.signal })
  const accept = async (req: Request): Promise<Response> => {
    const decision = await d.fake.acceptSocket(peer, req)
    if (!decision.ok)
      return Response.json(d.envelope.body(decision.message, decision.code), { status: decision.status })
    socket = decision.socket
    if (closedWith !== undefined) socket.closed(closedWith)
    else for (const data of pending.splice(0)) socket.receive(data)
    return new Response(null)
  }
  // A promise however the app answers: synchronously, or by throwing.
  promiseOf(() => d.gate.fetch(request, { accept }))
    .then(async (res) => {
      if (socket || closedWith !== undefined) return
      const detail =
        res.type === 'error'
          ? 'network error'
          : `HTTP ${res.status}${res.body ? ` ${(await res.text()).slice(0, 200)}` : ''}`
      refuse(peer, client, `handshake refused: ${detail}`)
    })
    .catch((err: Error) => {
      d.logger.error({ err: { message: err.message, stack: err.stack } }, `${d.name} handshake failed`)
      if (!socket) refuse(peer, client, 'handshake failed')
    })
}

/**
 * A refused or failed handshake as a browser reports it: an `error` event, then `close` with
 * 1006 and `wasClean: false`. The HTTP status is not exposed to the page (it is in `cause`).
 */
function refuse(peer: WsPeer, client: MswClient, reason: string): void {
  const socket = socketOf(client)
  if (!peer.isOpen && socket.readyState !== socket.CONNECTING) return
  const event = new Event('error')
  Object.defineProperty(event, 'cause', { value: new Error(`WebSocket ${reason}`), enumerable: true })
  socket.dispatchEvent(event)
  peer.terminate()
}

/**
 * A WsPeer over msw's client connection. There are no ping/pong frames in the WebSocket API
 * (msw cannot send or see them), so `setAutoPong` has nothing to switch: `ws-silence` still
 * stops every frame, including the app-level `{"type":"pong"}`.
 */
export function mswPeer(client: MswClient): WsPeer {
  const socket = socketOf(client)
  const live = () => socket.readyState === socket.OPEN || socket.readyState === socket.CONNECTING
  return {
    send(text) {
      if (socket.readyState === socket.OPEN) client.send(text)
    },
    close(code = 1000, reason = '') {
      if (live()) client.close(code, reason)
    },
    terminate() {
      if (!live()) return
      // msw closes with a close frame (`wasClean: true`) whatever the code; its socket's internal
      // close takes `wasClean`, which is what a dropped TCP connection shows: 1006, not clean.
      const abrupt = internalClose(socket)
      if (abrupt) abrupt(1006, '', false)
      else client.close(1006, '')
    },
    setAutoPong() {},
    get isOpen() {
      return socket.readyState === socket.OPEN
    },
  }
}

/** The page-side socket msw hands the app (`client.socket` in @mswjs/interceptors; not in msw's types). */
function socketOf(client: MswClient): WebSocket {
  const socket = (client as { socket?: WebSocket }).socket
  if (!socket)
    throw new Error('msw client connection has no socket: this msw version is not supported (use ~2.15)')
  return socket
}

type InternalClose = (code: number, reason: string, wasClean: boolean) => void

/** The interceptor's `[kClose](code, reason, wasClean)` on its WebSocket override, if present. */
function internalClose(socket: WebSocket): InternalClose | undefined {
  for (let proto = Object.getPrototypeOf(socket); proto; proto = Object.getPrototypeOf(proto)) {
    for (const key of Object.getOwnPropertySymbols(proto)) {
      const fn = (proto as Record<symbol, unknown>)[key]
      if (key.description === 'kClose' && typeof fn === 'function') return (fn as InternalClose).bind(socket)
    }
  }
  return undefined
}

function byteLength(data: ClientData): number {
  if (typeof data === 'string') return Buffer.byteLength(data)
  if (data instanceof Blob) return data.size
  return data.byteLength
}
