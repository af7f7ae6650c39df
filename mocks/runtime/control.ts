import { join } from 'node:path'
import { getConnInfo } from '@hono/node-server/conninfo'
import { type Context, Hono } from 'hono'
import { streamSSE } from 'hono/streaming'
import type { MocksConfig, ServiceName } from '../core/config.ts'
import { controlEnvelope } from '../core/envelope.ts'
import type { Journal, JournalEntry, JournalFilter, OpenRequest, RequestIdReport } from '../core/journal.ts'
import type { Logger } from '../core/logger.ts'
import {
  bindTenant,
  DEFAULT_TENANT,
  isTenantId,
  TENANT_HEADER,
  tenantIdProblem,
  tenantOf,
} from '../core/tenant.ts'
import type { ControlRouteHost, FakeDescriptor } from '../fake/descriptor.ts'
import type { Scenario } from '../fake/scenario.ts'
import type { FaultEngine } from '../faults/engine.ts'
import { FaultValidationError } from '../faults/engine.ts'
import { judge, type Rule, rulesLoader, VerdictRulesError } from '../verdicts/index.ts'
import { ScenarioError } from './scenario-loader.ts'

// The control API (DESIGN §5): on the control port for everything, and mounted under
// /__mocks on each fake scoped to that fake (faults and journal filtered to it).

function controlError(
  c: Context,
  status: 400 | 401 | 403 | 404 | 409 | 429 | 500,
  message: string,
  code: string,
  issues?: { path: string; message: string }[],
) {
  return c.json(controlEnvelope.body(message, code, issues ? { issues } : {}), status)
}

/** Bodies nested deeper are refused: whatever is accepted must be served back as JSON too. */
export const MAX_BODY_DEPTH = 64

function nestedDeeperThan(value: unknown, max: number): boolean {
  // Iterative: a body nested 100k levels deep must not overflow the stack here either.
  const stack: [unknown, number][] = [[value, 1]]
  for (let next = stack.pop(); next; next = stack.pop()) {
    const [v, depth] = next
    if (typeof v !== 'object' || v === null) continue
    if (depth > max) return true
    for (const child of Object.values(v)) stack.push([child, depth + 1])
  }
  return false
}

function isLoopback(address: string | undefined): boolean {
  if (!address) return true // in-process (msw / app.request): no socket at all
  return address === '::1' || address.startsWith('127.') || address.startsWith('::ffff:127.')
}

export type ScenarioRequest = { name: string } | { scenario: unknown }

/** Thrown for what the tenant API refuses; `status` is the control API's answer. */
export class TenantError extends Error {
  override name = 'TenantError'
  constructor(
    readonly status: 400 | 404 | 409 | 429,
    readonly code: string,
    message: string,
  ) {
    super(message)
  }
}

/** A tenant deleted while a call on it was being answered. */
class TenantGone extends Error {
  constructor(id: string) {
    super(`No tenant "${id}": never created, or deleted`)
  }
}

/** One tenant as the control API acts on it (the runtime's `Tenant` fits). */
export interface ControlTenant {
  readonly id: string
  readonly scenario: Scenario | undefined
  readonly engine: Pick<FaultEngine, 'add' | 'list' | 'remove' | 'settled'>
  readonly journal: Pick<Journal, 'list' | 'clear' | 'limit' | 'requestIdReport' | 'subscribe' | 'open'>
  lastSeen: number
}

