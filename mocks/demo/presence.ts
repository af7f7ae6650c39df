import type { Context, Hono } from 'hono'

// Presence as family-hub is about to keep it (TASKSET 1): its server records "user U is in
// channel C" on a heartbeat and lists who was seen recently. Two stores, picked per request
// (`?store=`), so the demo shows the difference:
//   memory   a Map in this server: what family-hub has today, lost across Vercel instances
//            (each createDemoApp is one "instance" with its own Map);
//   upstash  a hash per channel in the Upstash REST fake (UPSTASH_REDIS_REST_URL/TOKEN),
//            shared by every instance; when Upstash fails, presence answers 503
//            {error, code: "presence_unavailable"} and the client shows members as unknown.
// Upstash is called with plain fetch and its REST protocol (/pipeline), as @upstash/redis does.

/** A member counts as online for this long after their last heartbeat. */
export const PRESENCE_WINDOW_MS = 30_000
/** The Upstash key expires when a channel goes quiet. */
const KEY_TTL_SECONDS = 120
const UPSTASH_TIMEOUT_MS = 3000

export interface PresenceHost {
  url(service: 'auth' | 'upstash'): string | undefined
  readonly config: { authServiceUrl: string; upstashToken?: string }
  readonly scenario: { upstash?: { token?: string | undefined } }
  /**
   * The caller's tenant and its scenario (the demo's `demoWorld`); without it, the default
   * tenant's. Upstash calls then carry `baggage: mocks.tenant=<id>`.
   */
  world?(c: Context): PresenceWorld | { status: 400 | 404; error: string }
}

interface PresenceWorld {
  tenant: string | undefined
  scenario: { upstash?: { token?: string | undefined } }
}

type Store = 'memory' | 'upstash'

class UpstashUnavailable extends Error {}

async function upstash(
  host: PresenceHost,
  world: PresenceWorld,
  token: string,
  commands: string[][],
): Promise<unknown[]> {
  const base = host.url('upstash')
  if (!base) throw new UpstashUnavailable('no Upstash service is running')
  let res: Response
  try {
    res = await fetch(`${base}/pipeline`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${token}`,
        'content-type': 'application/json',
        ...(world.tenant ? { baggage: `mocks.tenant=${world.tenant}` } : {}),
      },
      body: JSON.stringify(commands),
      signal: AbortSignal.timeout(UPSTASH_TIMEOUT_MS),
    })
  } catch (err) {
    const code = (err as { cause?: { code?: string } }).cause?.code
    throw new UpstashUnavailable(
      (err as Error).name === 'TimeoutError' ? 'no answer in time' : (code ?? 'unreachable'),
    )
  }
  const body = (await res.json().catch(() => null)) as
    | { result?: unknown; error?: string }[]
    | { error?: string }
    | null
  if (!res.ok || !Array.isArray(body)) {
    const why = body && !Array.isArray(body) && body.error ? body.error : `HTTP ${res.status}`
    throw new UpstashUnavailable(`Upstash answered ${res.status}: ${why}`)
  }
  const failed = body.find((r) => r.error)
  if (failed) throw new UpstashUnavailable(`Upstash: ${failed.error}`)
  return body.map((r) => r.result)
}

export function registerPresenceRoutes(app: Hono, host: PresenceHost, now: () => number = Date.now): void {
  // The scenario's Upstash token, else the one the Upstash fake was configured with.
  const token = (world: PresenceWorld) => world.scenario.upstash?.token ?? host.config.upstashToken ?? ''
  const worldOf = (c: Context) => host.world?.(c) ?? { tenant: undefined, scenario: host.scenario }
  // This instance's memory store: (tenant, channel) -> user -> last heartbeat (ms).
  const memory = new Map<string, Map<string, number>>()

  const storeOf = (c: Context): Store | undefined => {
    const s = c.req.query('store') ?? 'upstash'
    return s === 'memory' || s === 'upstash' ? s : undefined
  }
  const channelOf = (c: Context) => c.req.query('channel') ?? ''
  const badRequest = (c: Context, error: string) => c.json({ error, code: 'bad_request' }, 400)
  const unavailable = (c: Context, err: unknown) =>
    c.json({ error: `Presence unavailable: ${(err as Error).message}`, code: 'presence_unavailable' }, 503)

  /** The signed-in user, asked of the auth service as family-hub's server would. */
  const userOf = async (c: Context): Promise<string | undefined | 'unavailable'> => {
    const cookie = c.req.header('cookie')
    if (!cookie) return undefined
    const base = (host.url('auth') ?? host.config.authServiceUrl).replace(/\/+$/, '')
    try {
      const res = await fetch(`${base}/api/auth/get-session`, {
        headers: { cookie },
        signal: AbortSignal.timeout(UPSTASH_TIMEOUT_MS),
      })
      const body = (await res.json().catch(() => null)) as { user?: { id?: string } } | null
      return res.ok && typeof body?.user?.id === 'string' ? body.user.id : undefined
    } catch {
      return 'unavailable'
    }
  }

  /** What both presence routes read first: the store, the channel and the caller's world (or the refusal). */
  const presenceRequest = (c: Context) => {
    c.header('cache-control', 'no-store')
    const store = storeOf(c)
    const channel = channelOf(c)
    if (!store) return badRequest(c, 'store must be memory or upstash')
    if (!channel) return badRequest(c, 'channel is required (?channel=)')
    const world = worldOf(c)
    if ('status' in world) return c.json({ error: world.error, code: 'unknown_tenant' }, world.status)
    return { store, channel, world }
  }

  app.post('/api/presence/heartbeat', async (c) => {
    const req = presenceRequest(c)
    if (req instanceof Response) return req
    const { store, channel, world } = req
    const user = await userOf(c)
    if (user === 'unavailable')
      return c.json({ error: 'Cannot check the session', code: 'auth_unavailable' }, 503)
    if (!user) return c.json({ error: 'Not signed in', code: 'unauthorized' }, 401)
    const at = now()
    if (store === 'memory') {
      const key = `${world.tenant ?? ''}/${channel}`
      const members = memory.get(key) ?? new Map<string, number>()
      members.set(user, at)
      memory.set(key, members)
      return c.json({ ok: true, store })
    }
    try {
      await upstash(host, world, token(world), [
        ['HSET', `presence:${channel}`, user, String(at)],
        ['EXPIRE', `presence:${channel}`, String(KEY_TTL_SECONDS)],
      ])
    } catch (err) {
      if (err instanceof UpstashUnavailable) return unavailable(c, err)
      throw err
    }
    return c.json({ ok: true, store })
  })

  app.get('/api/presence', async (c) => {
    const req = presenceRequest(c)
    if (req instanceof Response) return req
    const { store, channel, world } = req
    let seen: [string, number][]
    if (store === 'memory') {
      seen = [...(memory.get(`${world.tenant ?? ''}/${channel}`) ?? new Map<string, number>())]
    } else {
      try {
        const [flat] = await upstash(host, world, token(world), [['HGETALL', `presence:${channel}`]])
        const list = Array.isArray(flat) ? (flat as string[]) : []
        seen = []
        for (let i = 0; i + 1 < list.length; i += 2) seen.push([list[i]!, Number(list[i + 1])])
      } catch (err) {
        if (err instanceof UpstashUnavailable) return unavailable(c, err)
        throw err
      }
    }
    const cutoff = now() - PRESENCE_WINDOW_MS
    const online = seen
      .filter(([, at]) => at >= cutoff)
      .map(([u]) => u)
      .sort()
    return c.json({ channel, store, online })
  })
}
