import { faker } from '@faker-js/faker/locale/en'

// Generated V01T records for `generate: {count, cluster, kind}`. Everything is drawn from the
// shared faker singleton, seeded by the caller right before (synchronously, no await in between),
// with the scenario clock as the reference date: same scenario + seed => same records.

export type RecordKind = 'node' | 'artefact'

/** A record before it enters the store: the scenario's record shape with every field resolved. */
export interface SeedRecord {
  title: string
  slug: string
  cluster: string
  external_id: string
  last_synced: string
  raw_data: Record<string, unknown>
}

const STACK = [
  'Go',
  'TypeScript',
  'Python',
  'Rust',
  'React',
  'Next.js',
  'Django',
  'PostgreSQL',
  'Redis',
  'Protobuf',
  'Docker',
  'Kubernetes',
  'Terraform',
  'Hono',
  'WebSockets',
] as const

const TAGS = [
  'architecture',
  'devops',
  'typescript',
  'go',
  'testing',
  'product',
  'observability',
  'security',
  'frontend',
  'data',
  'career',
  'open-source',
] as const

const TITLE_SHAPES: readonly ((noun: string, verb: string, adjective: string) => string)[] = [
  (n, _v, a) => `Why ${a} ${n}s Matter More Than You Think`,
  (n, v) => `How We Learned to ${v} the ${n}`,
  (n, _v, a) => `A Field Guide to ${a} ${n} Design`,
  (n, v) => `Stop Trying to ${v} Every ${n}`,
  (n, _v, a) => `The ${a} ${n}: Notes From Production`,
]

const capitalise = (s: string) => s.charAt(0).toUpperCase() + s.slice(1)

// Sentence shapes over faker's hacker vocabulary. faker.hacker.phrase() parses a template per
// call and costs ~40 µs; these keep 1,000 generated records well inside the seeding budget.
const PHRASE_SHAPES: readonly (() => string)[] = [
  () =>
    `${capitalise(faker.hacker.ingverb())} the ${faker.hacker.adjective()} ${faker.hacker.noun()} with ${faker.hacker.abbreviation()}.`,
  () =>
    `We ${faker.hacker.verb()} the ${faker.hacker.noun()} so the ${faker.hacker.abbreviation()} ${faker.hacker.noun()} can ${faker.hacker.verb()}.`,
  () =>
    `Use the ${faker.hacker.adjective()} ${faker.hacker.abbreviation()} ${faker.hacker.noun()} to ${faker.hacker.verb()} every ${faker.hacker.noun()}.`,
  () =>
    `${capitalise(faker.hacker.verb())} the ${faker.hacker.noun()}, then ${faker.hacker.verb()} its ${faker.hacker.adjective()} ${faker.hacker.noun()}.`,
]

const phrase = () => faker.helpers.arrayElement(PHRASE_SHAPES)()

