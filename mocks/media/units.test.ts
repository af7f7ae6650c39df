import { describe, expect, it } from 'vitest'
import { contentDisposition, ifRangeHolds, noneMatch, parseRange } from './download.ts'
import { normalizeDeclaredType, sniffType } from './sniff.ts'
import { paddedFile, sampleImage } from './testing.ts'
import { sanitizeFilename } from './upload.ts'

describe('sniffType', () => {
  it('recognises every allow-listed image from real encoded bytes', async () => {
    for (const format of ['png', 'jpeg', 'gif', 'webp'] as const) {
      expect(sniffType(await sampleImage(format, 8, 8))).toBe(`image/${format}`)
    }
  })

  it('recognises PDF, MP4 and WebM headers', () => {
    expect(sniffType(paddedFile('application/pdf', 64))).toBe('application/pdf')
    expect(sniffType(paddedFile('video/mp4', 64))).toBe('video/mp4')
    expect(sniffType(paddedFile('video/webm', 64))).toBe('video/webm')
  })

  it('refuses text, truncated magic and ftyp boxes without an mp4 brand (HEIC, AVIF)', () => {
    expect(sniffType(Buffer.from('just some text pretending to be a png'))).toBeUndefined()
    expect(sniffType(Buffer.from([0x89, 0x50, 0x4e]))).toBeUndefined()
    expect(sniffType(Buffer.from('RIFF\0\0\0\0WAVEfmt '))).toBeUndefined()
    const heic = Buffer.from([
      0,
      0,
      0,
      0x18,
      ...Buffer.from('ftypheic'),
      0,
      0,
      0,
      0,
      ...Buffer.from('mif1heic'),
    ])
    expect(sniffType(heic)).toBeUndefined()
    const avif = Buffer.from([
      0,
      0,
      0,
      0x1c,
      ...Buffer.from('ftypavif'),
      0,
      0,
      0,
      0,
      ...Buffer.from('avifmif1miaf'),
    ])
    expect(sniffType(avif)).toBeUndefined()
  })

  it('normalises declared types and rejects those off the allow-list', () => {
    expect(normalizeDeclaredType('Image/PNG; charset=binary')).toBe('image/png')
    expect(normalizeDeclaredType('image/svg+xml')).toBeUndefined()
    expect(normalizeDeclaredType('application/octet-stream')).toBeUndefined()
    expect(normalizeDeclaredType(undefined)).toBeUndefined()
  })
})

describe('parseRange', () => {
  const size = 1000
  it.each([
    [undefined, { kind: 'full' }],
    ['items=0-5', { kind: 'full' }],
    ['bytes=0-0', { kind: 'partial', ranges: [{ start: 0, end: 0 }] }],
    ['bytes=0-499', { kind: 'partial', ranges: [{ start: 0, end: 499 }] }],
    ['bytes=500-', { kind: 'partial', ranges: [{ start: 500, end: 999 }] }],
    ['bytes=-200', { kind: 'partial', ranges: [{ start: 800, end: 999 }] }],
    ['bytes=-5000', { kind: 'partial', ranges: [{ start: 0, end: 999 }] }],
    ['bytes=990-5000', { kind: 'partial', ranges: [{ start: 990, end: 999 }] }],
    [
      'bytes=0-9, 20-29',
      {
        kind: 'partial',
        ranges: [
          { start: 0, end: 9 },
          { start: 20, end: 29 },
        ],
      },
    ],
    ['bytes=1000-', { kind: 'unsatisfiable' }],
    ['bytes=-0', { kind: 'unsatisfiable' }],
    ['bytes=5-1', { kind: 'unsatisfiable' }],
    ['bytes=abc', { kind: 'unsatisfiable' }],
    ['bytes=', { kind: 'unsatisfiable' }],
    ['bytes=-', { kind: 'unsatisfiable' }],
    // Overlapping ranges adding up to more than the file: served whole (Go's amplification guard).
    ['bytes=0-999,0-999', { kind: 'full' }],
  ])('%s', (header, expected) => {
    expect(parseRange(header, size)).toMatchObject(expected)
  })

  it('treats an empty file as having no satisfiable range', () => {
    expect(parseRange('bytes=0-0', 0).kind).toBe('unsatisfiable')
    expect(parseRange('bytes=-1', 0).kind).toBe('unsatisfiable')
  })
})

describe('conditional headers', () => {
  const etag = '"abc"'
  it('If-None-Match compares weakly and accepts lists and *', () => {
    expect(noneMatch('"abc"', etag)).toBe(true)
    expect(noneMatch('W/"abc"', etag)).toBe(true)
    expect(noneMatch('"x", "abc"', etag)).toBe(true)
    expect(noneMatch('*', etag)).toBe(true)
    expect(noneMatch('"abd"', etag)).toBe(false)
    expect(noneMatch(undefined, etag)).toBe(false)
  })
  it('If-Range keeps the Range only for the same strong ETag', () => {
    expect(ifRangeHolds(undefined, etag)).toBe(true)
    expect(ifRangeHolds('"abc"', etag)).toBe(true)
    expect(ifRangeHolds('W/"abc"', etag)).toBe(false)
    expect(ifRangeHolds('"old"', etag)).toBe(false)
    expect(ifRangeHolds('Wed, 21 Oct 2015 07:28:00 GMT', etag)).toBe(false)
  })
})

describe('contentDisposition', () => {
  it('keeps plain ASCII names as a quoted filename', () => {
    expect(contentDisposition('inline', 'Family budget 2026.pdf')).toBe(
      'inline; filename="Family budget 2026.pdf"',
    )
  })
  it('adds an RFC 8187 filename* for names the quoted form cannot carry', () => {
    const header = contentDisposition('inline', 'été "plage" 100%.png')
    expect(header).toBe(
      `inline; filename="_t_ _plage_ 100_.png"; filename*=UTF-8''%C3%A9t%C3%A9%20%22plage%22%20100%25.png`,
    )
    const encoded = header.split("filename*=UTF-8''")[1] ?? ''
    expect(decodeURIComponent(encoded)).toBe('été "plage" 100%.png')
  })
})

describe('sanitizeFilename', () => {
  it('keeps the last path segment, strips control characters, never returns empty', () => {
    expect(sanitizeFilename('C:\\fakepath\\photo.png')).toBe('photo.png')
    expect(sanitizeFilename('../../etc/passwd')).toBe('passwd')
    expect(sanitizeFilename('a\u0000b\nc.png')).toBe('abc.png')
    expect(sanitizeFilename('..')).toBe('upload')
    expect(sanitizeFilename('')).toBe('upload')
  })
})
