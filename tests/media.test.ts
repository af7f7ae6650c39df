import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import http from 'node:http'
import sharp from 'sharp'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { assertMessage } from '../mocks/core/contract.ts'
import { type MediaFake, MULTIPART_OVERHEAD } from '../mocks/media/index.ts'
import {
  BOUNDARY,
  buildMultipart,
  filePart,
  multipartType,
  paddedFile,
  sampleImage,
} from '../mocks/media/testing.ts'
import {
  MediaMetadataSchema,
  UploadResponseSchema,
} from '../proto-contracts/gen/ts/devarno/content/v1/media_pb.ts'
import { startTestMocks, type TestMocks } from './helpers.ts'

// media-service over real HTTP, sessions validated by the fake better-auth, as a frontend
// proxying uploads with the Cookie header sees it.

const ErrorBody = z.strictObject({ error: z.string().min(1), code: z.string().min(1).optional() })
const MB = 1024 * 1024
const FILE_LIMIT = 10 * MB

interface Upload {
  id: string
  url: string
  thumbnail_url: string
  sha256: string
  size_bytes: number
}

let t: TestMocks
let base: string
const media = () => t.mocks.services.get('media')!.fake as MediaFake
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex')

beforeAll(async () => {
  t = await startTestMocks({ services: ['auth', 'media'] })
  base = t.url('media')
})
afterAll(() => t.close())
beforeEach(async () => {
  await t.mocks.switchScenario({ name: 'default' })
})

function post(body: Buffer, opts: { user?: string | null; contentType?: string } = {}) {
  const headers: Record<string, string> = { 'content-type': opts.contentType ?? multipartType() }
  if (opts.user !== null) headers.cookie = t.cookieFor(opts.user ?? 'usr_member')
  return fetch(`${base}/api/v1/upload`, { method: 'POST', headers, body: new Uint8Array(body) })
}

function get(path: string, opts: { user?: string | null; headers?: Record<string, string> } = {}) {
  const headers: Record<string, string> = { ...opts.headers }
  if (opts.user !== null) headers.cookie = t.cookieFor(opts.user ?? 'usr_member')
  return fetch(path.startsWith('http') ? path : `${base}${path}`, { headers })
}

async function expectError(res: Response, status: number, code?: string) {
  expect(res.status).toBe(status)
  expect(res.headers.get('content-type')).toMatch(/^application\/json/)
  const body = ErrorBody.parse(await res.json())
  if (code) expect(body.code).toBe(code)
  return body
}

async function uploadOk(file: Buffer, type: string, name = 'file.bin', user?: string): Promise<Upload> {
  const res = await post(buildMultipart([filePart(file, type, name)]), user ? { user } : {})
  expect(res.status).toBe(201)
  const body = (await res.json()) as Upload
  assertMessage(UploadResponseSchema, body)
  expect(res.headers.get('location')).toBe(
    `${base.replace('127.0.0.1', 'localhost')}/api/v1/files/${body.id}`,
  )
  return body
}

/** A multipart head for a hand-streamed file part (the body is sent in pieces). */
function partHead(type = 'application/pdf', name = 'big.pdf'): Buffer {
  return Buffer.from(
    `--${BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="${name}"\r\nContent-Type: ${type}\r\n\r\n`,
  )
}

interface RawResult {
  status: number
  body: string
  written: number
}

/**
 * Streams an upload with node:http (chunked when no length is given), writing `total` file
 * bytes in 64 KiB chunks with backpressure, and stops writing as soon as the answer arrives.
 */
function streamUpload(opts: { total: number; contentLength?: number }): Promise<RawResult> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | number> = {
      cookie: t.cookieFor('usr_member'),
      'content-type': multipartType(),
    }
    if (opts.contentLength !== undefined) headers['content-length'] = opts.contentLength
    const req = http.request(`${base}/api/v1/upload`, { method: 'POST', headers })
    let answered = false
    let written = 0
    req.on('response', (res) => {
      answered = true
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => {
        resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString(), written })
        req.destroy()
      })
    })
    req.on('error', (err) => {
      if (!answered) reject(err)
    })
    req.write(Buffer.concat([partHead(), Buffer.from('%PDF-1.4\n')]))
    const chunk = Buffer.alloc(64 * 1024, 0x41)
    const pump = () => {
      while (!answered && written < opts.total) {
        written += chunk.length
        if (!req.write(chunk)) {
          req.once('drain', pump)
          return
        }
      }
      if (!answered) req.end(`\r\n--${BOUNDARY}--\r\n`)
    }
    pump()
  })
}

