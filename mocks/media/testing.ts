import sharp from 'sharp'

// Helpers shared by the in-process tests (mocks/media/*.test.ts) and the socket tests
// (tests/media*.test.ts): hand-built multipart bodies (part order, broken framing) and real images.

export interface FilePart {
  kind: 'file'
  name?: string
  filename?: string
  contentType?: string
  data: Buffer
}

export interface FieldPart {
  kind: 'field'
  name: string
  value: string
}

export type Part = FilePart | FieldPart

export const BOUNDARY = '----devarno-mocks-boundary-7MA4YWxkTrZu0gW'

/** The bytes of a multipart/form-data body, parts in the given order. */
export function buildMultipart(parts: Part[], boundary = BOUNDARY): Buffer {
  const chunks: Buffer[] = []
  for (const part of parts) {
    if (part.kind === 'field') {
      chunks.push(
        Buffer.from(
          `--${boundary}\r\nContent-Disposition: form-data; name="${part.name}"\r\n\r\n${part.value}\r\n`,
        ),
      )
    } else {
      const filename = part.filename === undefined ? '' : `; filename="${part.filename}"`
      const type = part.contentType === undefined ? '' : `Content-Type: ${part.contentType}\r\n`
      chunks.push(
        Buffer.from(
          `--${boundary}\r\nContent-Disposition: form-data; name="${part.name ?? 'file'}"${filename}\r\n${type}\r\n`,
        ),
        part.data,
        Buffer.from('\r\n'),
      )
    }
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`))
  return Buffer.concat(chunks)
}

export const multipartType = (boundary = BOUNDARY) => `multipart/form-data; boundary=${boundary}`

/** A file part with sensible defaults. */
export function filePart(data: Buffer, contentType: string, filename = 'upload.bin'): FilePart {
  return { kind: 'file', data, contentType, filename }
}

export type ImageFormat = 'png' | 'jpeg' | 'gif' | 'webp'

/** A real encoded image of the given size (a two-colour split, so it is not trivially flat). */
export async function sampleImage(format: ImageFormat, width = 640, height = 480): Promise<Buffer> {
  const left = await sharp({
    create: { width: Math.ceil(width / 2), height, channels: 3, background: { r: 200, g: 60, b: 40 } },
  })
    .png()
    .toBuffer()
  return sharp({ create: { width, height, channels: 3, background: { r: 30, g: 90, b: 200 } } })
    .composite([{ input: left, left: 0, top: 0 }])
    .toFormat(format)
    .toBuffer()
}

/** Bytes that sniff as `type` (the right magic number) padded to `size`: for size tests. */
export function paddedFile(type: 'application/pdf' | 'video/mp4' | 'video/webm', size: number): Buffer {
  const head =
    type === 'application/pdf'
      ? Buffer.from('%PDF-1.4\n')
      : type === 'video/mp4'
        ? Buffer.from([
            0x00, 0x00, 0x00, 0x18, 0x66, 0x74, 0x79, 0x70, 0x69, 0x73, 0x6f, 0x6d, 0x00, 0x00, 0x02, 0x00,
            0x69, 0x73, 0x6f, 0x6d, 0x6d, 0x70, 0x34, 0x31,
          ])
        : Buffer.from([0x1a, 0x45, 0xdf, 0xa3, 0x9f, 0x42, 0x86, 0x81, 0x01])
  if (size < head.length) throw new Error(`paddedFile: ${type} needs at least ${head.length} bytes`)
  const out = Buffer.alloc(size)
  head.copy(out)
  // Deterministic, non-constant filler so a range or hash mistake shows.
  for (let i = head.length; i < size; i++) out[i] = (i * 31 + 7) & 0xff
  return out
}
