import type { Context, Next } from 'hono'
import type { ServiceName } from '../core/config.ts'
import type { Identify, SessionDirectory } from './identity.ts'
import type { HttpTrace, TracedHandler } from './journaling.ts'
import type { MatchTarget } from './match.ts'
import type { Compiled, FaultRegistry } from './registry.ts'
import type { HttpBehaviour, Target } from './types.ts'
import type { OutageWindows } from './windows.ts'

// The HTTP pipeline: the faults that fire for a request wrap one another in install order,
// like toxiproxy's toxics, around the fake (`next`). A handshake is a request too: effects
// that act on `upgrade` apply to it, those that act on `http` to every other request.

export interface PipelineDeps {
  registry: FaultRegistry
  windows: OutageWindows
  sessions: SessionDirectory
  identify: Identify
  errorBody(service: ServiceName, status: number): unknown
  /** The current install's signal: aborted by a reset or scenario switch. */
  cut(): AbortSignal
}

type Step = HttpBehaviour<never>

export function faultPipeline(deps: PipelineDeps, service: ServiceName): TracedHandler {
  const errorBody = (status: number) => deps.errorBody(service, status)
  return (c, next, trace) => {
    const { headers } = trace
    const isUpgrade = headers.get('upgrade')?.toLowerCase() === 'websocket'
    const token = deps.identify({ headers, search: trace.search, upgrade: isUpgrade })
    const identity = token ? deps.sessions.get(token) : undefined
    trace.userId = identity?.userId
    const target: MatchTarget = {
      kind: isUpgrade ? 'upgrade' : 'http',
      method: c.req.method,
      path: c.req.path,
      headers,
      sessionToken: token,
      userId: identity?.userId,
      userEmail: identity?.email,
    }
    const on: Target = isUpgrade ? 'upgrade' : 'http'
    // Replicated mode counts `times` and probability across replicas (one round trip per match).
    if (deps.registry.cluster) {
      const counted = deps.registry.fireCounted(service, target, on)
      return Array.isArray(counted)
        ? decide(c, next, trace, counted, on)
        : counted.then((firing) => decide(c, next, trace, firing, on))
    }
    return decide(c, next, trace, deps.registry.fire(service, target, on), on)
  }

  // A function, not a closure made per request.
  function decide(c: Context, next: Next, trace: HttpTrace, firing: Compiled[], on: Target) {
    // A service-wide fault in force with no listener to close (in-process): it answers first.
    const down = deps.windows.hasListener(service) ? undefined : deps.windows.inForce(service)
    // No fault acts (nearly every request): the journaling layer goes straight on to the fake.
    if (firing.length === 0 && !down) return null
    return act(c, next, trace, firing, down, on)
  }

  async function act(
    c: Context,
    next: Next,
    trace: HttpTrace,
    firing: Compiled[],
    down: Compiled | undefined,
    on: Target,
  ): Promise<Response | undefined> {
    const isUpgrade = on === 'upgrade'
    const steps: [Compiled, Step][] = firing.map((f) => [f, f.module.acts[on] as Step])
    if (down) steps.unshift([down, down.module.acts.service!.stray as Step])
    const proceed = async () => {
      trace.reachedFake = true
      await next()
      return c.res
    }
    const chain = steps.reduceRight<() => Promise<Response>>(
      (inner, [f, step]) =>
        () =>
          step(
            // The request's AbortSignal is read only when a fault acts: reading it makes one.
            {
              c,
              service,
              fault: f.fault,
              random: () => deps.registry.random(f.fault),
              signal: c.req.raw.signal,
              cut: deps.cut(),
              isUpgrade,
              errorBody,
            },
            f.fault.spec.effect as never,
            inner,
          ),
      proceed,
    )
    // The journal credits the first effect that decides the answer (one that only holds the
    // request passes the credit on), else the first that fired.
    trace.fault = (steps.find(([f]) => !f.module.passesThrough) ?? steps[0])?.[0]
    const res = await chain()
    trace.res = res
    // Only when an effect replaced the response: assigning c.res (even the same object)
    // makes Hono rebuild it, turning @hono/node-server's fast path into a streamed body.
    if (trace.reachedFake && res !== c.res) c.res = res
    return trace.reachedFake ? undefined : res
  }
}
