import type { Redis } from 'ioredis'
import type { Logger } from '../core/logger.ts'
import type { Applying } from '../core/replication.ts'
import type { ClusterCounters } from '../faults/registry.ts'

// Replicated mode's fault counters (README "Replicas"): `times` and seeded probability count
// matches across the cluster, one INCR per match on `<prefix>count:<tenant>:<entry>:<id>:…`.
// A counter lives as long as its fault: when the fault goes (removed, cleared, replaced by a
// reset or a switch, its tenant deleted) the replica that submitted that command deletes its
// counters, a grace period later (a replica still applying the removal may count a match
// meanwhile, and an INCR after the DEL would make the key again, from 1: the fault would fire
// once more there). Every count renews a TTL as a backstop (a replica killed before its DEL).

/** How long a counter outlives its last count at most (a backstop: deletion is the rule). */
export const COUNTER_TTL_MS = 24 * 3600_000
/** How long after a fault's removal its counters are deleted (every replica has applied it by then). */
export const COUNTER_GRACE_MS = 2000

export interface CounterHost {
  readonly writer: Redis
  readonly prefix: string
  readonly replica: string
  /** The log entry being applied right now, if any. */
  applying(): Applying | undefined
  readonly logger: Logger
}

/** The n-th count of a counter (one round trip: INCR and its TTL pipelined). */
export async function countKey(redis: Redis, key: string): Promise<number> {
  const res = await redis.pipeline().incr(key).pexpire(key, COUNTER_TTL_MS).exec()
  const [err, n] = res?.[0] ?? [new Error('no reply'), 0]
  if (err) throw err
  return n as number
}

/** A tenant's cluster-wide fault counters. */
export function tenantCounters(host: CounterHost, tenant: string): ClusterCounters {
  const full = (key: string) => `${host.prefix}count:${tenant}:${key}`
  return {
    count: (key) => countKey(host.writer, full(key)),
    epoch: () => host.applying()?.entry,
    replica: host.replica,
    drop(keys) {
      // Once, by the replica whose command removed the faults (a replay removes nothing in Redis).
      if (!host.applying()?.mine || keys.length === 0) return
      const names = keys.map(full)
      setTimeout(() => {
        host.writer.del(...names).catch((err: Error) => {
          host.logger.debug({ err: err.message }, 'replica: fault counters not deleted (their TTL will)')
        })
      }, COUNTER_GRACE_MS).unref()
    },
  }
}
