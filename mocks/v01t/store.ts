import { faker } from '@faker-js/faker/locale/en'
import { Collection } from '@msw/data'
import { z } from 'zod'
import { BoundedMemo } from '../core/memo.ts'
import { ScenarioError } from '../core/scenario/error.ts'
import type { Scenario } from '../fake/scenario.ts'
import { generateRecords, type RecordKind, type SeedRecord } from './generate.ts'
import type { MemoBody } from './query.ts'

// V01T's records live in one @msw/data collection (the store of record), raw_data kept as JSON
// text as V01T's JSON column holds it (a nested object would be deep-copied twice per record by
// the collection: 1,000 records then cost ~4x more to seed). V01T's public API is read-only,
// so each component also gets a read model built from the collection once at seed time: its
// rows in store order, each with its response item and search text precomputed, and sort
// orders memoised per `order_by`. A list request is then one linear pass, never a sort.
//
// List requests read the read model, not the collection: measured (scripts/collections-timing.ts,
// 1,000 records in a component) a page via `records.findMany(where component, orderBy, take 20)`
// costs ~450 µs a call against ~1.1 µs for the memoised read model: the V01T list benchmark
// (BENCHMARKS.md) would lose most of its throughput.

const RecordSchema = z.object({
  application: z.string(),
  component_type: z.string(),
  title: z.string(),
  slug: z.string(),
  cluster: z.string(),
  external_id: z.string(),
  last_synced: z.string(),
  /** JSON text of the record's raw_data object. */
  raw_data: z.string(),
})

type StoredRecord = z.infer<typeof RecordSchema>

/** A record as the read model uses it, raw_data parsed. */
export type V01tRecord = Omit<StoredRecord, 'raw_data'> & { raw_data: Record<string, unknown> }

/** Top-level fields of a record; raw_data keys with these names never override them. */
export const TOP_LEVEL_FIELDS = ['title', 'slug', 'cluster', 'external_id', 'last_synced'] as const
const RESERVED_KEYS = new Set<string>(['title', 'slug', 'cluster', '_meta'])

/**
 * raw_data fields each kind always accepts in `order_by`, records or not (DRF's ordering_fields
 * are the view's, not the data's): an empty blog still answers `order_by=-priority`.
 */
const KIND_SORTABLE: Record<RecordKind, readonly string[]> = {
  node: ['url', 'website', 'description', 'repo_count', 'status'],
  artefact: [
    'id',
    'excerpt',
    'publishedAt',
    'status',
    'priority',
    'conversion_intent',
    'business_value_score',
    'word_count',
    'readTime',
    'isPremium',
  ],
}

/** raw_data fields `search` looks in, besides title and slug (strings, or arrays of strings). */
export const SEARCH_RAW_FIELDS = ['description', 'excerpt', 'status', 'tags', 'keywords'] as const

export interface Row {
  record: V01tRecord
  /** The list item as served: title, slug, cluster, _meta, then raw_data spread in. */
  item: Record<string, unknown>
  /** Lower-cased searchable strings joined by newlines (search terms never hold whitespace). */
  haystack: string
}

export interface ComponentView {
  application: string
  componentType: string
  rows: Row[]
  /** Fields `order_by` accepts: the top-level ones and raw_data fields holding scalars. */
  sortable: Set<string>
  /** Rows sorted per normalised `order_by`, built on first use. */
  orders: BoundedMemo<string, Row[]>
  /**
   * Serialised list answers per normalised query, up to their `timestamp` (query.ts): the
   * store never changes once built, so a page is stringified once, not per request.
   */
  bodies: BoundedMemo<string, MemoBody>
  /** The same memo by raw query string (`?page_size=20`), so a repeated query is not parsed. */
  searches: BoundedMemo<string, MemoBody>
}

export interface V01tStore {
  records: Collection<typeof RecordSchema>
  /** application slug -> component type -> read model */
  applications: Map<string, Map<string, ComponentView>>
}

function kindOf(componentSlug: string, kind: RecordKind | undefined): RecordKind | undefined {
  if (kind) return kind
  if (componentSlug === 'node' || componentSlug === 'artefact') return componentSlug
  return undefined
}

/** A small, stable number per component, so adding a component never reshuffles another's data. */
function labelSeed(label: string): number {
  let h = 2166136261
  for (let i = 0; i < label.length; i++) h = Math.imul(h ^ label.charCodeAt(i), 16777619)
  return h >>> 0
}

