// The reference client's two behaviours (`client.html?behavior=current`):
// - `correct` (the default): the integration matrix's "Correct Behavior" column;
// - `current`: what its "Current Behavior" column (and its gap list) says family-hub does today,
//   as far as the journal can see it: no X-Request-ID or traceparent, no timeouts (a hung call
//   stays open), history polled every 3 s whatever fails (no backoff, a failed load retried in
//   3 s too), a refused WebSocket retried 1 s, 2 s, 4 s then polling without ever asking whether
//   the session was rejected (no sign-in redirect after a 401 upgrade), and no retries of
//   idempotent reads (V01T fetched once, then the bundled copy; media reads once).
// The verdicts (GET /__mocks/verdicts) grade the first as passing and the second as failing
// exactly the rules the matrix predicts (e2e/verdicts.spec.ts).

/** @type {'correct' | 'current'} */
export const BEHAVIOR =
  new URLSearchParams(globalThis.location?.search ?? '').get('behavior') === 'current' ? 'current' : 'correct'

export const CURRENT = BEHAVIOR === 'current'

/** family-hub's polling today: a fixed 3 s, whatever the answer. */
export const CURRENT_POLL_MS = 3000
