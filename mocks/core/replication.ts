// Replicated mode (issue 22, README "Replicas"): the kernel's view of the world's ordered log.
// A fake or the runtime submits a command and registers how every replica applies a kind of
// command; the log (mocks/replica/, Redis Streams) gives one order to all replicas. Absent
// (undefined) in one process: callers apply directly and pay nothing.

/** Where and when an entry is being applied. */
export interface Applying {
  /** The log entry's id (Redis stream id). */
  readonly entry: string
  /** The replica that submitted it. */
  readonly origin: string
  /** Whether this replica submitted it (its answer waits on this application). */
  readonly mine: boolean
}

export interface SubmitOptions {
  /**
   * Answer once every live replica has applied the command, not only this one: a write whose
   * next read may go to another replica (a balancer's round robin) and find it stale there.
   */
  everywhere?: boolean
}

export interface Replication {
  /** This replica's name (MOCKS_REPLICA). */
  readonly replica: string
  /**
   * Appends a command to the world's log; resolves with what applying it returned on this
   * replica, once this replica's reader has applied it (in log order), or rejects with what it
   * threw. With `everywhere`, a success resolves only once every other live replica has applied
   * it too (bounded by `CATCH_UP_MS`): what the answer says is then true on every replica.
   */
  submit<T>(kind: string, payload: unknown, opts?: SubmitOptions): Promise<T>
  /** How every replica applies a kind of command (one handler per kind). */
  handle(kind: string, apply: (payload: never, at: Applying) => unknown): void
  /**
   * The n-th (1-based) count of a cluster-wide counter (`times`, probability draws): one round
   * trip per call.
   */
  count(key: string): Promise<number>
  /** This process's incarnation (its name and a start nonce): it heartbeats under this id. */
  readonly instance: string
  /**
   * Calls `gone` once `instance` has stopped heartbeating (a replica killed, or a previous
   * incarnation of one): what it held for its sockets (presence) can go. Never for this one.
   */
  watch(instance: string, gone: () => void): void
  /** The entry being applied right now (undefined outside an application): keys what it makes. */
  readonly applying: Applying | undefined
  /**
   * Resolves once this replica has applied every entry the log held when called (one round
   * trip, then the wait): a read that must see a write another replica has already answered.
   */
  caughtUp(): Promise<void>
}

/**
 * How long a read waits for this replica to catch up with the log, and a write for the others
 * to apply it, before it answers anyway (a replica cut off from Redis must not stall the rest).
 */
export const CATCH_UP_MS = 2000

/**
 * `replication.caughtUp()`, bounded: it never fails and never takes longer than `ms` (a read
 * that would see another replica's write answers with what it has after that).
 */
export function caughtUpWithin(replication: Replication, ms = CATCH_UP_MS): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined
  const bound = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, ms)
  })
  return Promise.race([replication.caughtUp().catch(() => undefined), bound]).then(() => clearTimeout(timer))
}

const UNTOUCHED = Symbol.for('devarno-mocks.replication.untouched')

/**
 * Marks an error a command's handler threw before it touched any state (an unknown scenario, a
 * tenant refusing it): the log's compaction keeps no such entry, since what refused it (other
 * tenants' state) may be gone for a replica replaying it from a snapshot. Returns the error.
 */
export function untouched<E>(err: E): E {
  if (typeof err === 'object' && err !== null) (err as Record<symbol, unknown>)[UNTOUCHED] = true
  return err
}

export function isUntouched(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as Record<symbol, unknown>)[UNTOUCHED] === true
}