/** Every record the scenario describes, in store order (seeded records, then generated ones). */
export function scenarioRecords(scenario: Scenario): StoredRecord[] {
  const clock = new Date(scenario.clock)
  const out: StoredRecord[] = []
  // Validate every component before drawing from faker, so a bad scenario changes nothing.
  scenario.v01t.applications.forEach((app, i) => {
    app.components.forEach((component, j) => {
      if (
        component.generate &&
        component.generate.count > 0 &&
        !kindOf(component.slug, component.generate.kind)
      ) {
        throw new ScenarioError(`Scenario ${scenario.name} is invalid`, [
          {
            file: scenario.name,
            path: `v01t.applications.${i}.components.${j}.generate.kind`,
            message: `component "${component.slug}" is neither "node" nor "artefact": say which shape to generate (kind: node | artefact)`,
          },
        ])
      }
    })
  })
  // faker is a process-wide singleton: seed it and draw everything synchronously.
  faker.setDefaultRefDate(clock)
  for (const app of scenario.v01t.applications) {
    for (const component of app.components) {
      const used = new Set(component.records.map((r) => r.slug))
      const seeded: SeedRecord[] = component.records.map((r) => ({
        title: r.title,
        slug: r.slug,
        cluster: r.cluster,
        external_id: r.external_id,
        last_synced: new Date(r.last_synced ?? scenario.clock).toISOString(),
        raw_data: r.raw_data,
      }))
      const gen = component.generate
      const kind = gen ? kindOf(component.slug, gen.kind) : undefined
      let generated: SeedRecord[] = []
      if (gen && kind && gen.count > 0) {
        faker.seed([scenario.seed, labelSeed(`${app.slug}/${component.slug}`)])
        generated = generateRecords(kind, gen.count, gen.cluster, used, clock)
      }
      for (const r of [...seeded, ...generated]) {
        out.push({
          application: app.slug,
          component_type: component.slug,
          title: r.title,
          slug: r.slug,
          cluster: r.cluster,
          external_id: r.external_id,
          last_synced: r.last_synced,
          raw_data: JSON.stringify(r.raw_data),
        })
      }
    }
  }
  return out
}

function searchText(record: V01tRecord): string {
  let text = `${record.title}\n${record.slug}`
  for (const field of SEARCH_RAW_FIELDS) {
    const value = record.raw_data[field]
    if (typeof value === 'string') text += `\n${value}`
    else if (Array.isArray(value)) {
      for (const v of value) if (typeof v === 'string') text += `\n${v}`
    }
  }
  return text.toLowerCase()
}

function listItem(record: V01tRecord): Record<string, unknown> {
  const item: Record<string, unknown> = {
    title: record.title,
    slug: record.slug,
    cluster: record.cluster,
    _meta: { external_id: record.external_id, last_synced: record.last_synced },
  }
  for (const [key, value] of Object.entries(record.raw_data)) {
    if (!RESERVED_KEYS.has(key)) item[key] = value
  }
  return item
}

/** Per component: memoised sort orders, list bodies (and their bytes: head plus last body), raw queries. */
const MEMO_ORDERS = 64
const MEMO_BODIES = 64
const MEMO_BODY_BYTES = 16 * 1024 * 1024
const MEMO_SEARCHES = 64

const isScalar = (v: unknown) => typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean'

function componentView(
  application: string,
  componentType: string,
  kind: RecordKind | undefined,
  stored: StoredRecord[],
): ComponentView {
  const records: V01tRecord[] = stored.map((r) => ({ ...r, raw_data: JSON.parse(r.raw_data) }))
  const sortable = new Set<string>([...TOP_LEVEL_FIELDS, ...(kind ? KIND_SORTABLE[kind] : [])])
  for (const r of records) {
    for (const [key, value] of Object.entries(r.raw_data)) {
      if (!RESERVED_KEYS.has(key) && isScalar(value)) sortable.add(key)
    }
  }
  return {
    application,
    componentType,
    rows: records.map((record) => ({ record, item: listItem(record), haystack: searchText(record) })),
    sortable,
    orders: new BoundedMemo({ maxEntries: MEMO_ORDERS }),
    bodies: new BoundedMemo({
      maxEntries: MEMO_BODIES,
      maxBytes: MEMO_BODY_BYTES,
      sizeOf: (m) => m.head.length * 2,
    }),
    searches: new BoundedMemo({ maxEntries: MEMO_SEARCHES }),
  }
}

/** Builds a fresh store for a scenario. Throws (changing nothing) when the scenario cannot be seeded. */
export async function buildV01tStore(scenario: Scenario): Promise<V01tStore> {
  const seeds = scenarioRecords(scenario)
  const records = new Collection({ schema: RecordSchema })
  const created = await records.createMany(seeds.length, (i) => seeds[i]!)
  const applications = new Map<string, Map<string, ComponentView>>()
  const byComponent = new Map<string, StoredRecord[]>()
  for (const app of scenario.v01t.applications) {
    const components = new Map<string, ComponentView>()
    applications.set(app.slug, components)
    for (const component of app.components) byComponent.set(`${app.slug}\u0000${component.slug}`, [])
  }
  // The read model is built from the records the collection created (createMany's answer),
  // not from a `records.findMany()` afterwards: that second pass measured ~30-40 ms more per
  // 1,000 records on this loaded 2-core box (v01t.test.ts's best-of-7 seed of 1,000 records:
  // 148-163 ms against 115-128 ms), on the reset path the benchmarks time.
  for (const record of created)
    byComponent.get(`${record.application}\u0000${record.component_type}`)!.push(record)
  for (const app of scenario.v01t.applications) {
    const components = applications.get(app.slug)!
    for (const component of app.components) {
      const list = byComponent.get(`${app.slug}\u0000${component.slug}`)!
      const kind = kindOf(component.slug, component.generate?.kind)
      components.set(component.slug, componentView(app.slug, component.slug, kind, list))
    }
  }
  return { records, applications }
}
