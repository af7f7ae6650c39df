// Exponential backoff with bounded jitter, shared by every retry loop of the reference client.
// Jitter only ever adds time (up to JITTER of the nominal delay), so a retry is never early and
// the schedule stays assertable: attempt n waits in [nominal, nominal * (1 + JITTER)].

/** Largest share of the nominal delay that jitter may add. */
export const JITTER = 0.2

/**
 * Delay before retry number `attempt` (1-based): base, 2·base, 4·base, ... capped at `capMs`.
 * @param {number} attempt
 * @param {{ baseMs: number, capMs?: number, jitter?: number, random?: () => number }} opts
 * @returns {{ nominalMs: number, delayMs: number }}
 */
export function backoffDelay(attempt, opts) {
  if (!Number.isInteger(attempt) || attempt < 1) throw new RangeError(`attempt must be >= 1, got ${attempt}`)
  const jitter = opts.jitter ?? JITTER
  const random = opts.random ?? Math.random
  const nominalMs = Math.min(opts.capMs ?? Number.POSITIVE_INFINITY, opts.baseMs * 2 ** (attempt - 1))
  return { nominalMs, delayMs: Math.round(nominalMs * (1 + jitter * random())) }
}

/** A promise that resolves after `ms`, or rejects with the signal's reason when aborted. */
export function sleep(ms, signal) {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason)
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort)
      resolve(undefined)
    }, ms)
    const onAbort = () => {
      clearTimeout(t)
      reject(signal?.reason)
    }
    signal?.addEventListener('abort', onAbort, { once: true })
  })
}

/**
 * Runs `call` until it succeeds, `shouldRetry` says no, or `attempts` are used up, waiting
 * backoffDelay(n) between tries. Only for idempotent calls: uploads are never retried here.
 * @template T
 * @param {(attempt: number) => Promise<T>} call
 * @param {{ attempts: number, baseMs: number, capMs?: number, shouldRetry: (result: T) => boolean,
 *   onRetry?: (info: { attempt: number, nominalMs: number, delayMs: number, result: T }) => void,
 *   signal?: AbortSignal, random?: () => number }} opts
 * @returns {Promise<{ result: T, attempts: number }>}
 */
export async function retrying(call, opts) {
  for (let attempt = 1; ; attempt++) {
    const result = await call(attempt)
    if (attempt >= opts.attempts || !opts.shouldRetry(result)) return { result, attempts: attempt }
    const { nominalMs, delayMs } = backoffDelay(attempt, opts)
    opts.onRetry?.({ attempt, nominalMs, delayMs, result })
    await sleep(delayMs, opts.signal)
  }
}