async function until(check: () => boolean, what: string, timeoutMs = 5000) {
  const started = Date.now()
  while (!check()) {
    if (Date.now() - started > timeoutMs) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 10))
  }
}

describe('sessions', () => {
  it('requires a session on every route (401 {error, code})', async () => {
    const pdf = buildMultipart([filePart(paddedFile('application/pdf', 100), 'application/pdf')])
    await expectError(await post(pdf, { user: null }), 401, 'unauthorized')
    for (const path of [
      '/api/v1/files/file_sunset',
      '/api/v1/files/file_sunset/download',
      '/api/v1/files/file_sunset/download?thumb=1',
    ]) {
      await expectError(await get(path, { user: null }), 401, 'unauthorized')
    }
    const del = await fetch(`${base}/api/v1/files/file_sunset`, { method: 'DELETE' })
    await expectError(del, 401, 'unauthorized')
    // Banned users and expired sessions have no session at better-auth either.
    await expectError(await get('/api/v1/files/file_sunset', { user: 'usr_banned' }), 401)
    await expectError(await get('/api/v1/files/file_sunset', { user: 'usr_expired' }), 401)
  })

  it('answers 503 auth_unavailable when better-auth fails or is down', async () => {
    const fault = t.mocks.faults.add({ service: 'auth', effect: { type: 'status', status: 500 } })
    await expectError(await get('/api/v1/files/file_sunset'), 503, 'auth_unavailable')
    t.mocks.faults.remove(fault.id)
    t.mocks.faults.add({ service: 'auth', effect: { type: 'down' } })
    await t.mocks.faults.settled()
    const res = await post(buildMultipart([filePart(paddedFile('application/pdf', 100), 'application/pdf')]))
    expect((await expectError(res, 503, 'auth_unavailable')).error).toMatch(/ECONNREFUSED/)
  })

  it('treats a get-session slower than the timeout as an outage', async () => {
    const slow = await startTestMocks({ services: ['auth', 'media'], env: { MOCKS_AUTH_TIMEOUT_MS: '300' } })
    try {
      slow.mocks.faults.add({ service: 'auth', effect: { type: 'latency', ms: 3000 } })
      const started = Date.now()
      const res = await fetch(`${slow.url('media')}/api/v1/files/file_sunset`, {
        headers: { cookie: slow.cookieFor('usr_member') },
      })
      await expectError(res, 503, 'auth_unavailable')
      expect(Date.now() - started).toBeLessThan(2500)
    } finally {
      await slow.close()
    }
  })
})

describe('CORS', () => {
  it('answers trusted browser origins with credentials and ignores the rest', async () => {
    const trusted = await get('/api/v1/files/file_sunset', { headers: { origin: 'http://localhost:3000' } })
    expect(trusted.headers.get('access-control-allow-origin')).toBe('http://localhost:3000')
    expect(trusted.headers.get('access-control-allow-credentials')).toBe('true')
    expect(trusted.headers.get('access-control-expose-headers')).toContain('Content-Range')
    expect(trusted.headers.get('vary')).toBe('Origin')
    const foreign = await get('/api/v1/files/file_sunset', { headers: { origin: 'https://evil.example' } })
    expect(foreign.headers.get('access-control-allow-origin')).toBeNull()
    const proxied = await get('/api/v1/files/file_sunset')
    expect(proxied.headers.get('access-control-allow-credentials')).toBeNull()
    const preflight = await fetch(`${base}/api/v1/upload`, {
      method: 'OPTIONS',
      headers: {
        origin: 'https://casa.devarno.cloud',
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'content-type',
      },
    })
    expect(preflight.status).toBe(204)
    expect(preflight.headers.get('access-control-allow-origin')).toBe('https://casa.devarno.cloud')
  })
})

