import { createHash } from 'node:crypto'
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

// Real thumbnails, never the original bytes (DESIGN §8): every allow-listed image type is
// decoded by sharp, EXIF-rotated, fitted inside 256x256 (never enlarged) and re-encoded as
// WebP. Animated GIF/WebP thumbnails show the first frame.
//
// sharp (libvips, ~25 MB resident, 100-250 ms to load) is imported on the first thumbnail made,
// not at start-up: seeded fixtures' thumbnails come from a cache on disk (fixtureThumbnail).

export const THUMB_MAX = 256
export const THUMB_TYPE = 'image/webp'
const QUALITY = 80

export interface Thumbnail {
  bytes: Buffer
  sha256: string
  contentType: typeof THUMB_TYPE
  width: number
  height: number
}

export class ImageDecodeError extends Error {
  override name = 'ImageDecodeError'
}

let sharpModule: Promise<typeof import('sharp')['default']> | undefined
const loadSharp = () => {
  sharpModule ??= import('sharp').then((m) => m.default)
  return sharpModule
}

const digest = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex')

/** Makes the thumbnail of an image held in memory or in a file; ImageDecodeError when undecodable. */
export async function makeThumbnail(input: Buffer | string): Promise<Thumbnail> {
  const sharp = await loadSharp()
  try {
    const { data, info } = await sharp(input, { pages: 1, failOn: 'error' })
      .rotate()
      .resize(THUMB_MAX, THUMB_MAX, { fit: 'inside', withoutEnlargement: true })
      .webp({ quality: QUALITY })
      .toBuffer({ resolveWithObject: true })
    return {
      bytes: data,
      sha256: digest(data),
      contentType: THUMB_TYPE,
      width: info.width,
      height: info.height,
    }
  } catch (err) {
    throw new ImageDecodeError((err as Error).message)
  }
}

/** Where fixture thumbnails are kept between runs (the repository's node_modules/.cache). */
export const THUMB_CACHE_DIR = fileURLToPath(
  new URL('../../node_modules/.cache/devarno-mocks/thumbnails/', import.meta.url),
)

let sharpVersion: string | undefined
/** The cache file's name; undefined when sharp's version cannot be read (no caching then). */
function cacheKey(sourceSha256: string): string | undefined {
  try {
    // sharp's `exports` hide its package.json: it sits one folder above its main file.
    sharpVersion ??= (
      JSON.parse(
        readFileSync(
          join(dirname(createRequire(import.meta.url).resolve('sharp')), '..', 'package.json'),
          'utf8',
        ),
      ) as { version: string }
    ).version
  } catch {
    return undefined
  }
  // The same bytes through the same sharp with the same settings give the same thumbnail.
  return digest(
    Buffer.from(`${sourceSha256}:${THUMB_MAX}:${QUALITY}:webp:rotate:inside:sharp@${sharpVersion}`),
  )
}

/**
 * A seeded fixture's thumbnail: from the cache when these bytes were thumbnailed before (so
 * they are decodable), else made with sharp and cached (a cache that cannot be written is
 * skipped). Same bytes, same thumbnail: the cache changes when, never what.
 */
export async function fixtureThumbnail(
  bytes: Buffer,
  sha256: string,
  dir: string = THUMB_CACHE_DIR,
): Promise<Thumbnail> {
  const key = cacheKey(sha256)
  if (!key) return makeThumbnail(bytes)
  const file = join(dir, `${key}.json`)
  try {
    const cached = JSON.parse(readFileSync(file, 'utf8')) as { width: number; height: number; webp: string }
    const thumb = Buffer.from(cached.webp, 'base64')
    return {
      bytes: thumb,
      sha256: digest(thumb),
      contentType: THUMB_TYPE,
      width: cached.width,
      height: cached.height,
    }
  } catch {
    // not cached (or unreadable): make it
  }
  const made = await makeThumbnail(bytes)
  try {
    mkdirSync(dir, { recursive: true })
    const tmp = `${file}.${process.pid}.tmp`
    writeFileSync(
      tmp,
      JSON.stringify({ width: made.width, height: made.height, webp: made.bytes.toString('base64') }),
    )
    renameSync(tmp, file)
  } catch {
    // read-only install: made again next time
  }
  return made
}
