import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import sharp from 'sharp'
import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import {
  MediaMetadataSchema,
  UploadResponseSchema,
} from '../../proto-contracts/gen/ts/devarno/content/v1/media_pb.ts'
import { createAuthFake } from '../auth/index.ts'
import { assertMessage } from '../core/contract.ts'
import { ScenarioError } from '../core/scenario/error.ts'
import { SESSION_COOKIE } from '../core/session-cookie.ts'
import { inProcess } from '../runtime/testing.ts'
import { createMediaFake } from './index.ts'
import { buildMultipart, filePart, multipartType, paddedFile, sampleImage } from './testing.ts'

// In-process (runtime/testing.ts): app.request() against the media app, get-session answered by
// the auth fake in-process (or broken on purpose: down, slow, garbage).

const ErrorBody = z.strictObject({ error: z.string().min(1), code: z.string().min(1).optional() })

type AuthMode = 'ok' | 'down' | 'slow' | 'garbage'

async function setup(opts: { auth?: AuthMode; patch?: Record<string, unknown> } = {}) {
  const mode = { auth: opts.auth ?? 'ok' }
  // get-session reaches the in-process auth fake, unless the mode breaks it first.
  const h = await inProcess(createMediaFake, {
    env: { MOCKS_AUTH_TIMEOUT_MS: '100', BASE_URL: 'http://localhost:8081' },
    companions: [createAuthFake],
    fetch: (viaAuth) => async (input, init) => {
      if (mode.auth === 'down') throw new TypeError('fetch failed', { cause: { code: 'ECONNREFUSED' } })
      if (mode.auth === 'slow') {
        await new Promise((resolve, reject) => {
          const t = setTimeout(resolve, 1000)
          init?.signal?.addEventListener('abort', () => {
            clearTimeout(t)
            reject(init.signal?.reason)
          })
        })
      }
      if (mode.auth === 'garbage') return new Response('<html>', { status: 200 })
      return await viaAuth(input, init)
    },
  })
  if (opts.patch) await h.useInline({ extends: 'default', name: 'unit', ...opts.patch })
  return { fake: h.fake, scenario: h.scenario, mode, cookie: h.cookieFor, loader: h.loader }
}

type Setup = Awaited<ReturnType<typeof setup>>

function upload(s: Setup, body: Buffer, opts: { user?: string; contentType?: string } = {}) {
  return s.fake.app.request('/api/v1/upload', {
    method: 'POST',
    headers: {
      cookie: s.cookie(opts.user ?? 'usr_member'),
      'content-type': opts.contentType ?? multipartType(),
    },
    body: new Uint8Array(body),
  })
}

async function expectError(res: Response, status: number, code?: string) {
  expect(res.status).toBe(status)
  const body = ErrorBody.parse(await res.json())
  if (code) expect(body.code).toBe(code)
  return body
}

describe('seeding', () => {
  it('seeds the default files with deterministic metadata and real thumbnails', async () => {
    const a = await setup()
    const b = await setup()
    const meta = async (s: Setup, id: string) =>
      (
        await s.fake.app.request(`/api/v1/files/${id}`, { headers: { cookie: s.cookie('usr_member') } })
      ).json()
    for (const id of ['file_sunset', 'file_garden', 'file_budget']) {
      const m = await meta(a, id)
      assertMessage(MediaMetadataSchema, m)
      expect(await meta(b, id)).toEqual(m)
    }
    const sunset = await meta(a, 'file_sunset')
    const bytes = readFileSync(new URL('../../fixtures/media/sunset.png', import.meta.url))
    expect(sunset).toEqual({
      id: 'file_sunset',
      name: 'sunset.png',
      content_type: 'image/png',
      size_bytes: bytes.length,
      sha256: createHash('sha256').update(bytes).digest('hex'),
      owner_id: 'usr_member',
      created_at: '2026-02-18T18:30:00.000Z',
      url: 'http://localhost:8081/api/v1/files/file_sunset/download',
      thumbnail_url: 'http://localhost:8081/api/v1/files/file_sunset/download?thumb=1',
    })
    expect((await meta(a, 'file_budget')).thumbnail_url).toBe('')
  })

  // How fast a reset is: `pnpm bench` (bench/reset.ts), never a timed unit test.
  it('resets the default scenario again and again to the same files', async () => {
    const s = await setup()
    for (let i = 0; i < 15; i++) await s.fake.applyScenario(s.scenario)
    expect(s.fake.inspect().fileIds.sort()).toEqual(['file_budget', 'file_garden', 'file_sunset'])
  })

  it('reports unusable fixtures as scenario errors with the offending path', async () => {
    const s = await setup()
    const bad = (fixture: string) =>
      s.loader.resolveInline({
        extends: 'default',
        name: 'bad',
        media: { files: [{ id: 'f1', fixture, owner: 'usr_member' }] },
      })
    for (const [fixture, message] of [
      ['media/missing.png', /no such file/],
      ['../package.json', /outside fixtures/],
    ] as const) {
      const err = await s.fake.applyScenario(bad(fixture)).catch((e: unknown) => e)
      expect(err).toBeInstanceOf(ScenarioError)
      expect((err as ScenarioError).issues[0]).toMatchObject({ path: 'media.files.0.fixture' })
      expect((err as ScenarioError).issues[0]?.message).toMatch(message)
    }
    // The failed switch left the previous state in place.
    expect(s.fake.inspect().fileIds).toHaveLength(3)
  })
})

