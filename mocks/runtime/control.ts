import { join } from 'node:path'
import { getConnInfo } from '@hono/node-server/conninfo'
import { type Context, Hono } from 'hono'
import { streamSSE } from 'hono/streaming'
import type { ServiceName } from '../core/config.ts'
import { controlEnvelope } from '../core/envelope.ts'
import type { Journal, JournalFilter } from '../core/journal.ts'
import type { Logger } from '../core/logger.ts'
import type { ControlRouteHost, FakeDescriptor } from '../fake/descriptor.ts'
import type { Scenario } from '../fake/scenario.ts'
import type { FaultEngine } from '../faults/engine.ts'
import { FaultValidationError } from '../faults/engine.ts'
import { ScenarioError } from './scenario-loader.ts'

// The control API (DESIGN §5): on the control port for everything, and mounted under
// /__mocks on each fake scoped to that fake (faults and journal filtered to it).

function controlError(
  c: Context,
  status: 400 | 401 | 403 | 404 | 409 | 500,
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

/** What the control API needs from the running mocks (a structural slice of the runtime's `Mocks`). */
export interface ControlHost extends ControlRouteHost {
  readonly fakes: readonly FakeDescriptor[]
  readonly logger: Logger
  readonly loader: { readonly dir: string; list(): { name: string; description: string }[] }
  readonly scenario: Scenario
  readonly faults: Pick<FaultEngine, 'add' | 'list' | 'remove' | 'settled'>
  readonly journal: Pick<Journal, 'list' | 'clear' | 'limit' | 'requestIdReport' | 'subscribe'>
  health(): { scenario: string | null }
  switchScenario(request: ScenarioRequest): Promise<Scenario>
  reset(): Promise<Scenario>
}

export function createControlApp(mocks: ControlHost, scope?: ServiceName): Hono {
  const app = new Hono()

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

  app.get('/health', (c) => c.json({ ...mocks.health(), ...(scope ? { service: scope } : {}) }))

  app.get('/scenarios', (c) =>
    c.json({ scenarios: mocks.loader.list().map(({ name, description }) => ({ name, description })) }),
  )

  app.get('/scenario', (c) => c.json(mocks.scenario))

  app.put('/scenario', async (c) => {
    const body = await readBody(c)
    if (!body.ok) return body.res
    const v = body.value as Record<string, unknown> | undefined
    let request: ScenarioRequest
    if (v && typeof v.name === 'string' && v.scenario === undefined) request = { name: v.name }
    else if (v && typeof v.scenario === 'object' && v.scenario !== null) request = { scenario: v.scenario }
    else {
      return controlError(c, 400, 'Send {"name": "<scenario>"} or {"scenario": {...}}', 'invalid_request', [
        { path: 'name', message: 'expected a scenario name or an inline scenario object' },
      ])
    }
    try {
      const s = await mocks.switchScenario(request)
      return c.json({ scenario: s.name, description: s.description, faults: mocks.faults.list().length })
    } catch (err) {
      return scenarioFailure(c, err)
    }
  })

  app.post('/reset', async (c) => {
    const s = await mocks.reset()
    return c.json({ scenario: s.name, reset: true })
  })

  app.get('/faults', (c) => c.json({ faults: mocks.faults.list(scope) }))

  app.post('/faults', async (c) => {
    const body = await readBody(c)
    if (!body.ok) return body.res
    let input = body.value
    if (scope && typeof input === 'object' && input !== null && !('service' in input))
      input = { ...input, service: scope }
    try {
      const fault = mocks.faults.add(input)
      await mocks.faults.settled()
      return c.json(fault, 201)
    } catch (err) {
      if (err instanceof FaultValidationError)
        return controlError(c, 400, 'Invalid fault', 'invalid_fault', err.issues)
      throw err
    }
  })

  app.delete('/faults/:id', async (c) => {
    const id = c.req.param('id')
    const known = mocks.faults.list(scope).some((f) => f.id === id)
    if (!known || !mocks.faults.remove(id))
      return controlError(c, 404, `No fault with id "${id}"`, 'not_found')
    await mocks.faults.settled()
    return c.body(null, 204)
  })

  app.delete('/faults', async (c) => {
    const source = c.req.query('source')
    for (const f of mocks.faults.list(scope)) if (!source || f.source === source) mocks.faults.remove(f.id)
    await mocks.faults.settled()
    return c.body(null, 204)
  })

  const journalFilter = (c: Context): JournalFilter => {
    const q = c.req.query()
    return { service: scope ?? q.service, method: q.method, path: q.path, kind: q.kind }
  }

  app.get('/journal', (c) => {
    const entries = mocks.journal.list(journalFilter(c))
    return c.json({ entries, count: entries.length, limit: mocks.journal.limit })
  })

  app.delete('/journal', (c) => {
    mocks.journal.clear()
    return c.body(null, 204)
  })

  app.get('/journal/report', (c) => {
    const report = mocks.journal.requestIdReport()
    return c.json(scope ? { ...report, routes: report.routes.filter((r) => r.service === scope) } : report)
  })

  app.get('/journal/stream', (c) => {
    const filter = journalFilter(c)
    return streamSSE(c, async (stream) => {
      const unsubscribe = mocks.journal.subscribe((entry) => {
        if (filter.service && entry.service !== filter.service) return
        if (filter.method && entry.method !== filter.method.toUpperCase()) return
        void stream.writeSSE({ event: 'entry', id: String(entry.seq), data: JSON.stringify(entry) })
      })
      await stream.writeSSE({ event: 'hello', data: JSON.stringify({ scenario: mocks.health().scenario }) })
      await new Promise<void>((resolve) => stream.onAbort(resolve))
      unsubscribe()
    })
  })

  // Each fake's own control routes (auth's /users, chat's /channels).
  for (const fake of mocks.fakes) fake.controlRoutes?.(app, mocks)

  // A catch-all route rather than notFound(): a mounted sub-app's notFound is not consulted.
  app.all('*', (c) => controlError(c, 404, `No control route ${c.req.method} ${c.req.path}`, 'not_found'))
  app.onError((err, c) => {
    mocks.logger.error({ err: err.message }, 'control API error')
    return controlError(c, 500, 'Control API error', 'internal_error')
  })
  return app
}