describe('seeded files', () => {
  it('serves metadata with proto names and the fixture bytes', async () => {
    const fixture = readFileSync(new URL('../fixtures/media/sunset.png', import.meta.url))
    const res = await get('/api/v1/files/file_sunset', { user: 'usr_child' })
    expect(res.status).toBe(200)
    const meta = await res.json()
    assertMessage(MediaMetadataSchema, meta)
    expect(meta).toMatchObject({
      id: 'file_sunset',
      content_type: 'image/png',
      size_bytes: fixture.length,
      sha256: sha256(fixture),
      owner_id: 'usr_member',
      created_at: '2026-02-18T18:30:00.000Z',
    })
    const bytes = Buffer.from(await (await get(meta.url)).arrayBuffer())
    expect(bytes.equals(fixture)).toBe(true)
    const thumb = await get(meta.thumbnail_url)
    expect(thumb.headers.get('content-type')).toBe('image/webp')
    const info = await sharp(Buffer.from(await thumb.arrayBuffer())).metadata()
    expect([info.format, info.width, info.height]).toEqual(['webp', 256, 192])
  })

  it('advertises absolute localhost URLs built from BASE_URL', async () => {
    const meta = await (await get('/api/v1/files/file_budget')).json()
    const port = new URL(base).port
    expect(meta.url).toBe(`http://localhost:${port}/api/v1/files/file_budget/download`)
    expect(meta.thumbnail_url).toBe('')
  })
})

describe('upload', () => {
  it('round-trips upload -> metadata -> download with the same bytes and SHA-256', async () => {
    const png = await sampleImage('png', 1024, 768)
    const up = await uploadOk(png, 'image/png', 'photo.png')
    expect(up.size_bytes).toBe(png.length)
    expect(up.sha256).toBe(sha256(png))
    expect(up.url).toBe(`http://localhost:${new URL(base).port}/api/v1/files/${up.id}/download`)
    expect(up.thumbnail_url).toBe(`${up.url}?thumb=1`)

    const meta = await (await get(`/api/v1/files/${up.id}`)).json()
    assertMessage(MediaMetadataSchema, meta)
    expect(meta).toMatchObject({
      id: up.id,
      name: 'photo.png',
      content_type: 'image/png',
      size_bytes: png.length,
      sha256: up.sha256,
      owner_id: 'usr_member',
      url: up.url,
      thumbnail_url: up.thumbnail_url,
    })
    expect(Date.parse(meta.created_at)).toBeGreaterThan(Date.now() - 60_000)

    const dl = await get(up.url)
    expect(dl.status).toBe(200)
    expect(dl.headers.get('content-type')).toBe('image/png')
    expect(dl.headers.get('content-length')).toBe(String(png.length))
    expect(dl.headers.get('etag')).toBe(`"${up.sha256}"`)
    expect(dl.headers.get('accept-ranges')).toBe('bytes')
    expect(dl.headers.get('content-disposition')).toBe('inline; filename="photo.png"')
    const bytes = Buffer.from(await dl.arrayBuffer())
    expect(sha256(bytes)).toBe(up.sha256)
    expect(bytes.equals(png)).toBe(true)

    const thumb = Buffer.from(await (await get(up.thumbnail_url)).arrayBuffer())
    expect(thumb.equals(png)).toBe(false)
    expect((await sharp(thumb).metadata()).width).toBe(256)
  })

  it('works with a browser-style FormData body (type after file) and a UTF-8 filename', async () => {
    const form = new FormData()
    const pdf = paddedFile('application/pdf', 2000)
    form.append('file', new Blob([new Uint8Array(pdf)], { type: 'application/pdf' }), 'Überweisung März.pdf')
    form.append('type', 'file')
    const res = await fetch(`${base}/api/v1/upload`, {
      method: 'POST',
      headers: { cookie: t.cookieFor('usr_member') },
      body: form,
    })
    expect(res.status).toBe(201)
    const up = (await res.json()) as Upload
    assertMessage(UploadResponseSchema, up)
    expect(up.thumbnail_url).toBe('')
    const meta = await (await get(`/api/v1/files/${up.id}`)).json()
    expect(meta.name).toBe('Überweisung März.pdf')
    const disposition = (await get(up.url)).headers.get('content-disposition') ?? ''
    expect(disposition).toMatch(/^inline; filename="_berweisung M_rz\.pdf"; filename\*=UTF-8''/)
    expect(decodeURIComponent(disposition.split("UTF-8''")[1] ?? '')).toBe('Überweisung März.pdf')
  })

  it('forbids role child (403) and refuses PNG-declared text (415), missing file (400)', async () => {
    const pdf = buildMultipart([filePart(paddedFile('application/pdf', 100), 'application/pdf')])
    await expectError(await post(pdf, { user: 'usr_child' }), 403, 'forbidden')
    const fake = buildMultipart([filePart(Buffer.from('not a png at all, just text'), 'image/png', 'x.png')])
    await expectError(await post(fake), 415, 'unsupported_media_type')
    const svg = buildMultipart([filePart(Buffer.from('<svg/>'), 'image/svg+xml', 'x.svg')])
    await expectError(await post(svg), 415, 'unsupported_media_type')
    const noFile = buildMultipart([{ kind: 'field', name: 'type', value: 'avatar' }])
    await expectError(await post(noFile), 400, 'bad_request')
    await expectError(await post(pdf.subarray(0, 90)), 400, 'bad_request')
    await expectError(await post(Buffer.from('{}'), { contentType: 'application/json' }), 400, 'bad_request')
    expect(media().inspect().fileIds).toHaveLength(3)
  })

  it('stores videos without a thumbnail: thumbnail_url "" and ?thumb=1 is 404', async () => {
    const mp4 = paddedFile('video/mp4', 50_000)
    const up = await uploadOk(mp4, 'video/mp4', 'clip.mp4')
    expect(up.thumbnail_url).toBe('')
    await expectError(await get(`${up.url}?thumb=1`), 404, 'not_found')
    const webm = await uploadOk(paddedFile('video/webm', 5000), 'video/webm', 'clip.webm')
    expect(webm.thumbnail_url).toBe('')
  })
})

