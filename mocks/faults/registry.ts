import { createHmac } from 'node:crypto'
import type { ServiceName } from '../core/config.ts'
import { effectModule } from './effects/index.ts'
import { compileMatch, type MatchTarget } from './match.ts'
import { PathIndex } from './path-index.ts'
import type { Fault } from './schema.ts'
import type { EffectModule, Target } from './types.ts'

// The installed faults and their state: ids, install time, firings (`times`), seeded
// probability draws, and the views the control API lists.

export interface ActiveFault {
  id: string
  spec: Fault
  /** Where it came from: the scenario in force, or added at runtime (API, CLI, fixture). */
  source: 'scenario' | 'runtime'
  installedAt: number
  fired: number
  /** Probability draws made so far (the index of the next seeded draw). */
  draws: number
  /** Replicated mode: the log entry that installed it (its cluster counters' key), else `start`. */
  epoch?: string
}

/**
 * Replicated mode (mocks/replica): cluster-wide counters, so `times` and seeded `probability`
 * count matches across every replica. Absent in one process (the synchronous `fire`).
 */
export interface ClusterCounters {
  /** The n-th (1-based) count of a counter: one Redis round trip. */
  count(key: string): Promise<number>
  /** The log entry being applied while a fault is installed, if any. */
  epoch(): string | undefined
  /** This replica's name: a fault naming another replica (`replica:`) does not act here. */
  readonly replica: string
  /**
   * Faults removed (by id, a clear, a reset, a switch or the tenant's deletion): their counters
   * (keys as given to `count`) go. Called on every replica as it applies the removal.
   */
  drop(keys: readonly string[]): void
}

/** Whether a fault acts on this process: `replica:` names one replica (ignored in one process). */
function here(f: ActiveFault, cluster: ClusterCounters | undefined): boolean {
  return f.spec.replica === undefined || cluster === undefined || f.spec.replica === cluster.replica
}

/** A fault as the control API shows it. */
export interface FaultView extends Fault {
  id: string
  source: ActiveFault['source']
  fired: number
  state: 'pending' | 'active' | 'expired'
}

export interface Compiled {
  fault: ActiveFault
  module: EffectModule
  matches: (t: MatchTarget) => boolean
}

/** Where a fault is in its life: before `afterMs`, in force, or past `forMs` / `times`. */
export function faultState(f: ActiveFault, now = performance.now()): FaultView['state'] {
  if (f.spec.times !== undefined && f.fired >= f.spec.times) return 'expired'
  const age = now - f.installedAt
  const start = f.spec.afterMs ?? 0
  if (age < start) return 'pending'
  if (f.spec.forMs !== undefined && age >= start + f.spec.forMs) return 'expired'
  return 'active'
}

export class FaultRegistry {
  private compiled: Compiled[] = []
  private readonly index = new PathIndex<Compiled>((c) => ({
    service: c.fault.spec.service,
    path: c.fault.spec.match?.path,
  }))
  private seed = 1
  private nextId = 1
  /** Set in replicated mode: `fireCounted` then replaces `fire` (HTTP, WebSocket frames, TCP). */
  cluster: ClusterCounters | undefined

  /** Every installed fault, in install order. */
  all(): readonly Compiled[] {
    return this.compiled
  }

  has(id: string): boolean {
    return this.compiled.some((c) => c.fault.id === id)
  }

  /** Replaces every fault (scenario switch or reset). Ids are deterministic: `<scenario>-<n>`. */
  install(faults: readonly Fault[], seed: number, scenario: string): void {
    this.seed = seed
    this.nextId = 1
    this.set(faults.map((f, i) => this.compile(f, 'scenario', f.id ?? `${scenario}-${i + 1}`)))
  }

  /** Adds a checked fault; without an id (or with a taken one) it gets `fault-<n>`. */
  add(spec: Fault): Compiled {
    let id = spec.id
    while (!id || this.has(id)) id = `fault-${this.nextId++}`
    const compiled = this.compile(spec, 'runtime', id)
    this.set([...this.compiled, compiled])
    return compiled
  }

  remove(id: string): boolean {
    const before = this.compiled.length
    this.set(this.compiled.filter((c) => c.fault.id !== id))
    return this.compiled.length !== before
  }

  clear(): void {
    this.set([])
  }

  list(service?: ServiceName): FaultView[] {
    return this.compiled.filter((c) => !service || c.fault.spec.service === service).map(view)
  }

  view(c: Compiled): FaultView {
    return view(c)
  }

  /** Seeded draw in [0, 1): the n-th draw of a fault depends only on the seed, its id and n. */
  random(f: ActiveFault): number {
    return this.drawAt(f, f.draws++)
  }

  private drawAt(f: ActiveFault, n: number): number {
    const digest = createHmac('sha256', String(this.seed)).update(`${f.id}:${n}`).digest()
    return digest.readUIntBE(0, 6) / 2 ** 48
  }