describe('session', () => {
  it('answers 401 without a cookie, with a forged cookie, and for a banned user', async () => {
    const s = await setup()
    await expectError(await s.fake.app.request('/api/v1/files/file_sunset'), 401, 'unauthorized')
    const forged = `${SESSION_COOKIE}=${encodeURIComponent('MemberSessionToken00000000000001.AAAA')}`
    await expectError(
      await s.fake.app.request('/api/v1/files/file_sunset', { headers: { cookie: forged } }),
      401,
      'unauthorized',
    )
    await expectError(
      await s.fake.app.request('/api/v1/files/file_sunset', { headers: { cookie: s.cookie('usr_banned') } }),
      401,
    )
  })

  it.each(['down', 'slow', 'garbage'] as const)(
    'answers 503 auth_unavailable when auth is %s',
    async (auth) => {
      const s = await setup({ auth })
      const started = performance.now()
      const res = await upload(
        s,
        buildMultipart([filePart(paddedFile('application/pdf', 100), 'application/pdf')]),
      )
      await expectError(res, 503, 'auth_unavailable')
      expect(performance.now() - started).toBeLessThan(900) // the 100 ms timeout, not the 1 s answer
    },
  )

  it('keeps unknown routes 404 even without a session', async () => {
    const s = await setup()
    await expectError(await s.fake.app.request('/api/v1/nope'), 404, 'not_found')
  })
})

describe('upload (in-process)', () => {
  it('stores every allow-listed image with a real WebP thumbnail inside 256x256', async () => {
    const s = await setup()
    for (const format of ['png', 'jpeg', 'gif', 'webp'] as const) {
      const image = await sampleImage(format, 800, 300)
      const res = await upload(s, buildMultipart([filePart(image, `image/${format}`, `pic.${format}`)]))
      expect(res.status).toBe(201)
      const body = (await res.json()) as { id: string; thumbnail_url: string }
      assertMessage(UploadResponseSchema, body)
      const thumb = await s.fake.app.request(`${new URL(body.thumbnail_url).pathname}?thumb=1`, {
        headers: { cookie: s.cookie('usr_member') },
      })
      expect(thumb.status).toBe(200)
      expect(thumb.headers.get('content-type')).toBe('image/webp')
      const bytes = Buffer.from(await thumb.arrayBuffer())
      expect(bytes.equals(image)).toBe(false)
      const info = await sharp(bytes).metadata()
      expect(info.format).toBe('webp')
      expect(info.width).toBe(256)
      expect(info.height).toBe(96)
    }
  })

  it('never enlarges a small image and shows the first frame of an animated GIF', async () => {
    const s = await setup()
    const frames = await Promise.all(
      [255, 0].map((r) =>
        sharp({ create: { width: 40, height: 30, channels: 3, background: { r, g: 0, b: 0 } } })
          .png()
          .toBuffer(),
      ),
    )
    const gif = await sharp(frames, { join: { animated: true } })
      .gif()
      .toBuffer()
    expect((await sharp(gif).metadata()).pages).toBe(2)
    const res = await upload(s, buildMultipart([filePart(gif, 'image/gif', 'anim.gif')]))
    expect(res.status).toBe(201)
    const { id } = (await res.json()) as { id: string }
    const thumb = await s.fake.app.request(`/api/v1/files/${id}/download?thumb=1`, {
      headers: { cookie: s.cookie('usr_member') },
    })
    const { data, info } = await sharp(Buffer.from(await thumb.arrayBuffer()))
      .raw()
      .toBuffer({ resolveWithObject: true })
    expect([info.width, info.height]).toEqual([40, 30])
    expect(data[0]).toBeGreaterThan(200) // red: frame one
  })

  it('refuses a declared image whose bytes are not that image (415)', async () => {
    const s = await setup()
    const text = Buffer.from('hello, I am a text file named like a picture')
    const r1 = await upload(s, buildMultipart([filePart(text, 'image/png', 'fake.png')]))
    expect((await expectError(r1, 415, 'unsupported_media_type')).error).toMatch(/not image\/png/)
    const jpeg = await sampleImage('jpeg', 10, 10)
    const r2 = await upload(s, buildMultipart([filePart(jpeg, 'image/png', 'actually.jpg')]))
    expect((await expectError(r2, 415)).error).toMatch(/content is image\/jpeg/)
    // Right magic number, undecodable body.
    const broken = Buffer.concat([(await sampleImage('png', 10, 10)).subarray(0, 40), Buffer.alloc(60, 7)])
    await expectError(await upload(s, buildMultipart([filePart(broken, 'image/png', 'cut.png')])), 415)
    expect(s.fake.inspect().fileIds).toHaveLength(3)
  })

  it('refuses types off the allow-list (415), even when the bytes would pass', async () => {
    const s = await setup()
    for (const type of ['text/plain', 'image/svg+xml', 'application/octet-stream']) {
      const res = await upload(
        s,
        buildMultipart([filePart(paddedFile('application/pdf', 50), type, 'x.pdf')]),
      )
      expect((await expectError(res, 415)).error).toContain(type)
    }
  })

  it('answers 400 for missing file, empty file, nameless file part, non-multipart and broken bodies', async () => {
    const s = await setup()
    const pdf = paddedFile('application/pdf', 100)
    const cases: [Buffer, string | undefined, RegExp][] = [
      [buildMultipart([{ kind: 'field', name: 'type', value: 'file' }]), undefined, /Missing "file"/],
      [buildMultipart([filePart(Buffer.alloc(0), 'application/pdf', 'empty.pdf')]), undefined, /empty/],
      [
        buildMultipart([{ kind: 'file', data: pdf, contentType: 'application/pdf' }]),
        undefined,
        /no filename/,
      ],
      [buildMultipart([filePart(pdf, 'application/pdf', 'a.pdf')], 'other-boundary'), undefined, /Malformed/],
      [buildMultipart([filePart(pdf, 'application/pdf', 'a.pdf')]).subarray(0, 150), undefined, /Malformed/],
      [pdf, 'application/pdf', /multipart\/form-data/],
      [buildMultipart([filePart(pdf, 'application/pdf', 'a.pdf')]), 'multipart/form-data', /Malformed/],
    ]
    for (const [body, contentType, message] of cases) {
      const res = await upload(s, body, contentType ? { contentType } : {})
      expect((await expectError(res, 400, 'bad_request')).error).toMatch(message)
    }
    expect(s.fake.inspect().fileIds).toHaveLength(3)
  })

  it('forbids role child before reading the body (403)', async () => {
    const s = await setup()
    const before = s.fake.inspect().uploads
    const res = await upload(
      s,
      buildMultipart([filePart(paddedFile('application/pdf', 100), 'application/pdf')]),
      {
        user: 'usr_child',
      },
    )
    await expectError(res, 403, 'forbidden')
    expect(s.fake.inspect().uploads).toEqual(before)
  })

  it("follows the scenario's role map: a better-auth role renamed to member may upload", async () => {
    const s = await setup({ patch: { auth: { roleMap: { child: 'member' } } } })
    const res = await upload(
      s,
      buildMultipart([filePart(paddedFile('application/pdf', 100), 'application/pdf')]),
      { user: 'usr_child' },
    )
    expect(res.status).toBe(201)
  })
})