/** What the control API needs from the running mocks (a structural slice of the runtime's `Mocks`). */
export interface ControlHost {
  readonly config: MocksConfig
  readonly fakes: readonly FakeDescriptor[]
  readonly logger: Logger
  readonly loader: { readonly dir: string; list(): { name: string; description: string }[] }
  /** A live tenant by id (the default one always is). */
  tenant(id: string): ControlTenant | undefined
  /** Whether a service is shared by every tenant (its faults belong to the default tenant). */
  isSharedService(service: string): boolean
  health(tenant?: string): { scenario: string | null }
  switchScenario(request: ScenarioRequest, tenant?: string): Promise<Scenario>
  reset(tenant?: string): Promise<Scenario>
  createTenant(request: ScenarioRequest, id?: string): Promise<unknown>
  deleteTenant(id: string): Promise<void>
  listTenants(): unknown[]
  /** Adds a runtime fault (validated: FaultValidationError); replicated mode goes through the log. */
  addFault(tenant: string, input: unknown): Promise<unknown>
  /** Removes faults by id; how many were installed. */
  removeFaults(tenant: string, ids: string[]): Promise<number>
  /** A tenant's journal (replicated mode: every replica's, merged). */
  journalOf(tenant: string, filter: JournalFilter): JournalEntry[] | Promise<JournalEntry[]>
  clearJournal(tenant: string): Promise<void>
  /** A tenant's request-ID report (replicated mode: of every replica's entries). */
  requestIdReportOf(tenant: string): Promise<RequestIdReport>
  /** A tenant's requests still open (replicated mode: every replica's). */
  openRequestsOf(tenant: string): Promise<OpenRequest[]>
  /** Replicated mode: other replicas' journal entries as they come (live streams). */
  followOthers(tenant: string, listener: (entry: JournalEntry) => void): () => void
  /** Present in replicated mode only. */
  readonly replica?: unknown
}

/**
 * Verdicts' `since`: a journal seq or an ISO time in one process; in replicated mode an entry's
 * `cursor` (a journal stream id, one order for the whole cluster) or an ISO time, since a seq
 * is one replica's own count. A string says why `since` is refused.
 */
export function sinceFilter(since: string, replicated: boolean): ((e: JournalEntry) => boolean) | string {
  if (/^\d+$/.test(since)) {
    if (replicated)
      return "since is an entry cursor (GET /__mocks/journal: entries[].cursor) or an ISO time in replicated mode: a seq is one replica's own count"
    const seq = Number(since)
    return (e) => e.seq > seq
  }
  // A cursor's first part is a time in ms (13 digits): `2026-12` is a month, not a cursor.
  if (replicated && /^\d{10,}-\d+$/.test(since))
    // Not yet published (no cursor): newer than any cursor a client has seen.
    return (e) => e.cursor === undefined || compareIds(e.cursor, since) > 0
  const at = Date.parse(since)
  if (Number.isNaN(at))
    return replicated ? 'since is a journal cursor or an ISO time' : 'since is a journal seq or an ISO time'
  return (e) => Date.parse(e.time) >= at
}

/** Stream ids (`<ms>-<seq>`) compared as numbers. */
function compareIds(a: string, b: string): number {
  const [am = 0n, as = 0n] = a.split('-').map(BigInt)
  const [bm = 0n, bs = 0n] = b.split('-').map(BigInt)
  return am !== bm ? (am < bm ? -1 : 1) : as === bs ? 0 : as < bs ? -1 : 1
}

