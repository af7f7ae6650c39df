import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { hasRedisServer, type RedisServer } from './redis-server.ts'
import {
  eventually,
  type ReplicaProcess,
  type SeededUser,
  seededUsers,
  startPair,
  stopCluster,
} from './replicas-harness.ts'

// Issue 22, media: two replicas with one MOCKS_REDIS_URL and one STORAGE_PATH. An upload taken
// by one is read, downloaded (bytes and thumbnail) and deleted through the other.

const run = hasRedisServer()
const SERVICES = ['auth', 'media'] as const

describe.runIf(run)('replicas: media uploads through a shared STORAGE_PATH', () => {
  let redis: RedisServer
  let dir: string
  let storage: string
  let a: ReplicaProcess
  let b: ReplicaProcess
  let user: SeededUser
  const prefix = `media-${process.pid}-${Date.now()}:`
  const png = readFileSync(new URL('../fixtures/media/sunset.png', import.meta.url))

  beforeAll(async () => {
    ;({ a, b, redis, dir } = await startPair('replicas-media', {
      prefix,
      services: SERVICES,
      env: (folder) => {
        storage = join(folder, 'storage')
        return { STORAGE_PATH: storage }
      },
    }))
    const users = (await seededUsers(a.url('auth'))) as (SeededUser & { role?: string })[]
    user = users.find((u) => u.cookieValue && u.role !== 'child')!
  }, 120_000)

  afterAll(() => stopCluster([a, b], redis, dir))

  const headers = () => ({ cookie: `${user.cookieName}=${user.cookieValue}` })
  const upload = async (r: ReplicaProcess) => {
    const form = new FormData()
    form.append('file', new Blob([new Uint8Array(png)], { type: 'image/png' }), 'sunset.png')
    form.append('type', 'file')
    const res = await fetch(`${r.url('media')}/api/v1/upload`, {
      method: 'POST',
      headers: headers(),
      body: form,
    })
    expect(res.status).toBe(201)
    return (await res.json()) as { id: string; sha256: string }
  }
  const get = (r: ReplicaProcess, path: string) => fetch(`${r.url('media')}${path}`, { headers: headers() })

  it('an upload through one replica is listed, downloaded and thumbnailed on the other', async () => {
    const up = await upload(a)
    // Answered once A applied it; B applies the same entry from the log.
    const meta = await eventually('the file on b', async () => {
      const res = await get(b, `/api/v1/files/${up.id}`)
      return res.status === 200
        ? ((await res.json()) as { id: string; sha256: string; size_bytes: number })
        : undefined
    })
    expect(meta.sha256).toBe(up.sha256)
    expect(meta.size_bytes).toBe(png.length)
    const bytes = Buffer.from(await (await get(b, `/api/v1/files/${up.id}/download`)).arrayBuffer())
    expect(bytes.equals(png)).toBe(true)
    const thumbA = Buffer.from(await (await get(a, `/api/v1/files/${up.id}/download?thumb=1`)).arrayBuffer())
    const thumbB = await get(b, `/api/v1/files/${up.id}/download?thumb=1`)
    expect(thumbB.status).toBe(200)
    expect(Buffer.from(await thumbB.arrayBuffer()).equals(thumbA)).toBe(true)
    // The bytes sit once in the shared folder.
    expect(readdirSync(join(storage, 'replicated'))).toContain(up.id)
  })

  it('a deletion through the other replica removes the file everywhere (and its bytes)', async () => {
    const up = await upload(a)
    await eventually('the file on b', async () => (await get(b, `/api/v1/files/${up.id}`)).status === 200)
    const del = await fetch(`${b.url('media')}/api/v1/files/${up.id}`, {
      method: 'DELETE',
      headers: headers(),
    })
    expect(del.status).toBe(204)
    await eventually('gone on a', async () => (await get(a, `/api/v1/files/${up.id}`)).status === 404)
    expect((await get(b, `/api/v1/files/${up.id}/download`)).status).toBe(404)
    expect(readdirSync(join(storage, 'replicated'))).not.toContain(up.id)
  })

  it('a reset through one replica drops runtime uploads on both, one point of the log', async () => {
    const up = await upload(b)
    await eventually('the file on a', async () => (await get(a, `/api/v1/files/${up.id}`)).status === 200)
    const reset = await fetch(`${a.url('media')}/__mocks/reset`, { method: 'POST' })
    expect(reset.ok).toBe(true)
    for (const r of [a, b])
      await eventually(
        `gone on ${r.name}`,
        async () => (await get(r, `/api/v1/files/${up.id}`)).status === 404,
      )
    expect(readdirSync(join(storage, 'replicated'))).not.toContain(up.id)
    // Seeded files are still served by both.
    for (const r of [a, b]) expect((await get(r, '/api/v1/files/file_sunset')).status).toBe(200)
  })
})