/** A v4-shaped UUID (Notion page ids are UUIDs) from four seeded draws; faker's own is ~4x slower. */
function uuid(): string {
  let hex = ''
  for (let i = 0; i < 4; i++) hex += faker.number.int(0xffffffff).toString(16).padStart(8, '0')
  const variant = ((Number.parseInt(hex[16]!, 16) & 0x3) | 0x8).toString(16)
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-${variant}${hex.slice(17, 20)}-${hex.slice(20, 32)}`
}
// Generated words are ASCII, so a plain slugify does (faker's normalises Unicode and is ~10x slower).
const slugify = (s: string) =>
  s
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-|-$/g, '')

/** `count` distinct draws (fewer if the vocabulary runs out). */
function distinct(count: number, draw: () => string): string[] {
  const out = new Set<string>()
  for (let i = 0; i < count * 3 && out.size < count; i++) out.add(draw())
  return [...out]
}

/** `base`, or `base-2`, `base-3`... : slugs stay unique inside a component. */
function uniqueSlug(base: string, used: Set<string>): string {
  const root = base || 'record'
  let slug = root
  for (let n = 2; used.has(slug); n++) slug = `${root}-${n}`
  used.add(slug)
  return slug
}

interface Context {
  cluster: string
  used: Set<string>
  clock: Date
  /** A blog has a handful of authors; drawn once per component (person names are slow to draw). */
  authors: { name: string; avatar: string }[]
}

function generateNode({ cluster, used, clock }: Context): SeedRecord {
  const slug = uniqueSlug(slugify(`${faker.word.adjective()}-${faker.word.noun()}`), used)
  const status = faker.helpers.weightedArrayElement([
    { weight: 7, value: 'active' },
    { weight: 2, value: 'archived' },
    { weight: 1, value: 'planned' },
  ])
  // A planned org has no repositories yet; the others list every repository they hold.
  const repos =
    status === 'planned'
      ? []
      : distinct(faker.number.int({ min: 1, max: 8 }), () =>
          slugify(`${faker.hacker.noun()}-${faker.hacker.verb()}`),
        )
  const url = `https://github.com/${slug}`
  return {
    title: slug,
    slug,
    cluster,
    external_id: url,
    last_synced: faker.date.recent({ days: 7, refDate: clock }).toISOString(),
    raw_data: {
      url,
      website: `https://${slug}.devarno.cloud`,
      description: faker.company.catchPhrase(),
      stack: faker.helpers.arrayElements(STACK, { min: 1, max: 4 }),
      repo_count: repos.length,
      repos,
      highlights: Array.from({ length: faker.number.int({ min: 1, max: 3 }) }, phrase),
      status,
    },
  }
}

function generateArtefact({ cluster, used, clock, authors }: Context): SeedRecord {
  const shape = faker.helpers.arrayElement(TITLE_SHAPES)
  const title = shape(
    capitalise(faker.hacker.noun()),
    faker.hacker.verb(),
    capitalise(faker.hacker.adjective()),
  )
  const slug = uniqueSlug(slugify(title), used)
  const id = uuid()
  const wordCount = faker.number.int({ min: 400, max: 6000 })
  return {
    title,
    slug,
    cluster,
    external_id: id,
    last_synced: faker.date.recent({ days: 7, refDate: clock }).toISOString(),
    raw_data: {
      id,
      excerpt: phrase(),
      publishedAt: faker.date.past({ years: 2, refDate: clock }).toISOString(),
      status: faker.helpers.weightedArrayElement([
        { weight: 6, value: 'published' },
        { weight: 3, value: 'draft' },
        { weight: 1, value: 'archived' },
      ]),
      priority: faker.number.int({ min: 1, max: 100 }),
      conversion_intent: faker.helpers.arrayElement(['engagement', 'education', 'lead_gen']),
      business_value_score: faker.number.int({ min: 0, max: 10 }),
      word_count: wordCount,
      // 200 words a minute, as the blog computes it.
      readTime: `${Math.max(1, Math.ceil(wordCount / 200))}min`,
      tags: faker.helpers.arrayElements(TAGS, { min: 1, max: 4 }),
      keywords: distinct(faker.number.int({ min: 2, max: 5 }), () => faker.hacker.noun()),
      isPremium: faker.datatype.boolean({ probability: 0.2 }),
      author: { ...faker.helpers.arrayElement(authors) },
    },
  }
}

/**
 * `count` records of `kind`. The caller seeds faker first; `used` holds the component's slugs
 * so generated ones never collide with seeded ones.
 */
export function generateRecords(
  kind: RecordKind,
  count: number,
  cluster: string,
  used: Set<string>,
  clock: Date,
): SeedRecord[] {
  const make = kind === 'node' ? generateNode : generateArtefact
  const authors =
    kind === 'artefact'
      ? Array.from({ length: 6 }, () => {
          const name = faker.person.fullName()
          return { name, avatar: `/images/authors/${slugify(name)}.jpg` }
        })
      : []
  const context: Context = { cluster, used, clock, authors }
  return Array.from({ length: count }, () => make(context))
}