describe('limits (in-process)', () => {
  const small = { media: { limits: { maxFileSize: 1024, maxAvatarSize: 512 } } }
  const pdf = (n: number) => filePart(paddedFile('application/pdf', n), 'application/pdf', 'f.pdf')
  const avatarField = { kind: 'field', name: 'type', value: 'avatar' } as const

  it('applies the scenario limits, with type=avatar before or after the file', async () => {
    const s = await setup({ patch: small })
    expect(s.fake.inspect().limits).toEqual({ file: 1024, avatar: 512 })
    const status = async (parts: Parameters<typeof buildMultipart>[0]) =>
      (await upload(s, buildMultipart(parts))).status
    expect(await status([pdf(1024)])).toBe(201)
    expect(await status([pdf(1025)])).toBe(413)
    expect(await status([avatarField, pdf(512)])).toBe(201)
    expect(await status([avatarField, pdf(513)])).toBe(413)
    expect(await status([pdf(512), avatarField])).toBe(201)
    expect(await status([pdf(513), avatarField])).toBe(413)
    expect(await status([pdf(1025), avatarField])).toBe(413)
    expect(await status([{ kind: 'field', name: 'type', value: 'file' }, pdf(1024)])).toBe(201)
  })

  it('says which limit was exceeded', async () => {
    const s = await setup({ patch: small })
    const r1 = await upload(s, buildMultipart([avatarField, pdf(600)]))
    expect((await expectError(r1, 413, 'payload_too_large')).error).toMatch(/avatar size limit.*512/)
    const r2 = await upload(s, buildMultipart([pdf(600), avatarField]))
    expect((await expectError(r2, 413)).error).toMatch(
      /600 bytes; the avatar size limit \(MAX_AVATAR_SIZE\) is 512/,
    )
  })

  it('falls back to MAX_FILE_SIZE / MAX_AVATAR_SIZE when the scenario sets none', async () => {
    const s = await setup()
    expect(s.fake.inspect().limits).toEqual({ file: 10 * 1024 * 1024, avatar: 2 * 1024 * 1024 })
  })
})
