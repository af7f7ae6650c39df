import {
  HttpResponse,
  http,
  type RequestHandler,
  type WebSocketHandler,
  type WebSocketHandlerConnection,
  ws,
} from 'msw'
import type { ChatFake, ChatSocket } from '../chat/index.ts'
import { createFakeApp } from '../core/app.ts'
import { type Env, loadConfig, type ServiceName } from '../core/config.ts'
import { createLogger } from '../core/logger.ts'
import { type FakeFactory, type Mocks, startMocks } from '../core/runtime.ts'
import { usersForControl } from '../core/seeded.ts'
import type { WsPeer } from '../core/ws.ts'
import { FAKES } from '../registry.ts'

// The msw adapter (DESIGN §6): every fake runs in-process under one runtime (`startMocks` with
// `listen: false`): scenario, fault engine, journal and each fake's `/__mocks` slice, as on Node.
// msw only moves bytes: HTTP handlers call the fake's own `app.fetch`, and the chat WebSocket
// (`ws.link`) joins the chat fake's one hub through `acceptSocket`. Nothing listens on a port.

/** Origins (scheme://host:port, no path) each fake answers on. */
export interface MswUrls {
  auth: string
  chat: string
  media: string
  /** V01T is often reached by two names (V01T_API_URL server-side, NEXT_PUBLIC_V01T_API_URL in the browser). */
  v01t: string | string[]
  /** Where the chat WebSocket is opened (ws:// or wss://); defaults to `chat` with a ws scheme. */
  chatWs?: string
}

export interface MswMocksOptions {
  /** Scenario name; default `env.MOCKS_SCENARIO`, then `default`. */
  scenario?: string
  /** Override any origin; unset ones come from `env`, then DESIGN §1's localhost defaults. */
  urls?: Partial<MswUrls>
  /** Env read for configuration and the service URLs; default `process.env`. */
  env?: Env
  /** Mock only some services (default all registered fakes); others go to the network as msw decides. */
  services?: ServiceName[]
  journalLimit?: number
}

export interface ResolvedMswUrls {
  auth: string
  chat: string
  chatWs: string
  media: string
  /** Every V01T origin served; the first is V01T's own. */
  v01t: string[]
}

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

/** The matrix's WebSocket endpoint (`${NEXT_PUBLIC_CHAT_WS_URL}/ws?token=`). */
const CHAT_WS_PATH = '/ws'

const DEFAULT_URLS = {
  auth: 'http://localhost:8083',
  chat: 'http://localhost:8082',
  media: 'http://localhost:8081',
  v01t: 'http://localhost:8000',
} as const

export class MswConfigError extends Error {
  override name = 'MswConfigError'
}

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