export function createControlApp(mocks: ControlHost, scope?: ServiceName): Hono {
  const app = new Hono()
  // The faults a fake's slice lists, adds and removes: its own, and those of services with no
  // slice of their own (a 'tcp' fake such as the database), which would otherwise be out of
  // reach wherever no control plane runs (`--only`, replicas). Another HTTP fake's faults
  // belong on that fake's slice or the control plane.
  const covered = scope
    ? new Set<string>([scope, ...mocks.fakes.filter((f) => f.transport === 'tcp').map((f) => f.name)])
    : undefined
  const faultsOf = (engine: ControlTenant['engine']) =>
    engine.list().filter((f) => !covered || covered.has(f.service))

  // Beyond loopback (compose), the control API needs the bearer token.
  app.use('*', async (c, next) => {
    let address: string | undefined
    try {
      address = getConnInfo(c).remote.address
    } catch {
      address = undefined
    }
    if (isLoopback(address)) return next()
    const token = mocks.config.controlToken
    if (!token)
      return controlError(
        c,
        403,
        'The control API only answers loopback callers unless MOCKS_CONTROL_TOKEN is set',
        'forbidden',
      )
    if (c.req.header('authorization') !== `Bearer ${token}`) {
      return controlError(c, 401, 'Send Authorization: Bearer $MOCKS_CONTROL_TOKEN', 'unauthorized')
    }
    return next()
  })

  // Which tenant a call acts on: `X-Mocks-Tenant` or `?tenant=`, else the default one. An
  // unknown or deleted tenant is a 404, never the default world instead.
  app.use('*', async (c, next) => {
    const header = c.req.header(TENANT_HEADER)?.trim()
    const query = c.req.query('tenant')
    if (header !== undefined && query !== undefined && header !== query)
      return controlError(
        c,
        409,
        `The X-Mocks-Tenant header names "${header}", ?tenant= names "${query}"`,
        'tenant_conflict',
      )
    const id = header ?? query ?? DEFAULT_TENANT
    if (!isTenantId(id)) return controlError(c, 400, tenantIdProblem(id), 'invalid_tenant')
    // The tenant collection itself is not scoped to a tenant.
    if (!c.req.path.replace(/\/+$/, '').endsWith('/tenants') && !/\/tenants\/[^/]+$/.test(c.req.path)) {
      const tenant = mocks.tenant(id)
      if (!tenant)
        return controlError(c, 404, `No tenant "${id}": never created, or deleted`, 'unknown_tenant')
      tenant.lastSeen = Date.now()
    }
    bindTenant(c.req.raw, id)
    return next()
  })
  /** The tenant the call acts on (checked live by the middleware above). */
  const target = (c: Context): ControlTenant => {
    const tenant = mocks.tenant(tenantOf(c))
    if (!tenant) throw new TenantGone(tenantOf(c))
    return tenant
  }
  const routeHost: ControlRouteHost = {
    config: mocks.config,
    tenantOf,
    scenarioOf: (c) => {
      const scenario = target(c).scenario
      if (!scenario) throw new Error('no scenario applied yet')
      return scenario
    },
  }

  const readBody = async (
    c: Context,
  ): Promise<{ ok: true; value: unknown } | { ok: false; res: Response }> => {
    let value: unknown
    try {
      const text = await c.req.text()
      value = text.trim() ? JSON.parse(text) : undefined
    } catch {
      return { ok: false, res: controlError(c, 400, 'Body is not valid JSON', 'invalid_json') }
    }
    if (nestedDeeperThan(value, MAX_BODY_DEPTH)) {
      const message = `Body is nested deeper than ${MAX_BODY_DEPTH} levels`
      return { ok: false, res: controlError(c, 400, message, 'body_too_deep') }
    }
    return { ok: true, value }
  }

  // Scenario files are named relative to the scenarios folder: no server path in a body.
  const scenariosDir = join(mocks.loader.dir, '/')
  const relative = (text: string) => text.split(scenariosDir).join('')

  const scenarioFailure = (c: Context, err: unknown) => {
    if (err instanceof TenantError) return controlError(c, err.status, err.message, err.code)
    if (err instanceof ScenarioError) {
      const unknown = err.message.startsWith('Unknown scenario')
      return controlError(
        c,
        unknown ? 404 : 400,
        relative(err.message.split('\n')[0] ?? 'Invalid scenario'),
        unknown ? 'unknown_scenario' : 'invalid_scenario',
        err.issues.map((i) => ({
          path: i.path,
          message: relative(`${i.file}${i.line ? `:${i.line}` : ''}: ${i.message}`),
        })),
      )
    }
    throw err
  }

  const scenarioRequest = (v: Record<string, unknown> | undefined): ScenarioRequest | undefined => {
    if (v && typeof v.name === 'string' && v.scenario === undefined) return { name: v.name }
    if (v && typeof v.scenario === 'object' && v.scenario !== null) return { scenario: v.scenario }
    return undefined
  }
  const badScenarioRequest = (c: Context) =>
    controlError(c, 400, 'Send {"name": "<scenario>"} or {"scenario": {...}}', 'invalid_request', [
      { path: 'name', message: 'expected a scenario name or an inline scenario object' },
    ])

  app.get('/health', (c) => c.json({ ...mocks.health(tenantOf(c)), ...(scope ? { service: scope } : {}) }))

  app.get('/scenarios', (c) =>
    c.json({ scenarios: mocks.loader.list().map(({ name, description }) => ({ name, description })) }),
  )

  app.get('/scenario', (c) => c.json(routeHost.scenarioOf(c)))

  app.put('/scenario', async (c) => {
    const body = await readBody(c)
    if (!body.ok) return body.res
    const request = scenarioRequest(body.value as Record<string, unknown> | undefined)
    if (!request) return badScenarioRequest(c)
    try {
      const s = await mocks.switchScenario(request, tenantOf(c))
      return c.json({ scenario: s.name, description: s.description, faults: target(c).engine.list().length })
    } catch (err) {
      return scenarioFailure(c, err)
    }
  })

  app.post('/reset', async (c) => {
    try {
      const s = await mocks.reset(tenantOf(c))
      return c.json({ scenario: s.name, reset: true })
    } catch (err) {
      return scenarioFailure(c, err)
    }
  })

  // ---- tenants (issue 16): every test its own world ----

  app.get('/tenants', (c) => c.json({ tenants: mocks.listTenants() }))

  app.post('/tenants', async (c) => {
    const body = await readBody(c)
    if (!body.ok) return body.res
    const v = body.value as Record<string, unknown> | undefined
    const request = scenarioRequest(v ?? { name: 'default' })
    if (!request) return badScenarioRequest(c)
    if (v?.id !== undefined && typeof v.id !== 'string')
      return controlError(c, 400, 'id must be a string', 'invalid_tenant', [
        { path: 'id', message: 'expected a string' },
      ])
    try {
      return c.json(await mocks.createTenant(request, v?.id as string | undefined), 201)
    } catch (err) {
      return scenarioFailure(c, err)
    }
  })

  app.get('/tenants/:id', (c) => {
    const id = c.req.param('id')
    const found = (mocks.listTenants() as { id: string }[]).find((t) => t.id === id)
    if (!found) return controlError(c, 404, `No tenant "${id}": never created, or deleted`, 'unknown_tenant')
    return c.json(found)
  })

  app.delete('/tenants/:id', async (c) => {
    try {
      await mocks.deleteTenant(c.req.param('id'))
      return c.body(null, 204)
    } catch (err) {
      return scenarioFailure(c, err)
    }
  })

  // ---- verdicts (issue 21): the matrix's rules judged from the tenant's journal ----

  const rules = rulesLoader(mocks.config.verdictsFile)
  app.get('/verdicts', async (c) => {
    let list: Rule[]
    try {
      list = rules()
    } catch (err) {
      if (err instanceof VerdictRulesError)
        return controlError(c, 500, err.message, 'invalid_verdict_rules', err.issues)
      throw err
    }
    const since = c.req.query('since')
    const { id } = target(c)
    // Replicated: every replica's entries (a client behind a balancer retries across replicas).
    let entries = await mocks.journalOf(id, {})
    if (since !== undefined) {
      const after = sinceFilter(since, mocks.replica !== undefined)
      if (typeof after === 'string')
        return controlError(c, 400, after, 'invalid_request', [
          {
            path: 'since',
            message: mocks.replica ? after : 'expected a journal seq or an ISO time',
          },
        ])
      entries = entries.filter(after)
    }
    const scoped = scope ? list.filter((r) => r.select.service === scope) : list
    const verdicts = judge(scoped, entries, await mocks.openRequestsOf(id))
    const count = (s: string) => verdicts.filter((v) => v.status === s).length
    return c.json({
      tenant: tenantOf(c),
      summary: { pass: count('pass'), fail: count('fail'), notExercised: count('not-exercised') },
      verdicts,
    })
  })

  app.get('/faults', (c) => c.json({ faults: faultsOf(target(c).engine) }))

  app.post('/faults', async (c) => {
    const body = await readBody(c)
    if (!body.ok) return body.res
    let input = body.value
    if (scope && typeof input === 'object' && input !== null && !('service' in input))
      input = { ...input, service: scope }
    const tenant = target(c)
    const service = (input as { service?: unknown } | null)?.service
    if (
      covered &&
      typeof service === 'string' &&
      !covered.has(service) &&
      mocks.fakes.some((f) => f.name === service)
    ) {
      return controlError(c, 400, 'Invalid fault', 'invalid_fault', [
        {
          path: 'service',
          message: `this is ${scope}'s control slice: add ${service}'s faults on ${service}'s own /__mocks/faults or on the control plane`,
        },
      ])
    }
    if (tenant.id !== DEFAULT_TENANT && typeof service === 'string' && mocks.isSharedService(service)) {
      return controlError(c, 400, 'Invalid fault', 'invalid_fault', [
        {
          path: 'service',
          message: `${service} is shared by every tenant (it belongs to the default tenant): add this fault without a tenant`,
        },
      ])
    }
    try {
      return c.json(await mocks.addFault(tenant.id, input), 201)
    } catch (err) {
      if (err instanceof FaultValidationError)
        return controlError(c, 400, 'Invalid fault', 'invalid_fault', err.issues)
      throw err
    }
  })

  app.delete('/faults/:id', async (c) => {
    const id = c.req.param('id')
    const { engine } = target(c)
    const known = faultsOf(engine).some((f) => f.id === id)
    if (!known || (await mocks.removeFaults(tenantOf(c), [id])) === 0)
      return controlError(c, 404, `No fault with id "${id}"`, 'not_found')
    return c.body(null, 204)
  })

  app.delete('/faults', async (c) => {
    const source = c.req.query('source')
    const { engine } = target(c)
    const ids = faultsOf(engine).flatMap((f) => (!source || f.source === source ? [f.id] : []))
    if (ids.length) await mocks.removeFaults(tenantOf(c), ids)
    return c.body(null, 204)
  })

  const journalFilter = (c: Context): JournalFilter => {
    const q = c.req.query()
    return { service: scope ?? q.service, method: q.method, path: q.path, kind: q.kind }
  }

  app.get('/journal', async (c) => {
    const { journal, id } = target(c)
    const entries = await mocks.journalOf(id, journalFilter(c))
    return c.json({ entries, count: entries.length, limit: journal.limit })
  })

  app.delete('/journal', async (c) => {
    await mocks.clearJournal(target(c).id)
    return c.body(null, 204)
  })

  app.get('/journal/report', async (c) => {
    const report = await mocks.requestIdReportOf(target(c).id)
    return c.json(scope ? { ...report, routes: report.routes.filter((r) => r.service === scope) } : report)
  })

  app.get('/journal/stream', (c) => {
    const filter = journalFilter(c)
    const tenant = target(c)
    return streamSSE(c, async (stream) => {
      let ended: () => void = () => undefined
      const gone = new Promise<void>((resolve) => {
        ended = resolve
      })
      const send = (entry: JournalEntry) => {
        if (filter.service && entry.service !== filter.service) return
        if (filter.method && entry.method !== filter.method.toUpperCase()) return
        // Replicated: another replica's entry is named by its cluster-wide cursor.
        void stream.writeSSE({
          event: 'entry',
          id: entry.cursor ?? String(entry.seq),
          data: JSON.stringify(entry),
        })
      }
      // Replicated: other replicas' entries too, as they publish them (any replica shows the cluster).
      const unfollow = mocks.followOthers(tenant.id, send)
      const unsubscribe = tenant.journal.subscribe(
        send,
        // The tenant was deleted: say so and end the stream.
        () => {
          void stream.writeSSE({
            event: 'end',
            data: JSON.stringify({ tenant: tenant.id, reason: 'deleted' }),
          })
          ended()
        },
      )
      await stream.writeSSE({
        event: 'hello',
        data: JSON.stringify({ scenario: tenant.scenario?.name ?? null, tenant: tenant.id }),
      })
      await Promise.race([new Promise<void>((resolve) => stream.onAbort(resolve)), gone])
      unsubscribe()
      unfollow()
    })
  })

  // Each fake's own control routes (auth's /users, chat's /channels).
  for (const fake of mocks.fakes) fake.controlRoutes?.(app, routeHost)

  // A catch-all route rather than notFound(): a mounted sub-app's notFound is not consulted.
  app.all('*', (c) => controlError(c, 404, `No control route ${c.req.method} ${c.req.path}`, 'not_found'))
  app.onError((err, c) => {
    if (err instanceof TenantGone) return controlError(c, 404, err.message, 'unknown_tenant')
    mocks.logger.error({ err: err.message }, 'control API error')
    return controlError(c, 500, 'Control API error', 'internal_error')
  })
  return app
}
