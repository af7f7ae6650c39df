import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import type { Context } from 'hono'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createAuthFake } from '../auth/index.ts'
import { type InProcessFake, inProcess } from '../runtime/testing.ts'
import { createMediaApp } from './app.ts'
import { createMediaFake, type MediaFake, media } from './index.ts'
import { createMediaState, type MediaState } from './state.ts'
import { buildMultipart, filePart, multipartType, paddedFile } from './testing.ts'

// State as a value: two media states served by one app side by side, on disk under one
// STORAGE_PATH, each in its own folder.

const root = mkdtempSync(join(tmpdir(), 'media-states-'))
let h: InProcessFake<MediaFake>
let states: { a: MediaState; b: MediaState }
let app: ReturnType<typeof createMediaApp>

const stateOf = (c: Context): MediaState => {
  const which = c.req.header('x-state')
  if (which !== 'a' && which !== 'b') throw new Error('no such state')
  return states[which]
}

beforeAll(async () => {
  h = await inProcess(createMediaFake, { companions: [createAuthFake], env: { STORAGE_PATH: root } })
  const deps = { storagePath: root }
  states = { a: await createMediaState(h.scenario, deps), b: await createMediaState(h.scenario, deps) }
  app = createMediaApp(media, h.deps, stateOf, { fetch: h.tools.fetch })
})
afterAll(async () => {
  await states.a.dispose()
  await states.b.dispose()
  await h.close()
  rmSync(root, { recursive: true, force: true })
})

const req = (which: 'a' | 'b', path: string, init: RequestInit = {}) =>
  app.request(path, {
    ...init,
    headers: {
      'x-state': which,
      cookie: h.cookieFor('usr_member'),
      ...(init.headers as Record<string, string>),
    },
  })

async function upload(which: 'a' | 'b', size: number): Promise<string> {
  const res = await req(which, '/api/v1/upload', {
    method: 'POST',
    headers: { 'content-type': multipartType() },
    body: new Uint8Array(buildMultipart([filePart(paddedFile('application/pdf', size), 'application/pdf')])),
  })
  expect(res.status).toBe(201)
  return ((await res.json()) as { id: string }).id
}

describe('two media states in one process', () => {
  it('each has its own folder under STORAGE_PATH', () => {
    const [a, b] = [states.a.storage.dir, states.b.storage.dir]
    expect(a && b && a !== b).toBe(true)
    expect(dirname(a!)).toBe(root)
    expect(dirname(b!)).toBe(root)
  })

  it('a file uploaded in one is absent from the other, on the wire and on disk', async () => {
    const id = await upload('a', 3000)
    expect((await req('a', `/api/v1/files/${id}`)).status).toBe(200)
    expect((await req('b', `/api/v1/files/${id}`)).status).toBe(404)
    expect((await req('b', `/api/v1/files/${id}/download`)).status).toBe(404)
    expect((await req('b', `/api/v1/files/${id}`, { method: 'DELETE' })).status).toBe(404)
    expect(readdirSync(states.a.storage.dir!)).toEqual([id])
    expect(readdirSync(states.b.storage.dir!)).toEqual([])
    // Seeded files are in both.
    expect((await req('b', '/api/v1/files/file_sunset')).status).toBe(200)
  })

  it('disposing one removes its folder; the other keeps serving and storing', async () => {
    const kept = await upload('b', 2000)
    const dirA = states.a.storage.dir!
    await states.a.dispose()
    expect(existsSync(dirA)).toBe(false)
    const dl = await req('b', `/api/v1/files/${kept}/download`)
    expect(dl.status).toBe(200)
    expect((await dl.arrayBuffer()).byteLength).toBe(2000)
    const more = await upload('b', 1000)
    expect(readdirSync(states.b.storage.dir!).sort()).toEqual([kept, more].sort())
  })

  it("the fake's own states: a switch moves to a fresh folder and removes the old one", async () => {
    const before = h.fake.inspect().stateDir!
    expect(dirname(before)).toBe(root)
    await h.use('default')
    const after = h.fake.inspect().stateDir!
    expect(after).not.toBe(before)
    expect(existsSync(before)).toBe(false)
    expect(existsSync(after)).toBe(true)
  })
})