export function resolveMswUrls(urls: Partial<MswUrls> = {}, env: Env = process.env): ResolvedMswUrls {
  const httpSchemes = ['http:', 'https:']
  const chat = origin('chat URL', urls.chat ?? env.CHAT_SERVICE_URL ?? DEFAULT_URLS.chat, httpSchemes)
  const v01tRaw =
    urls.v01t ?? [env.V01T_API_URL, env.NEXT_PUBLIC_V01T_API_URL].filter((u): u is string => Boolean(u))
  const v01tList = (Array.isArray(v01tRaw) ? v01tRaw : [v01tRaw]).map((u) =>
    origin('V01T URL', u, httpSchemes),
  )
  return {
    auth: origin('auth URL', urls.auth ?? env.AUTH_SERVICE_URL ?? DEFAULT_URLS.auth, httpSchemes),
    chat,
    // The matrix's form is the origin (the client adds /ws); the endpoint itself is accepted too.
    chatWs: origin(
      'chat WebSocket URL',
      urls.chatWs ?? env.NEXT_PUBLIC_CHAT_WS_URL ?? wsOrigin(chat),
      ['ws:', 'wss:'],
      CHAT_WS_PATH,
    ),
    media: origin('media URL', urls.media ?? env.MEDIA_SERVICE_URL ?? DEFAULT_URLS.media, httpSchemes),
    v01t: [...new Set(v01tList.length ? v01tList : [DEFAULT_URLS.v01t])],
  }
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
  const urls = resolveMswUrls(opts.urls, env)
  const config = loadConfig({ ...env, ...(opts.scenario ? { MOCKS_SCENARIO: opts.scenario } : {}) })
  // Chat and media validate sessions over HTTP at AUTH_SERVICE_URL: the auth handler's origin.
  config.authServiceUrl = urls.auth
  // Media advertises download URLs on its own origin, so they come back through msw.
  config.mediaBaseUrl = urls.media
  config.explicit = { authServiceUrl: true, mediaBaseUrl: true }

  const wanted = opts.services ?? (Object.keys(FAKES) as ServiceName[])
  const fakes: Partial<Record<ServiceName, FakeFactory>> = {}
  for (const name of wanted) {
    const factory = FAKES[name]
    if (!factory) throw new MswConfigError(`No fake registered for "${name}" (mocks/registry.ts)`)
    fakes[name] = factory
  }
  const origins = new Map<string, ServiceName>()
  const addOrigin = (o: string, name: ServiceName) => {
    const other = origins.get(o)
    if (other && other !== name) throw new MswConfigError(`${o} is given for both ${other} and ${name}`)
    origins.set(o, name)
  }
  addOrigin(urls.auth, 'auth')
  addOrigin(urls.chat, 'chat')
  addOrigin(urls.media, 'media')
  for (const o of urls.v01t) addOrigin(o, 'v01t')

  const mocks = await startMocks({
    config,
    fakes,
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
  const chatSockets = new Set<WsPeer>()
  for (const name of mocks.services.keys()) {
    mocks.faults.attach(name, {
      down: async () => {
        down.add(name)
        if (name === 'chat') for (const peer of [...chatSockets]) peer.terminate()
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
        return mocks.services.get(name)!.fake.app.fetch(request)
      },
    ),
  ]

  const chat = mocks.services.get('chat')?.fake as ChatFake | undefined
  if (chat) {
    if (typeof chat.acceptSocket !== 'function') {
      throw new MswConfigError('The chat fake has no acceptSocket(peer, request): msw cannot join its hub')
    }
    const gate = createUpgradeGate(mocks)
    const link = ws.link(`${urls.chatWs}/*`)
    handlers.push(
      link.addEventListener('connection', ({ client }) => {
        connectChatClient({
          client,
          chat,
          gate,
          httpUrl: `${urls.chat}${client.url.pathname}${client.url.search}`,
          isDown: () => down.has('chat'),
          sockets: chatSockets,
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

// ---- the chat WebSocket ----

type UpgradeEnv = { Bindings: { accept: (request: Request) => Promise<Response> } }

/**
 * The handshake half of chat's `/ws` route, for sockets msw opened: the same fault middleware
 * (ws-reject, status, latency, hang, reset, journal) and chat's own 404/500 envelope, then the
 * chat fake's `acceptSocket`. The hub is the chat fake's; this holds no state.
 */
function createUpgradeGate(mocks: Mocks) {
  const app = createFakeApp('chat', {
    config: mocks.config,
    logger: createLogger('chat'),
    faults: mocks.faults,
  })
  // Node answers an accepted upgrade from this route with a bare 200 too (journaled as such).
  app.get(CHAT_WS_PATH, (c) => (c.env as UpgradeEnv['Bindings']).accept(c.req.raw))
  return app
}

type MswClient = WebSocketHandlerConnection['client']
type ClientData = string | ArrayBuffer | ArrayBufferView | Blob

interface ChatClientDeps {
  client: MswClient
  chat: ChatFake
  gate: ReturnType<typeof createUpgradeGate>
  httpUrl: string
  isDown: () => boolean
  sockets: Set<WsPeer>
  logger: ReturnType<typeof createLogger>
}

function connectChatClient(d: ChatClientDeps): void {
  const { client } = d
  const peer = mswPeer(client)
  const maxPayload = d.chat.websocket?.maxPayload ?? Number.POSITIVE_INFINITY
  const abort = new AbortController()
  const pending: ClientData[] = []
  let socket: ChatSocket | undefined
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
    refuse(peer, client, 'connection refused (chat is down)')
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
    const decision = await d.chat.acceptSocket(peer, req)
    if (!decision.ok)
      return Response.json({ error: decision.message, code: decision.code }, { status: decision.status })
    socket = decision.socket
    if (closedWith !== undefined) socket.closed(closedWith)
    else for (const data of pending.splice(0)) socket.receive(data)
    return new Response(null)
  }
  Promise.resolve(d.gate.fetch(request, { accept }))
    .then(async (res) => {
      if (socket || closedWith !== undefined) return
      const detail =
        res.type === 'error'
          ? 'network error'
          : `HTTP ${res.status}${res.body ? ` ${(await res.text()).slice(0, 200)}` : ''}`
      refuse(peer, client, `handshake refused: ${detail}`)
    })
    .catch((err: Error) => {
      d.logger.error({ err: { message: err.message, stack: err.stack } }, 'chat handshake failed')
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
