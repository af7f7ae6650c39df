import { createHash } from 'node:crypto'
import { readFileSync, statSync } from 'node:fs'
import { basename, isAbsolute, relative, resolve } from 'node:path'
import { Collection } from '@msw/data'
import { z } from 'zod'
import { ScenarioError, type ScenarioIssue } from '../core/scenario/error.ts'
import type { Scenario } from '../fake/scenario.ts'
import { IMAGE_TYPES, sniffType } from './sniff.ts'
import type { BlobRef, Storage } from './storage.ts'
import { fixtureThumbnail, type Thumbnail } from './thumbnail.ts'

// One media world as a value: file metadata in an @msw/data collection (every read goes
// through it), bytes and thumbnails beside it keyed by id, and the state's own storage (its
// own folder under STORAGE_PATH). A scenario switch builds a whole new MediaState and swaps it
// in one assignment; the old one is disposed and its runtime uploads removed from disk.

const FileRecord = z.object({
  id: z.string(),
  name: z.string(),
  content_type: z.string(),
  size_bytes: z.number().int().nonnegative(),
  sha256: z.string(),
  owner_id: z.string(),
  created_at: z.string(),
  /** 'seed' rows come from fixtures (bytes in memory); 'upload' rows were posted at runtime. */
  origin: z.enum(['seed', 'upload']),
})

export type FileRow = z.infer<typeof FileRecord>

export interface StoredFile {
  row: FileRow
  blob: BlobRef
  thumb: Thumbnail | null
}

export interface MediaLimits {
  maxFileSize?: number | undefined
  maxAvatarSize?: number | undefined
}

export class MediaState {
  readonly files = new Collection({ schema: FileRecord })
  private readonly blobs = new Map<string, BlobRef>()
  private readonly thumbs = new Map<string, Thumbnail>()
  private retired = false

  readonly limits: MediaLimits
  /**
   * Replicated mode: the log entry that made this state ('start': the start-up scenario), the
   * same on every replica; an upload applies only to the state it started in.
   */
  epoch = 'start'

  constructor(
    readonly scenario: Scenario,
    /** Where this state's uploaded bytes go: memory, or its own folder under STORAGE_PATH. */
    readonly storage: Storage,
  ) {
    this.limits = scenario.media.limits
  }

  get(id: string): StoredFile | undefined {
    const row = this.files.findFirst((q) => q.where({ id }))
    const blob = row && this.blobs.get(id)
    if (!row || !blob) return undefined
    return { row, blob, thumb: this.thumbs.get(id) ?? null }
  }

  async add(row: FileRow, blob: BlobRef, thumb: Thumbnail | null): Promise<void> {
    // An upload that finishes after a reset lands in a retired state: its bytes go at once.
    if (this.retired) {
      await this.storage.discard(blob)
      return
    }
    this.blobs.set(row.id, blob)
    if (thumb) this.thumbs.set(row.id, thumb)
    await this.files.create(row)
  }

  async remove(id: string): Promise<boolean> {
    const row = this.files.delete((q) => q.where({ id }))
    const blob = this.blobs.get(id)
    this.blobs.delete(id)
    this.thumbs.delete(id)
    if (blob && row?.origin === 'upload') await this.storage.discard(blob)
    return row !== undefined
  }

  /**
   * Ends this state: runtime uploads on disk are removed, uploads still arriving are discarded
   * when they land, and its folder goes once the last of them has ended. Idempotent.
   */
  async dispose(): Promise<void> {
    this.retired = true
    const uploads = this.files.findMany((q) => q.where({ origin: 'upload' }))
    await Promise.all(
      uploads.map((row) => {
        const blob = this.blobs.get(row.id)
        return blob ? this.storage.discard(blob) : undefined
      }),
    )
    await this.storage.retire()
  }
}

// ---- seeding from fixtures ----

interface FixtureEntry {
  bytes: Buffer
  sha256: string
  sniffed: string | undefined
  thumb: Promise<Thumbnail> | undefined
}

/** Fixture bytes and thumbnails, keyed by path + mtime + size: a reset re-reads nothing. */
const fixtureCache = new Map<string, FixtureEntry>()

function loadFixture(path: string): FixtureEntry {
  const st = statSync(path)
  if (!st.isFile()) throw new Error('not a regular file')
  const key = `${path}\0${st.mtimeMs}\0${st.size}`
  let entry = fixtureCache.get(key)
  if (!entry) {
    const bytes = readFileSync(path)
    entry = {
      bytes,
      sha256: createHash('sha256').update(bytes).digest('hex'),
      sniffed: sniffType(bytes.subarray(0, 64)),
      thumb: undefined,
    }
    fixtureCache.set(key, entry)
  }
  return entry
}

function thumbFor(entry: FixtureEntry): Promise<Thumbnail> {
  entry.thumb ??= fixtureThumbnail(entry.bytes, entry.sha256)
  // A failed decode is not cached: fixing the file (new mtime) or retrying gets a fresh try.
  entry.thumb.catch(() => {
    entry.thumb = undefined
  })
  return entry.thumb
}

export async function buildMediaState(
  scenario: Scenario,
  fixturesDir: string,
  storage: Storage,
): Promise<MediaState> {
  const file = `scenario ${scenario.name}`
  const issues: ScenarioIssue[] = []
  const state = new MediaState(scenario, storage)
  const root = resolve(fixturesDir)
  const seeded: { row: FileRow; entry: FixtureEntry; image: boolean }[] = []
  scenario.media.files.forEach((f, i) => {
    const path = resolve(root, f.fixture)
    const rel = relative(root, path)
    if (rel === '' || rel.startsWith('..') || isAbsolute(rel)) {
      issues.push({ file, path: `media.files.${i}.fixture`, message: `"${f.fixture}" is outside fixtures/` })
      return
    }
    let entry: FixtureEntry
    try {
      entry = loadFixture(path)
    } catch (err) {
      const reason =
        (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message
      issues.push({ file, path: `media.files.${i}.fixture`, message: `fixtures/${rel}: ${reason}` })
      return
    }
    const contentType = f.contentType ?? entry.sniffed
    if (!contentType) {
      issues.push({
        file,
        path: `media.files.${i}.contentType`,
        message: `cannot tell the type of fixtures/${rel} from its bytes; set contentType`,
      })
      return
    }
    seeded.push({
      row: {
        id: f.id,
        name: f.name ?? basename(path),
        content_type: contentType,
        size_bytes: entry.bytes.length,
        sha256: entry.sha256,
        owner_id: f.owner,
        created_at: new Date(f.createdAt ?? scenario.clock).toISOString(),
        origin: 'seed',
      },
      entry,
      image: (IMAGE_TYPES as ReadonlySet<string>).has(contentType),
    })
  })
  if (issues.length) throw new ScenarioError(`Scenario ${scenario.name} has unusable media fixtures`, issues)

  const thumbs = await Promise.all(
    seeded.map(async ({ entry, image, row }, i) => {
      if (!image) return null
      try {
        return await thumbFor(entry)
      } catch (err) {
        issues.push({
          file,
          path: `media.files.${i}.fixture`,
          message: `${row.name} is not a decodable ${row.content_type}: ${(err as Error).message}`,
        })
        return null
      }
    }),
  )
  if (issues.length) throw new ScenarioError(`Scenario ${scenario.name} has unusable media fixtures`, issues)
  for (const [i, { row, entry }] of seeded.entries()) {
    await state.add(row, { kind: 'memory', bytes: entry.bytes }, thumbs[i] ?? null)
  }
  return state
}
