// Small promise helpers shared by the hot path (a fake answers synchronously when it can) and
// the callers that need a promise whatever the answer is.

/** Whether a value is a promise (or any thenable): a synchronous answer is used as it is. */
export const isThenable = (v: unknown): v is PromiseLike<unknown> =>
  typeof (v as { then?: unknown } | null | undefined)?.then === 'function'

/**
 * `f()` as a promise, a synchronous throw as a rejection (Node 20 has no `Promise.try`): a
 * fake's `app.fetch` may answer, or throw, synchronously (mocks/fake/sync-compose.ts).
 */
export function promiseOf<T>(f: () => T | PromiseLike<T>): Promise<T> {
  return new Promise<T>((resolve) => resolve(f()))
}
