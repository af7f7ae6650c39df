import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { fixtureThumbnail, ImageDecodeError, makeThumbnail } from './thumbnail.ts'

// Seeded fixtures' thumbnails come from a cache on disk (so sharp loads on first use, not at
// start-up): what the cache gives must be what sharp makes, byte for byte.

const dir = mkdtempSync(join(tmpdir(), 'thumbs-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))
const sunset = readFileSync(new URL('../../fixtures/media/sunset.png', import.meta.url))
const sha = 'test-sunset'

describe('fixtureThumbnail', () => {
  it('makes the thumbnail once, then gives the same bytes from the cache', async () => {
    const made = await makeThumbnail(sunset)
    const first = await fixtureThumbnail(sunset, sha, dir)
    expect(first).toEqual(made)
    const [file] = readdirSync(dir)
    expect(file).toMatch(/^[0-9a-f]{64}\.json$/)
    // A second call reads the cache: change its bytes and the change shows.
    const cached = JSON.parse(readFileSync(join(dir, file!), 'utf8')) as { webp: string }
    expect(Buffer.from(cached.webp, 'base64')).toEqual(made.bytes)
    expect(await fixtureThumbnail(sunset, sha, dir)).toEqual(made)
    writeFileSync(join(dir, file!), JSON.stringify({ ...cached, width: 1 }))
    expect((await fixtureThumbnail(sunset, sha, dir)).width).toBe(1)
    // An unreadable cache entry is made again.
    writeFileSync(join(dir, file!), '{not json')
    expect(await fixtureThumbnail(sunset, sha, dir)).toEqual(made)
  })

  it('rejects undecodable bytes and caches nothing for them', async () => {
    const before = readdirSync(dir).length
    const broken = Buffer.concat([sunset.subarray(0, 64), Buffer.alloc(100)])
    await expect(fixtureThumbnail(broken, 'test-broken', dir)).rejects.toBeInstanceOf(ImageDecodeError)
    expect(readdirSync(dir)).toHaveLength(before)
  })
})
