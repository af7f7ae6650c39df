import { randomBytes } from 'node:crypto'
import { type FileHandle, open } from 'node:fs/promises'
import { Readable } from 'node:stream'
import type { BlobRef } from './storage.ts'

// Serving stored bytes the way Go's http.ServeContent (behind Gin's c.File) does: ETag and
// If-None-Match (304), Range with 206 / multipart/byteranges / 416, If-Range, and an inline
// Content-Disposition carrying the original filename (RFC 6266 / RFC 8187).

export interface ByteRange {
  /** Inclusive. */
  start: number
  /** Inclusive. */
  end: number
}

export type RangeResult =
  | { kind: 'full' }
  | { kind: 'partial'; ranges: ByteRange[] }
  | { kind: 'unsatisfiable'; reason: string }

const SPEC = /^(\d*)-(\d*)$/

/**
 * RFC 9110 §14.1.2. No header or another unit: the whole file. Malformed syntax or no
 * satisfiable range: 416 (as Go answers). Ranges that together exceed the file: the whole
 * file (Go's guard against amplification).
 */
export function parseRange(header: string | undefined, size: number): RangeResult {
  if (header === undefined || header.trim() === '') return { kind: 'full' }
  const match = /^\s*bytes\s*=(.*)$/i.exec(header)
  if (!match) return { kind: 'full' }
  const specs = (match[1] ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
  if (specs.length === 0) return { kind: 'unsatisfiable', reason: 'empty byte range set' }
  const ranges: ByteRange[] = []
  for (const spec of specs) {
    const m = SPEC.exec(spec)
    if (!m || (m[1] === '' && m[2] === ''))
      return { kind: 'unsatisfiable', reason: `invalid range "${spec}"` }
    if (m[1] === '') {
      const suffix = Number(m[2])
      if (suffix === 0 || size === 0) continue
      ranges.push({ start: Math.max(0, size - suffix), end: size - 1 })
      continue
    }
    const start = Number(m[1])
    const last = m[2] === '' ? Number.POSITIVE_INFINITY : Number(m[2])
    if (last < start) return { kind: 'unsatisfiable', reason: `invalid range "${spec}"` }
    if (start >= size) continue
    ranges.push({ start, end: Math.min(last, size - 1) })
  }
  if (ranges.length === 0) return { kind: 'unsatisfiable', reason: `no range overlaps the ${size} bytes` }
  const total = ranges.reduce((sum, r) => sum + (r.end - r.start + 1), 0)
  if (total > size) return { kind: 'full' }
  return { kind: 'partial', ranges }
}

function opaque(tag: string): string {
  return tag.trim().replace(/^W\//, '')
}

/** If-None-Match: weak comparison, `*` matches any current representation. */
export function noneMatch(header: string | undefined, etag: string): boolean {
  if (!header) return false
  if (header.trim() === '*') return true
  return header.split(',').some((t) => opaque(t) === opaque(etag))
}

/** If-Range: a strong ETag match keeps the Range; a date (we send no Last-Modified) drops it. */
export function ifRangeHolds(header: string | undefined, etag: string): boolean {
  if (header === undefined) return true
  const value = header.trim()
  return value.startsWith('"') && value === etag
}

// RFC 8187 attr-char: everything else is percent-encoded in filename*.
const ATTR_CHAR = /[A-Za-z0-9!#$&+\-.^_`|~]/

function encodeExtValue(text: string): string {
  let out = ''
  for (const byte of Buffer.from(text, 'utf8')) {
    const ch = String.fromCharCode(byte)
    out += byte < 0x80 && ATTR_CHAR.test(ch) ? ch : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`
  }
  return out
}

/** `inline; filename="ascii"` plus `filename*=UTF-8''…` whenever the ASCII form had to change. */
export function contentDisposition(type: 'inline' | 'attachment', name: string): string {
  const fallback = name.replace(/[^\x20-\x7e]|["\\%]/g, '_')
  const base = `${type}; filename="${fallback}"`
  return fallback === name ? base : `${base}; filename*=UTF-8''${encodeExtValue(name)}`
}

/** Read access to a blob: memory slices, or one open file handle (closed by whoever ends it). */
export interface OpenedBlob {
  /** A stream of [start, end]; takes ownership of the handle. */
  stream(range: ByteRange): ReadableStream<Uint8Array> | Uint8Array
  read(range: ByteRange): Promise<Buffer>
  close(): Promise<void>
}

/** Opens a blob for reading; undefined when its file vanished (deleted meanwhile). */
export async function openBlob(blob: BlobRef): Promise<OpenedBlob | undefined> {
  if (blob.kind === 'memory') {
    const bytes = blob.bytes
    return {
      stream: (r) => bytes.subarray(r.start, r.end + 1),
      read: async (r) => bytes.subarray(r.start, r.end + 1),
      close: async () => {},
    }
  }
  let fh: FileHandle
  try {
    fh = await open(blob.path, 'r')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw err
  }
  return {
    stream: (r) =>
      Readable.toWeb(fh.createReadStream({ start: r.start, end: r.end })) as ReadableStream<Uint8Array>,
    async read(r) {
      const buf = Buffer.alloc(r.end - r.start + 1)
      await fh.read(buf, 0, buf.length, r.start)
      return buf
    },
    close: () => fh.close(),
  }
}

export interface MultipartBody {
  contentType: string
  body: Buffer
}

/** multipart/byteranges, framed as Go's mime/multipart writer frames it. */
export async function byteranges(
  opened: OpenedBlob,
  ranges: ByteRange[],
  size: number,
  contentType: string,
): Promise<MultipartBody> {
  const boundary = randomBytes(16).toString('hex')
  const parts: Buffer[] = []
  for (const [i, r] of ranges.entries()) {
    parts.push(
      Buffer.from(
        `${i === 0 ? '' : '\r\n'}--${boundary}\r\nContent-Range: bytes ${r.start}-${r.end}/${size}\r\nContent-Type: ${contentType}\r\n\r\n`,
      ),
      await opened.read(r),
    )
  }
  parts.push(Buffer.from(`\r\n--${boundary}--\r\n`))
  return { contentType: `multipart/byteranges; boundary=${boundary}`, body: Buffer.concat(parts) }
}