  /**
   * Whether a fault (a candidate of the path index) acts on this target now: its effect acts on
   * `on`, it is in force, its match holds and it is not another replica's. The filter `fire` and
   * `fireCounted` share (the hot path: a plain method, inlined by V8).
   */
  private eligible(c: Compiled, target: MatchTarget, on: Target, now: number): boolean {
    return (
      c.module.acts[on] !== undefined &&
      faultState(c.fault, now) === 'active' &&
      c.matches(target) &&
      (c.fault.spec.replica === undefined || here(c.fault, this.cluster))
    )
  }

  /**
   * Faults that fire for this target, in install order, counting each firing (times) and
   * drawing (probability). Only faults whose effect acts on `on` are considered.
   */
  fire(service: ServiceName, target: MatchTarget, on: Target): Compiled[] {
    const now = performance.now()
    const out: Compiled[] = []
    for (const c of this.index.candidates(service, target.path)) {
      if (!this.eligible(c, target, on, now)) continue
      const f = c.fault
      if (f.spec.probability !== undefined && !(this.random(f) < f.spec.probability)) continue
      f.fired++
      out.push(c)
    }
    return out
  }

  /**
   * `fire` counted across the cluster (replicated mode; `fire` itself in one process): a fault
   * with `probability` takes its n-th draw from the cluster-wide n (so the n-th match anywhere
   * gets the n-th outcome of one process), a fault with `times` fires while the cluster-wide
   * firing count is at most `times`. Synchronous (an array) when no fault that fires needs a
   * count; otherwise one round trip for all of them (two for a fault with both fields).
   */
  fireCounted(service: ServiceName, target: MatchTarget, on: Target): Compiled[] | Promise<Compiled[]> {
    const cluster = this.cluster
    if (!cluster) return this.fire(service, target, on)
    const now = performance.now()
    const matched: Compiled[] = []
    let counted = false
    for (const c of this.index.candidates(service, target.path)) {
      if (!this.eligible(c, target, on, now)) continue
      matched.push(c)
      if (c.fault.spec.times !== undefined || c.fault.spec.probability !== undefined) counted = true
    }
    if (!counted) {
      for (const c of matched) c.fault.fired++
      return matched
    }
    // Every counter asked at once, in install order (ioredis pipelines them on one connection).
    return Promise.all(matched.map((c) => this.counted(c, cluster))).then((fires) =>
      matched.filter((_, i) => fires[i]),
    )
  }

  private async counted(c: Compiled, cluster: ClusterCounters): Promise<boolean> {
    const f = c.fault
    const key = counterKey(f)
    if (f.spec.probability !== undefined) {
      const n = await cluster.count(`${key}:draws`)
      f.draws = Math.max(f.draws, n)
      if (!(this.drawAt(f, n - 1) < f.spec.probability)) return false
    }
    if (f.spec.times !== undefined) {
      const n = await cluster.count(`${key}:fired`)
      // Past the cluster's count: expired here too (no more round trips for it).
      f.fired = Math.max(f.fired, Math.min(n, f.spec.times))
      return n <= f.spec.times
    }
    f.fired++
    return true
  }

  /** The first fault in force for the service whose effect acts on `on` (no match, no count). */
  inForce(service: ServiceName, on: Target): Compiled | undefined {
    const now = performance.now()
    return this.compiled.find(
      (c) =>
        c.module.acts[on] !== undefined &&
        c.fault.spec.service === service &&
        here(c.fault, this.cluster) &&
        faultState(c.fault, now) === 'active',
    )
  }

  private compile(spec: Fault, source: ActiveFault['source'], id: string): Compiled {
    return compile(spec, source, id, this.cluster?.epoch())
  }

  private set(list: Compiled[]): void {
    let gone: Compiled[] = []
    if (this.cluster) {
      const kept = new Set(list)
      gone = this.compiled.filter((c) => !kept.has(c))
    }
    this.compiled = list
    this.index.set(list)
    if (gone.length) this.dropCounters(gone)
  }

  /** Replicated mode: the cluster counters of faults no longer installed go (mocks/replica). */
  private dropCounters(gone: readonly Compiled[]): void {
    const keys = gone.flatMap(({ fault: f }) => [
      ...(f.spec.probability !== undefined ? [`${counterKey(f)}:draws`] : []),
      ...(f.spec.times !== undefined ? [`${counterKey(f)}:fired`] : []),
    ])
    if (keys.length) this.cluster?.drop(keys)
  }
}

/** A fault's cluster counters: keyed by the log entry that installed it and its id. */
function counterKey(f: ActiveFault): string {
  return `${f.epoch ?? 'start'}:${f.id}`
}

function compile(spec: Fault, source: ActiveFault['source'], id: string, epoch?: string): Compiled {
  const fault: ActiveFault = { id, spec, source, installedAt: performance.now(), fired: 0, draws: 0 }
  if (epoch !== undefined) fault.epoch = epoch
  return { fault, module: effectModule(spec.effect.type), matches: compileMatch(spec.match) }
}

function view(c: Compiled): FaultView {
  return {
    ...c.fault.spec,
    id: c.fault.id,
    source: c.fault.source,
    fired: c.fault.fired,
    state: faultState(c.fault),
  }
}