describe('limits', () => {
  const small = {
    extends: 'default',
    name: 'small-limits',
    media: { limits: { maxFileSize: 1024, maxAvatarSize: 512 } },
  }
  const pdfPart = (n: number) => filePart(paddedFile('application/pdf', n), 'application/pdf', 'f.pdf')
  const avatar = { kind: 'field', name: 'type', value: 'avatar' } as const

  it('accepts exactly the limit and refuses one byte over and far over (scenario limits)', async () => {
    await t.mocks.switchScenario({ scenario: small })
    const ok = await post(buildMultipart([pdfPart(1024)]))
    expect(ok.status).toBe(201)
    expect(((await ok.json()) as Upload).size_bytes).toBe(1024)
    await expectError(await post(buildMultipart([pdfPart(1025)])), 413, 'payload_too_large')
    await expectError(await post(buildMultipart([pdfPart(300 * 1024)])), 413, 'payload_too_large')
    expect((await post(buildMultipart([avatar, pdfPart(512)]))).status).toBe(201)
    await expectError(await post(buildMultipart([avatar, pdfPart(513)])), 413)
    await expectError(await post(buildMultipart([pdfPart(513), avatar])), 413)
    expect(media().inspect().fileIds).toHaveLength(5)
  })

  it('accepts a real 10 MiB file and refuses 10 MiB + 1 while streaming', async () => {
    const exact = paddedFile('application/pdf', FILE_LIMIT)
    const up = await uploadOk(exact, 'application/pdf', 'ten.pdf')
    expect(up.size_bytes).toBe(FILE_LIMIT)
    expect(up.sha256).toBe(sha256(exact))

    const over = buildMultipart([filePart(paddedFile('application/pdf', FILE_LIMIT + 1), 'application/pdf')])
    expect(over.length).toBeLessThan(FILE_LIMIT + MULTIPART_OVERHEAD) // not refused by Content-Length
    await expectError(await post(over), 413, 'payload_too_large')
    const last = media().inspect().uploads.last
    expect(last?.status).toBe(413)
    expect(last?.bytesRead).toBeGreaterThan(FILE_LIMIT)
    expect(last?.bytesRead).toBeLessThanOrEqual(FILE_LIMIT + 64 * 1024 + 1024)
  })

  it('refuses an 11 MB upload from its Content-Length without reading it', async () => {
    const res = await streamUpload({ total: 11 * MB, contentLength: 11 * MB + 300 })
    expect(res.status).toBe(413)
    expect(ErrorBody.parse(JSON.parse(res.body)).code).toBe('payload_too_large')
    const last = media().inspect().uploads.last
    expect(last?.bytesRead).toBe(0)
    expect(last?.drained ?? 0).toBeLessThanOrEqual(MB + 64 * 1024)
  })

  it('cuts a chunked upload (no Content-Length) over the limit, reading at most ~limit + 1 MB', async () => {
    const res = await streamUpload({ total: 64 * MB })
    expect(res.status).toBe(413)
    expect(ErrorBody.parse(JSON.parse(res.body)).error).toMatch(/exceeds the size limit of 10485760/)
    const last = media().inspect().uploads.last!
    expect(last.bytesRead).toBeGreaterThan(FILE_LIMIT)
    expect(last.bytesRead + last.drained).toBeLessThanOrEqual(FILE_LIMIT + MB + 128 * 1024)
    // The server stopped reading: the client could not push the whole 64 MB.
    expect(res.written).toBeLessThan(64 * MB)
    expect(media().inspect().fileIds).toHaveLength(3)
    await until(() => media().inspect().uploads.inFlight === 0, 'the upload to finish')
  })
})

