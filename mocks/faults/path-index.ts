import { literalPath } from './match.ts'

// The faults of a service that may match a path, in install order (the order effects nest in).
// Faults matching one literal path are looked up by it instead of tested one by one, so
// faults aimed at other routes cost a request nothing (100 of them cost ~6 % of a V01T list's
// CPU when each was tested).

export interface Indexed {
  readonly service: string
  /** The fault's `match.path`, if any. */
  readonly path: string | undefined
}

interface ServiceIndex<T> {
  /** Items whose match has one literal path, by that path without its trailing slash. */
  byPath: Map<string, T[]>
  /** Every other item of the service. */
  scan: T[]
  order: Map<T, number>
}

export class PathIndex<T> {
  private items: readonly T[] = []
  /** Built on first use after any change (see `candidates`). */
  private indexes: Map<string, ServiceIndex<T>> | undefined

  constructor(private readonly keyOf: (item: T) => Indexed) {}

  /** The list to index, in install order; indexed lazily on the next lookup. */
  set(items: readonly T[]): void {
    this.items = items
    this.indexes = undefined
  }

  candidates(service: string, path: string): readonly T[] {
    if (!this.indexes) this.indexes = this.build()
    const index = this.indexes.get(service)
    if (!index) return NONE as readonly T[]
    const byPath = index.byPath.get(path.endsWith('/') ? path.slice(0, -1) : path)
    if (!byPath) return index.scan
    if (index.scan.length === 0) return byPath
    // Both lists are in install order: merge them.
    const out: T[] = []
    let i = 0
    let j = 0
    while (i < index.scan.length || j < byPath.length) {
      const a = index.scan[i]
      const b = byPath[j]
      if (b === undefined || (a !== undefined && index.order.get(a)! < index.order.get(b)!)) {
        out.push(a!)
        i++
      } else {
        out.push(b)
        j++
      }
    }
    return out
  }

  private build(): Map<string, ServiceIndex<T>> {
    const out = new Map<string, ServiceIndex<T>>()
    this.items.forEach((item, i) => {
      const { service, path } = this.keyOf(item)
      let index = out.get(service)
      if (!index) {
        index = { byPath: new Map(), scan: [], order: new Map() }
        out.set(service, index)
      }
      index.order.set(item, i)
      const literal = literalPath(path)
      if (literal === undefined) index.scan.push(item)
      else {
        const list = index.byPath.get(literal)
        if (list) list.push(item)
        else index.byPath.set(literal, [item])
      }
    })
    return out
  }
}

const NONE: readonly never[] = []
