// `new Date(ms).toISOString()` without V8's date formatting, which costs ~1 µs a call on the
// bench machine: the journal stamps every entry and V01T every list answer with it. The date
// part changes once a day and is taken from toISOString itself; the time of day is arithmetic.

const DAY_MS = 86_400_000

let cachedDay = Number.NaN
let cachedPrefix = ''

const pad2 = (n: number) => (n < 10 ? `0${n}` : `${n}`)
const pad3 = (n: number) => (n < 10 ? `00${n}` : n < 100 ? `0${n}` : `${n}`)

/** Exactly `new Date(ms).toISOString()` for an integral `ms` in Date's range. */
export function isoTime(ms: number): string {
  const day = Math.floor(ms / DAY_MS)
  if (day !== cachedDay) {
    // "YYYY-MM-DDT" (or "+YYYYYY-MM-DDT" far from now): whatever toISOString writes.
    const full = new Date(day * DAY_MS).toISOString()
    cachedPrefix = full.slice(0, full.indexOf('T') + 1)
    cachedDay = day
  }
  let rest = ms - day * DAY_MS
  const h = Math.floor(rest / 3_600_000)
  rest -= h * 3_600_000
  const m = Math.floor(rest / 60_000)
  rest -= m * 60_000
  const s = Math.floor(rest / 1000)
  return `${cachedPrefix}${pad2(h)}:${pad2(m)}:${pad2(s)}.${pad3(rest - s * 1000)}Z`
}