describe('aborted uploads', () => {
  it('leaves no file and no upload in flight when the client disconnects mid-body', async () => {
    const before = media().inspect().fileIds
    const req = http.request(`${base}/api/v1/upload`, {
      method: 'POST',
      headers: {
        cookie: t.cookieFor('usr_member'),
        'content-type': multipartType(),
        'content-length': 5 * MB,
      },
    })
    req.on('error', () => {})
    req.write(Buffer.concat([partHead(), paddedFile('application/pdf', 512 * 1024)]))
    await until(() => media().inspect().uploads.inFlight === 1, 'the upload to start')
    req.destroy()
    await until(() => media().inspect().uploads.inFlight === 0, 'the aborted upload to be released')
    expect(media().inspect().uploads.last).toMatchObject({ status: 400, aborted: true })
    expect(media().inspect().fileIds).toEqual(before)
    // The service is still healthy.
    expect((await get('/api/v1/files/file_sunset')).status).toBe(200)
  })
})

describe('ranges and caching', () => {
  let up: Upload
  let video: Buffer
  beforeEach(async () => {
    video = paddedFile('video/mp4', 100_000)
    up = await uploadOk(video, 'video/mp4', 'clip.mp4')
  })

  it('serves single ranges with 206 and Content-Range (seeking in a video)', async () => {
    for (const [range, start, end] of [
      ['bytes=0-99', 0, 99],
      ['bytes=50000-', 50_000, 99_999],
      ['bytes=-1000', 99_000, 99_999],
      ['bytes=99990-200000', 99_990, 99_999],
    ] as const) {
      const res = await get(up.url, { headers: { range } })
      expect(res.status).toBe(206)
      expect(res.headers.get('content-range')).toBe(`bytes ${start}-${end}/100000`)
      expect(res.headers.get('content-length')).toBe(String(end - start + 1))
      expect(res.headers.get('content-type')).toBe('video/mp4')
      expect(Buffer.from(await res.arrayBuffer()).equals(video.subarray(start, end + 1))).toBe(true)
    }
  })

  it('answers several ranges as multipart/byteranges', async () => {
    const res = await get(up.url, { headers: { range: 'bytes=0-9,100-109' } })
    expect(res.status).toBe(206)
    const type = res.headers.get('content-type') ?? ''
    expect(type).toMatch(/^multipart\/byteranges; boundary=/)
    const boundary = type.split('boundary=')[1]
    const body = Buffer.from(await res.arrayBuffer())
    expect(res.headers.get('content-length')).toBe(String(body.length))
    const text = body.toString('latin1')
    expect(text).toContain(
      `--${boundary}\r\nContent-Range: bytes 0-9/100000\r\nContent-Type: video/mp4\r\n\r\n`,
    )
    expect(text).toContain(video.subarray(100, 110).toString('latin1'))
    expect(text.endsWith(`\r\n--${boundary}--\r\n`)).toBe(true)
  })

  it('answers 416 with Content-Range bytes */size for unsatisfiable ranges', async () => {
    for (const range of ['bytes=100000-', 'bytes=200000-300000', 'bytes=-0', 'bytes=9-1']) {
      const res = await get(up.url, { headers: { range } })
      await expectError(res, 416, 'range_not_satisfiable')
      expect(res.headers.get('content-range')).toBe('bytes */100000')
    }
  })

  it('honours If-None-Match (304) and If-Range', async () => {
    const etag = `"${up.sha256}"`
    const cached = await get(up.url, { headers: { 'if-none-match': etag } })
    expect(cached.status).toBe(304)
    expect(cached.headers.get('etag')).toBe(etag)
    expect((await cached.arrayBuffer()).byteLength).toBe(0)
    expect((await get(up.url, { headers: { 'if-none-match': '"other"' } })).status).toBe(200)
    const stale = await get(up.url, { headers: { range: 'bytes=0-9', 'if-range': '"stale"' } })
    expect(stale.status).toBe(200)
    expect(stale.headers.get('content-length')).toBe('100000')
    await stale.arrayBuffer()
    expect((await get(up.url, { headers: { range: 'bytes=0-9', 'if-range': etag } })).status).toBe(206)
  })

  it('answers HEAD with the headers and no body', async () => {
    const res = await fetch(up.url, { method: 'HEAD', headers: { cookie: t.cookieFor('usr_member') } })
    expect(res.status).toBe(200)
    expect(res.headers.get('content-length')).toBe('100000')
    expect(res.headers.get('accept-ranges')).toBe('bytes')
  })
})

