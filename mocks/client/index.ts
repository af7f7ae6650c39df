import type { z } from 'zod'
import type { JournalEntry, JournalFilter } from '../core/journal.ts'
import type { Scenario, ScenarioInput } from '../fake/scenario.ts'
import type { usersForControl } from '../fake/seeded.ts'
import type { FaultView } from '../faults/engine.ts'
import type { FaultSchema } from '../faults/schema.ts'
import type { Mocks, TenantCreated } from '../runtime/runtime.ts'
import type { Verdict } from '../verdicts/index.ts'

// A small typed client for the control API (DESIGN §5), used by the CLI, the Playwright
// fixtures and other repositories' tests (`devarno-mocks/client`). Bodies are typed from the
// server's own schemas and return types (type-only imports: nothing of the server loads).

/**
 * A fault as `POST /__mocks/faults` takes it (the fault schema's input). `service` names any
 * registered fake; on a fake's own `/__mocks` slice it defaults to that fake, and there only that
 * fake or a service with no slice of its own (the database) is accepted.
 */
export type FaultInput = Omit<z.input<typeof FaultSchema>, 'service'> & { service?: string }

/** An inline scenario for `PUT /__mocks/scenario` (the scenario schema's input; other fakes' sections too). */
export type InlineScenario = { name: string } & Partial<Omit<ScenarioInput, 'name'>> & Record<string, unknown>

export type { FaultView, JournalEntry, Scenario, TenantCreated }
export type Health = ReturnType<Mocks['health']> & { service?: string }
/** A live tenant as `GET /__mocks/tenants` lists it. */
export type TenantView = ReturnType<Mocks['listTenants']>[number]
export type JournalReport = ReturnType<Mocks['journal']['requestIdReport']>

/** What GET /__mocks/verdicts answers. */
export interface VerdictReport {
  tenant: string
  summary: { pass: number; fail: number; notExercised: number }
  verdicts: Verdict[]
}

import { resolveControlUrl } from '../core/control-url.ts'

export { resolveControlUrl } from '../core/control-url.ts'

export interface ControlClientOptions {
  /**
   * e.g. http://127.0.0.1:8090. Default: MOCKS_CONTROL_URL, else MOCKS_HOST / MOCKS_CONTROL_PORT
   * as the server reads them, else http://127.0.0.1:8090.
   */
  baseUrl?: string
  token?: string
  fetch?: typeof fetch
  /**
   * The tenant every call acts on (sent as `X-Mocks-Tenant`); default the default tenant.
   * The tenant calls themselves (`createTenant`, `tenants`, `deleteTenant`) act on the collection.
   */
  tenant?: string
}

