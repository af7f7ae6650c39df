// Types for backoff.js (a browser module served as is; tests import it from TypeScript).
export declare const JITTER: number
export declare function backoffDelay(
  attempt: number,
  opts: { baseMs: number; capMs?: number; jitter?: number; random?: () => number },
): { nominalMs: number; delayMs: number }
export declare function sleep(ms: number, signal?: AbortSignal): Promise<void>
export declare function retrying<T>(
  call: (attempt: number) => Promise<T>,
  opts: {
    attempts: number
    baseMs: number
    capMs?: number
    shouldRetry: (result: T) => boolean
    onRetry?: (info: { attempt: number; nominalMs: number; delayMs: number; result: T }) => void
    signal?: AbortSignal
    random?: () => number
  },
): Promise<{ result: T; attempts: number }>