describe('delete', () => {
  const del = (id: string, user: string) =>
    fetch(`${base}/api/v1/files/${id}`, { method: 'DELETE', headers: { cookie: t.cookieFor(user) } })

  it('lets only the owner or an admin delete; a deleted file is gone everywhere', async () => {
    const up = await uploadOk(paddedFile('application/pdf', 1000), 'application/pdf', 'mine.pdf')
    await expectError(await del(up.id, 'usr_member2'), 403, 'forbidden')
    await expectError(await del('file_sunset', 'usr_member2'), 403, 'forbidden')
    const byOwner = await del(up.id, 'usr_member')
    expect(byOwner.status).toBe(204)
    expect(await byOwner.text()).toBe('')
    await expectError(await get(`/api/v1/files/${up.id}`), 404, 'not_found')
    await expectError(await get(up.url), 404, 'not_found')
    await expectError(await del(up.id, 'usr_member'), 404, 'not_found')

    expect((await del('file_sunset', 'usr_admin')).status).toBe(204)
    await expectError(await get('/api/v1/files/file_sunset/download?thumb=1'), 404)
    // A reset brings the seeded file back.
    await t.mocks.reset()
    expect((await get('/api/v1/files/file_sunset')).status).toBe(200)
  })

  it('answers 404 for unknown and path-traversal ids', async () => {
    for (const id of ['nope', '..%2F..%2Fetc%2Fpasswd', '%2e%2e%2f%2e%2e%2fpackage.json', 'file_sunset%00']) {
      await expectError(await get(`/api/v1/files/${id}`), 404, 'not_found')
      await expectError(await get(`/api/v1/files/${id}/download`), 404, 'not_found')
      await expectError(await del(id, 'usr_admin'), 404, 'not_found')
    }
  })
})