const IDEMPOTENT = new Set(['GET', 'HEAD', 'PUT', 'DELETE'])
/** What a request on a kept-alive socket the server had just closed fails with (undici). */
const STALE_SOCKET = new Set(['ECONNRESET', 'UND_ERR_SOCKET', 'EPIPE'])
const errorCode = (err: unknown) =>
  (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message

export class MocksNotRunningError extends Error {
  override name = 'MocksNotRunningError'
}

export class ControlApiError extends Error {
  override name = 'ControlApiError'
  constructor(
    readonly status: number,
    readonly body: { error?: string; code?: string; issues?: { path: string; message: string }[] },
  ) {
    super(
      `${body.error ?? `HTTP ${status}`}${body.issues?.length ? `\n${body.issues.map((i) => `  ${i.path}: ${i.message}`).join('\n')}` : ''}`,
    )
  }
}

/** A seeded user as `GET /__mocks/users` lists it. */
export type SeededUserInfo = ReturnType<typeof usersForControl>[number]

export function createControlClient(opts: ControlClientOptions = {}) {
  const found = opts.baseUrl ? { url: opts.baseUrl, source: 'the baseUrl option' } : resolveControlUrl()
  const base = found.url.replace(/\/+$/, '')
  const doFetch = opts.fetch ?? fetch
  const token = opts.token ?? process.env.MOCKS_CONTROL_TOKEN
  const tenant = opts.tenant

  function baseHeaders(): Record<string, string> {
    const headers: Record<string, string> = {}
    if (token) headers.authorization = `Bearer ${token}`
    if (tenant !== undefined) headers['x-mocks-tenant'] = tenant
    return headers
  }

  async function call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const headers = baseHeaders()
    if (body !== undefined) headers['content-type'] = 'application/json'
    let res: Response
    const send = () =>
      doFetch(`${base}/__mocks${path}`, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
      })
    try {
      try {
        res = await send()
      } catch (err) {
        // A kept-alive connection the server closed as this call went out (a race a loaded
        // machine widens) fails with a reset: an idempotent call is sent once more.
        if (!IDEMPOTENT.has(method) || !STALE_SOCKET.has(errorCode(err))) throw err
        res = await send()
      }
    } catch (err) {
      const code = errorCode(err)
      throw new MocksNotRunningError(
        `The mocks are not answering at ${base} (${code}); that URL comes from ${found.source}. ` +
          'Point MOCKS_CONTROL_URL (or MOCKS_HOST / MOCKS_CONTROL_PORT, as the server reads them) at running mocks, ' +
          'or start them with: pnpm dev:mocks (in a devarno-mocks checkout) or npx devarno-mocks start',
      )
    }
    if (res.status === 204) return undefined as T
    const text = await res.text()
    const json = text ? JSON.parse(text) : undefined
    if (!res.ok) throw new ControlApiError(res.status, json ?? {})
    return json as T
  }

  const scenarioBody = (nameOrScenario: string | InlineScenario) =>
    typeof nameOrScenario === 'string' ? { name: nameOrScenario } : { scenario: nameOrScenario }

  return {
    baseUrl: base,
    /** The tenant this client acts on (undefined: the default tenant). */
    tenant,
    health: () => call<Health>('GET', '/health'),
    scenarios: () => call<{ scenarios: { name: string; description: string }[] }>('GET', '/scenarios'),
    scenario: () => call<Scenario>('GET', '/scenario'),
    useScenario: (nameOrScenario: string | InlineScenario) =>
      call<{ scenario: string; description: string; faults: number }>(
        'PUT',
        '/scenario',
        scenarioBody(nameOrScenario),
      ),
    /** A new tenant (its own world) from a scenario; `id` picks its id (default a fresh one). */
    createTenant: (nameOrScenario: string | InlineScenario = 'default', id?: string) =>
      call<TenantCreated>('POST', '/tenants', { ...scenarioBody(nameOrScenario), ...(id ? { id } : {}) }),
    tenants: () => call<{ tenants: TenantView[] }>('GET', '/tenants'),
    /** Deletes a tenant and all it held (sockets closed, held requests cut, files removed). */
    deleteTenant: (id: string) => call<void>('DELETE', `/tenants/${encodeURIComponent(id)}`),
    reset: () => call<{ scenario: string; reset: true }>('POST', '/reset'),
    faults: () => call<{ faults: FaultView[] }>('GET', '/faults'),
    addFault: (fault: FaultInput) => call<FaultView>('POST', '/faults', fault),
    removeFault: (id: string) => call<void>('DELETE', `/faults/${encodeURIComponent(id)}`),
    clearFaults: (source?: FaultView['source']) =>
      call<void>('DELETE', `/faults${source ? `?source=${source}` : ''}`),
    journal: (filter: JournalFilter = {}) => {
      const q = new URLSearchParams(
        Object.entries(filter).filter(([, v]) => v) as [string, string][],
      ).toString()
      return call<{ entries: JournalEntry[]; count: number; limit: number }>(
        'GET',
        `/journal${q ? `?${q}` : ''}`,
      )
    },
    clearJournal: () => call<void>('DELETE', '/journal'),
    /** The matrix's rules judged from the journal (verdicts.yaml); `since`: a journal seq or ISO time. */
    verdicts: (opts: { since?: string | number; tenant?: string } = {}) => {
      const q = new URLSearchParams()
      if (opts.since !== undefined) q.set('since', String(opts.since))
      if (opts.tenant) q.set('tenant', opts.tenant)
      const query = q.toString()
      return call<VerdictReport>('GET', `/verdicts${query ? `?${query}` : ''}`)
    },
    journalReport: () => call<JournalReport>('GET', '/journal/report'),
    users: () => call<{ users: SeededUserInfo[] }>('GET', '/users'),
    channels: () => call<{ channels: { id: string; name: string; members: string[] }[] }>('GET', '/channels'),
    /** Server-sent events of the journal; returns a function that stops it. */
    tail(onEntry: (entry: JournalEntry) => void): () => void {
      const ac = new AbortController()
      void (async () => {
        const res = await doFetch(`${base}/__mocks/journal/stream`, {
          signal: ac.signal,
          headers: baseHeaders(),
        })
        if (!res.body) return
        const decoder = new TextDecoder()
        let buf = ''
        for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
          buf += decoder.decode(chunk, { stream: true })
          let idx = buf.indexOf('\n\n')
          while (idx >= 0) {
            const block = buf.slice(0, idx)
            buf = buf.slice(idx + 2)
            const event = /^event: (.*)$/m.exec(block)?.[1]
            const data = block
              .split('\n')
              .filter((l) => l.startsWith('data: '))
              .map((l) => l.slice(6))
              .join('\n')
            if (event === 'entry' && data) onEntry(JSON.parse(data))
            idx = buf.indexOf('\n\n')
          }
        }
      })().catch(() => undefined)
      return () => ac.abort()
    },
  }
}

export type ControlClient = ReturnType<typeof createControlClient>
