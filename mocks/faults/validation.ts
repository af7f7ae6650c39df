import { effectModule } from './effects/index.ts'
import { type Fault, faultSchema } from './schema.ts'
import { ALL_TARGETS, type ServiceTransports, TARGETS, TRANSPORTS } from './transports.ts'
import type { EffectModule, Target } from './types.ts'

// The one validation of a fault beyond its schema: whether its effect can act at all, given its
// service's transport and its match. Used for faults added at runtime (POST /__mocks/faults) and
// for a scenario's faults (the loader), so a scenario cannot install what the API refuses.
// Every message is built from the effect module's declarations and the transport table.

export interface FaultIssue {
  path: string
  message: string
}

export class FaultValidationError extends Error {
  override name = 'FaultValidationError'
  constructor(readonly issues: FaultIssue[]) {
    super(`Invalid fault: ${issues.map((i) => `${i.path || '(root)'}: ${i.message}`).join('; ')}`)
  }
}

/** The targets an effect module has a behaviour for. */
export function targetsOf(m: EffectModule): Target[] {
  return ALL_TARGETS.filter((t) => m.acts[t] !== undefined)
}

const list = (items: string[]) =>
  items.length <= 1 ? (items[0] ?? '') : `${items.slice(0, -1).join(', ')} or ${items.at(-1)}`

/** Where a fault's effect can act at all, given its service's transport and its match. */
export function faultIssues(f: Fault, services: ServiceTransports): FaultIssue[] {
  const issues: FaultIssue[] = []
  const m = effectModule(f.effect.type)
  const acts = targetsOf(m)
  const transport = services[f.service]
  if (!transport) {
    return [
      {
        path: 'service',
        message: `no service "${f.service}" (services: ${Object.keys(services).join(', ')})`,
      },
    ]
  }
  const offered = TRANSPORTS[transport]
  if (!acts.some((t) => offered.includes(t))) {
    const needs = [...new Set(acts.map((t) => TARGETS[t].needs))]
    const first = acts[0] ? TARGETS[acts[0]].article : 'a'
    const able = Object.entries(services)
      .filter(([, tr]) => acts.some((t) => TRANSPORTS[tr].includes(t)))
      .map(([name]) => name)
    issues.push({
      path: 'effect.type',
      message: `${m.type} ${m.does}: it needs ${first} ${list(needs)} service; ${f.service} has none${able.length ? ` (use ${list(able)})` : ''}`,
    })
  }
  if (acts.length === 1 && acts[0] === 'service') {
    if (f.match) {
      issues.push({
        path: 'match',
        message: `\`${m.type}\` is service-wide (it ${m.does}), so it takes no match`,
      })
    }
    return issues
  }
  const ws = f.match?.ws
  if (ws === undefined) return issues
  if (!offered.includes('upgrade') && !offered.includes('ws')) {
    issues.push({ path: 'match.ws', message: `${f.service} has no WebSocket` })
  } else if (ws === 'upgrade') {
    // `ws` effects fire when a socket opens: match.ws "upgrade" picks that moment.
    if (!acts.includes('upgrade') && !acts.includes('ws')) {
      issues.push({
        path: 'match.ws',
        message: `${m.type} ${m.does}, not WebSocket handshakes: it takes no match.ws`,
      })
    }
  } else if (!acts.includes('ws')) {
    issues.push({
      path: 'match.ws',
      message: acts.includes('upgrade')
        ? `${m.type} acts on ${list(acts.map((t) => TARGETS[t].what))}, not on WebSocket frames; for it match.ws may only be "upgrade"`
        : `${m.type} ${m.does}, not WebSocket frames: it takes no match.ws`,
    })
  }
  return issues
}

/** The fault schema with the host's service names (one per services map). */
const schemas = new WeakMap<ServiceTransports, ReturnType<typeof faultSchema>>()
function schemaFor(services: ServiceTransports): ReturnType<typeof faultSchema> {
  let schema = schemas.get(services)
  if (!schema) {
    schema = faultSchema(Object.keys(services) as [string, ...string[]])
    schemas.set(services, schema)
  }
  return schema
}

/** Parses and checks one fault: its schema (with the host's services), then where it can act. */
export function parseFault(input: unknown, services: ServiceTransports): Fault {
  const parsed = schemaFor(services).safeParse(input)
  if (!parsed.success) {
    throw new FaultValidationError(
      parsed.error.issues.map((i) => ({ path: i.path.map(String).join('.'), message: i.message })),
    )
  }
  const issues = faultIssues(parsed.data, services)
  if (issues.length) throw new FaultValidationError(issues)
  return parsed.data
}

/** The same checks for a scenario's fault list (schema already applied), paths like `faults.2.match.ws`. */
export function scenarioFaultIssues(faults: readonly Fault[], services: ServiceTransports): FaultIssue[] {
  const seen = new Set<string>()
  return faults.flatMap((f, i) => {
    const issues = faultIssues(f, services)
    if (f.id) {
      if (seen.has(f.id)) issues.push({ path: 'id', message: `duplicate fault id "${f.id}"` })
      seen.add(f.id)
    }
    return issues.map((x) => ({ path: `faults.${i}${x.path ? `.${x.path}` : ''}`, message: x.message }))
  })
}
