// The matrix's allow-list and the leading bytes ("magic numbers") of each type. An upload is
// accepted only when its declared part Content-Type is on the list AND its first bytes are
// that type: a text file named .png and declared image/png is refused (DESIGN §8).

export const ALLOWED_TYPES = [
  'image/jpeg',
  'image/png',
  'image/gif',
  'image/webp',
  'application/pdf',
  'video/mp4',
  'video/webm',
] as const

export type AllowedType = (typeof ALLOWED_TYPES)[number]

/** Image types get a thumbnail; PDF and video do not. */
export const IMAGE_TYPES: ReadonlySet<AllowedType> = new Set([
  'image/jpeg',
  'image/png',
  'image/gif',
  'image/webp',
])

/** Leading bytes kept for sniffing: enough for an MP4 `ftyp` box with its brand list. */
export const SNIFF_BYTES = 64

/** `image/PNG; charset=x` -> `image/png`; undefined when it is not on the allow-list. */
export function normalizeDeclaredType(declared: string | undefined): AllowedType | undefined {
  if (!declared) return undefined
  const bare = declared.split(';')[0]?.trim().toLowerCase() ?? ''
  return (ALLOWED_TYPES as readonly string[]).includes(bare) ? (bare as AllowedType) : undefined
}

function startsWith(head: Uint8Array, bytes: readonly number[], offset = 0): boolean {
  if (head.length < offset + bytes.length) return false
  return bytes.every((b, i) => head[offset + i] === b)
}

const ascii = (text: string) => [...text].map((ch) => ch.charCodeAt(0))

const PNG = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]
const JPEG = [0xff, 0xd8, 0xff]
const GIF87 = ascii('GIF87a')
const GIF89 = ascii('GIF89a')
const RIFF = ascii('RIFF')
const WEBP = ascii('WEBP')
const PDF = ascii('%PDF-')
const FTYP = ascii('ftyp')
const MP4_BRAND = ascii('mp4')
const EBML = [0x1a, 0x45, 0xdf, 0xa3]

/**
 * An ISO-BMFF `ftyp` box whose major or a compatible brand starts with "mp4", as Go's
 * http.DetectContentType decides (so HEIC/AVIF/QuickTime, which share the box, are not MP4).
 */
function isMp4(head: Uint8Array): boolean {
  if (!startsWith(head, FTYP, 4)) return false
  const boxSize = ((head[0] ?? 0) << 24) | ((head[1] ?? 0) << 16) | ((head[2] ?? 0) << 8) | (head[3] ?? 0)
  if (boxSize < 16 || boxSize % 4 !== 0) return false
  const end = Math.min(boxSize, head.length)
  for (let at = 8; at + 3 <= end; at += 4) {
    if (at === 12) continue // minor version, not a brand
    if (startsWith(head, MP4_BRAND, at)) return true
  }
  return false
}

/**
 * The allow-listed type the leading bytes show, or undefined. WebM is recognised by its EBML
 * header (shared with Matroska; the DocType sits further in and is not checked).
 */
export function sniffType(head: Uint8Array): AllowedType | undefined {
  if (startsWith(head, PNG)) return 'image/png'
  if (startsWith(head, JPEG)) return 'image/jpeg'
  if (startsWith(head, GIF87) || startsWith(head, GIF89)) return 'image/gif'
  if (startsWith(head, RIFF) && startsWith(head, WEBP, 8)) return 'image/webp'
  if (startsWith(head, PDF)) return 'application/pdf'
  if (isMp4(head)) return 'video/mp4'
  if (startsWith(head, EBML)) return 'video/webm'
  return undefined
}
