import { createHash } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import http from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import type { MediaFake } from '../mocks/media/index.ts'
import {
  BOUNDARY,
  buildMultipart,
  filePart,
  multipartType,
  paddedFile,
  sampleImage,
} from '../mocks/media/testing.ts'
import { startTestMocks, storedFiles, type TestMocks } from './helpers.ts'

// STORAGE_PATH mode: bytes on disk, written to a temporary file and renamed only when the
// upload is complete and accepted.

let t: TestMocks
let dir: string
let base: string
const media = () => t.mocks.services.get('media')!.fake as MediaFake
const files = () => storedFiles(dir)

async function until(check: () => boolean, what: string, timeoutMs = 5000) {
  const started = Date.now()
  while (!check()) {
    if (Date.now() - started > timeoutMs) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 10))
  }
}

function post(body: Buffer) {
  return fetch(`${base}/api/v1/upload`, {
    method: 'POST',
    headers: { cookie: t.cookieFor('usr_member'), 'content-type': multipartType() },
    body: new Uint8Array(body),
  })
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'media-storage-'))
  // Left by a killed process: swept at start-up. Other files are not ours to touch.
  writeFileSync(join(dir, '.upload-stale.part'), 'half an upload')
  writeFileSync(join(dir, 'README.txt'), 'not ours')
  t = await startTestMocks({ services: ['auth', 'media'], env: { STORAGE_PATH: dir } })
  base = t.url('media')
})
afterAll(async () => {
  await t.close()
  rmSync(dir, { recursive: true, force: true })
})
beforeEach(async () => {
  await t.mocks.switchScenario({ name: 'default' })
})

describe('STORAGE_PATH', () => {
  it('swept stale temporary files at start-up and keeps foreign files', () => {
    expect(media().inspect().storagePath).toBe(dir)
    expect(files()).toEqual(['README.txt'])
  })

  it('stores an accepted upload on disk under its id, serves it, and deletes it', async () => {
    const png = await sampleImage('png', 300, 200)
    const res = await post(buildMultipart([filePart(png, 'image/png', 'p.png')]))
    expect(res.status).toBe(201)
    const up = (await res.json()) as { id: string; url: string; sha256: string; thumbnail_url: string }
    expect(files()).toEqual(['README.txt', up.id].sort())
    expect(readFileSync(join(media().inspect().stateDir ?? '', up.id)).equals(png)).toBe(true)
    const dl = Buffer.from(
      await (await fetch(up.url, { headers: { cookie: t.cookieFor('usr_member') } })).arrayBuffer(),
    )
    expect(createHash('sha256').update(dl).digest('hex')).toBe(up.sha256)
    const ranged = await fetch(up.url, {
      headers: { cookie: t.cookieFor('usr_member'), range: 'bytes=8-15' },
    })
    expect(ranged.status).toBe(206)
    expect(Buffer.from(await ranged.arrayBuffer()).equals(png.subarray(8, 16))).toBe(true)
    const multi = await fetch(up.url, {
      headers: { cookie: t.cookieFor('usr_member'), range: 'bytes=0-3,8-11' },
    })
    expect(multi.status).toBe(206)
    expect(Buffer.from(await multi.arrayBuffer()).includes(png.subarray(8, 12))).toBe(true)
    expect((await fetch(up.thumbnail_url, { headers: { cookie: t.cookieFor('usr_member') } })).status).toBe(
      200,
    )

    const del = await fetch(`${base}/api/v1/files/${up.id}`, {
      method: 'DELETE',
      headers: { cookie: t.cookieFor('usr_member') },
    })
    expect(del.status).toBe(204)
    expect(files()).toEqual(['README.txt'])
  })

  it('leaves nothing on disk for refused uploads (413, 415)', async () => {
    await t.mocks.switchScenario({
      scenario: { extends: 'default', name: 'small', media: { limits: { maxFileSize: 4096 } } },
    })
    const over = await post(
      buildMultipart([filePart(paddedFile('application/pdf', 100_000), 'application/pdf')]),
    )
    expect(over.status).toBe(413)
    const fake = await post(buildMultipart([filePart(Buffer.alloc(5000, 0x20), 'image/png', 'x.png')]))
    expect(fake.status).toBe(415)
    const broken = Buffer.concat([(await sampleImage('png', 10, 10)).subarray(0, 40), Buffer.alloc(100, 1)])
    expect((await post(buildMultipart([filePart(broken, 'image/png', 'cut.png')]))).status).toBe(415)
    expect(files()).toEqual(['README.txt'])
  })

  it('writes to a temporary file while receiving and removes it when the client aborts', async () => {
    const req = http.request(`${base}/api/v1/upload`, {
      method: 'POST',
      headers: {
        cookie: t.cookieFor('usr_member'),
        'content-type': multipartType(),
        'content-length': 4 * 1024 * 1024,
      },
    })
    req.on('error', () => {})
    req.write(
      Buffer.concat([
        Buffer.from(
          `--${BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="big.pdf"\r\nContent-Type: application/pdf\r\n\r\n`,
        ),
        paddedFile('application/pdf', 256 * 1024),
      ]),
    )
    await until(() => files().some((f) => f.endsWith('.part')), 'the temporary file')
    expect(media().inspect().fileIds).toHaveLength(3)
    req.destroy()
    await until(() => media().inspect().uploads.inFlight === 0, 'the aborted upload to be released')
    expect(media().inspect().uploads.last).toMatchObject({ aborted: true })
    expect(files()).toEqual(['README.txt'])
    expect(media().inspect().fileIds).toHaveLength(3)
  })

  it('removes runtime uploads from disk on reset', async () => {
    const res = await post(buildMultipart([filePart(paddedFile('application/pdf', 2000), 'application/pdf')]))
    const { id } = (await res.json()) as { id: string }
    expect(files()).toContain(id)
    await t.mocks.reset()
    expect(files()).toEqual(['README.txt'])
    expect(media().inspect().fileIds).not.toContain(id)
  })
})
