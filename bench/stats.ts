// Small statistics helpers: medians of rounds, percentiles of samples, ratios.

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

/** Nearest-rank percentile (p in 0..100) of a sample. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN
  const sorted = [...values].sort((a, b) => a - b)
  const rank = Math.ceil((p / 100) * sorted.length)
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!
}

export function min(values: readonly number[]): number {
  return values.length ? values.reduce((a, b) => Math.min(a, b)) : Number.NaN
}

export function max(values: readonly number[]): number {
  return values.length ? values.reduce((a, b) => Math.max(a, b)) : Number.NaN
}

export function ratio(candidate: number, baseline: number): number {
  return baseline === 0 || !Number.isFinite(baseline) ? Number.NaN : candidate / baseline
}

export function round(value: number, digits = 2): number {
  if (!Number.isFinite(value)) return value
  const f = 10 ** digits
  return Math.round(value * f) / f
}

/** Each candidate round against the baseline round run next to it: their ratios, in order. */
function pairedRatios(candidate: readonly number[], baseline: readonly number[]): number[] {
  const n = Math.min(candidate.length, baseline.length)
  return Array.from({ length: n }, (_, i) => ratio(candidate[i]!, baseline[i]!))
}

/**
 * Median of per-round ratios: each candidate round against the baseline round run next to it.
 * On a shared machine this resists a load spike that hits one round more than a ratio of
 * medians does.
 */
export function pairedRatio(candidate: readonly number[], baseline: readonly number[]): number {
  const r = pairedRatios(candidate, baseline)
  return r.length === 0 ? Number.NaN : median(r)
}

/**
 * The quartiles of the per-round ratios (`pairedRatio` is their median), as text for a target:
 * how far one run's figure can be trusted. Empty below four pairs.
 */
export function pairedQuartilesText(candidate: readonly number[], baseline: readonly number[]): string {
  const r = pairedRatios(candidate, baseline)
  if (r.length < 4) return ''
  return `, per-round ratios' quartiles ${round(percentile(r, 25), 3)}–${round(percentile(r, 75), 3)}`
}

/**
 * Median of per-round differences (candidate − baseline): an extra cost in absolute units,
 * each candidate round against the baseline round run next to it.
 */
export function pairedDifference(candidate: readonly number[], baseline: readonly number[]): number {
  const n = Math.min(candidate.length, baseline.length)
  if (n === 0) return Number.NaN
  return median(Array.from({ length: n }, (_, i) => candidate[i]! - baseline[i]!))
}

/**
 * What an extra CPU cost per request does to throughput: a CPU-bound server that spends
 * `servedUs` per request and `extraUs` more serves `servedUs / (servedUs + extraUs)` of it.
 * Returned as the cost (0.03 = 3 % fewer requests per second).
 */
export function throughputCost(extraUs: number, servedUs: number): number {
  return 1 - servedUs / (servedUs + extraUs)
}

/** A magnitude with its sign in front (`+0.4 µs`, `−2 %`): the report printed `+-0.5` before. */
export function signedFigure(value: number, unit: string, digits: number): string {
  return `${value >= 0 ? '+' : '−'}${round(Math.abs(value), digits)} ${unit}`
}

/** Extra CPU per request: `+0.4 µs`. */
export const signedUs = (us: number): string => signedFigure(us, 'µs', 2)

/** A share as a signed percentage: `+3.1 %`. */
export const signedShare = (share: number): string => signedFigure(share * 100, '%', 1)

/**
 * Round `r`'s order of blocks measured back to back: rotated every other round and reversed
 * every other round, so over 2 × n rounds each block runs first, and before each other block,
 * equally often (with a rotation per round the reversal would undo it for a pair: the same
 * order every round).
 */
export function roundOrder<T>(items: readonly T[], r: number): T[] {
  const shift = Math.floor(r / 2)
  const order = items.map((_, i) => items[(i + shift) % items.length]!)
  return r % 2 ? order.reverse() : order
}
