import { createHash } from 'node:crypto'
import sharp from 'sharp'

// Real thumbnails, never the original bytes (DESIGN §8): every allow-listed image type is
// decoded by sharp, EXIF-rotated, fitted inside 256x256 (never enlarged) and re-encoded as
// WebP. Animated GIF/WebP thumbnails show the first frame.

export const THUMB_MAX = 256
export const THUMB_TYPE = 'image/webp'

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

/** Makes the thumbnail of an image held in memory or in a file; ImageDecodeError when undecodable. */
export async function makeThumbnail(input: Buffer | string): Promise<Thumbnail> {
  try {
    const { data, info } = await sharp(input, { pages: 1, failOn: 'error' })
      .rotate()
      .resize(THUMB_MAX, THUMB_MAX, { fit: 'inside', withoutEnlargement: true })
      .webp({ quality: 80 })
      .toBuffer({ resolveWithObject: true })
    return {
      bytes: data,
      sha256: createHash('sha256').update(data).digest('hex'),
      contentType: THUMB_TYPE,
      width: info.width,
      height: info.height,
    }
  } catch (err) {
    throw new ImageDecodeError((err as Error).message)
  }
}
