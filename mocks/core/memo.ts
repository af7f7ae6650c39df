// The one bounded memo every cache uses (chat history pages, V01T sort orders and list bodies,
// cookie signatures). Bounded in entries and, when given a size function, in bytes: whatever
// keys clients invent, memory stays capped. Eviction is oldest-first (a Map keeps insertion
// order, so evicting is O(1) and a hit costs one Map lookup: these sit on hot paths, where an
// LRU's reordering per hit would cost more than it saves). Memoised values are answers that
// never change for their key; a memo only saves recomputing them.

export interface MemoOptions<K, V> {
  /** Most entries kept (>= 1). */
  maxEntries: number
  /** Most bytes kept, as counted by `sizeOf` (both or neither). */
  maxBytes?: number
  /** An entry's bytes; count the key too where keys come from clients. */
  sizeOf?: (value: V, key: K) => number
}

export class BoundedMemo<K, V> {
  private readonly entries = new Map<K, { value: V; bytes: number }>()
  private total = 0
  private readonly maxEntries: number
  private readonly maxBytes: number
  private readonly sizeOf: ((value: V, key: K) => number) | undefined

  constructor(opts: MemoOptions<K, V>) {
    if (!(opts.maxEntries >= 1)) throw new RangeError(`maxEntries must be at least 1; got ${opts.maxEntries}`)
    if ((opts.maxBytes === undefined) !== (opts.sizeOf === undefined)) {
      throw new TypeError('maxBytes and sizeOf go together: give both or neither')
    }
    this.maxEntries = opts.maxEntries
    this.maxBytes = opts.maxBytes ?? Number.POSITIVE_INFINITY
    this.sizeOf = opts.sizeOf
  }

  get size(): number {
    return this.entries.size
  }

  /** Bytes held, as counted by `sizeOf` (0 without one). */
  get bytes(): number {
    return this.total
  }

  get(key: K): V | undefined {
    return this.entries.get(key)?.value
  }

  has(key: K): boolean {
    return this.entries.has(key)
  }

  /** Remembers `value` (replacing the key's old one), evicting the oldest entries to fit. */
  set(key: K, value: V): V {
    const bytes = this.sizeOf ? this.sizeOf(value, key) : 0
    this.delete(key)
    // Larger than the whole budget: answered, never kept (it would evict everything else).
    if (bytes > this.maxBytes) return value
    while (
      this.entries.size > 0 &&
      (this.entries.size >= this.maxEntries || this.total + bytes > this.maxBytes)
    ) {
      const oldest = this.entries.keys().next().value as K
      this.delete(oldest)
    }
    this.entries.set(key, { value, bytes })
    this.total += bytes
    return value
  }

  /** The memoised value, or `make()`'s, remembered. `make` runs only on a miss. */
  getOrSet(key: K, make: () => V): V {
    const hit = this.entries.get(key)
    if (hit !== undefined) return hit.value
    return this.set(key, make())
  }

  delete(key: K): boolean {
    const entry = this.entries.get(key)
    if (!entry) return false
    this.entries.delete(key)
    this.total -= entry.bytes
    return true
  }

  clear(): void {
    this.entries.clear()
    this.total = 0
  }
}
