import { mkdtempSync, rmSync } from 'node:fs'
import { request as httpRequest } from 'node:http'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as fc from 'fast-check'
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import WebSocket from 'ws'
import type { ChatFake } from '../../mocks/chat/index.ts'
import { ChatTestClient } from '../../mocks/chat/testing.ts'
import type { ServiceName } from '../../mocks/core/config.ts'
import type { MediaFake } from '../../mocks/media/index.ts'
import {
  buildMultipart,
  filePart,
  multipartType,
  paddedFile,
  sampleImage,
} from '../../mocks/media/testing.ts'
import { startTestMocks, storedFiles, type TestMocks } from '../helpers.ts'
import {
  describeServerSockets,
  envInt,
  eventually,
  FC_SEED,
  http,
  openFds,
  rawWsConnect,
  serverSockets,
  sleep,
  watchProcess,
  writeResult,
  wsFrame,
} from './support.ts'

// Clients that vanish mid-upload, mid-download and mid-WebSocket-frame, requests held by a
// `hang` fault, and scenario switches and resets under load. Nothing may be stored half-way,
// no socket may stay stuck, no promise may be left rejected, and every answer during a
// switch is wholly the old scenario's or wholly the new one's.

const RUNS = envInt('RELIABILITY_ABORT_RUNS', 15)
// Bigger runs (the report's --full) need more time per test than the config's 20 s.
vi.setConfig({ testTimeout: 30_000 + RUNS * 1000 })
const storage = mkdtempSync(join(tmpdir(), 'reliability-aborts-storage-'))
let t: TestMocks
let watch: ReturnType<typeof watchProcess>

interface Survived {
  name: string
  runs: number
  /** What was left behind (stored half-way, stuck, leaked): empty = nothing. */
  lost: string[]
}
const survived: Survived[] = []
function record(name: string, runs: number, lost: string[] = []) {
  survived.push({ name, runs, lost })
}

const media = () => t.mocks.services.get('media')?.fake as MediaFake
const chat = () => t.mocks.services.get('chat')?.fake as ChatFake
const onDisk = () => storedFiles(storage)
/** Ports clients connect to; auth's also carries chat's and media's own pooled get-session calls. */
const clientPorts = () =>
  (['chat', 'media', 'v01t'] as const)
    .map((s) => Number(new URL(t.url(s)).port))
    .concat(Number(new URL(t.controlUrl).port))
async function noStuckSockets(): Promise<string[]> {
  await eventually(() => serverSockets(clientPorts()) === 0, 5000)
  return describeServerSockets(clientPorts())
}

beforeAll(async () => {
  watch = watchProcess()
  t = await startTestMocks({ env: { STORAGE_PATH: storage } })
})
afterEach(async () => {
  for (const f of t.mocks.faults.list()) t.mocks.faults.remove(f.id)
  await t.mocks.faults.settled()
})
afterAll(async () => {
  await t?.close()
  watch.stop()
  rmSync(storage, { recursive: true, force: true })
  writeResult('aborts', { runsPerProperty: RUNS, seed: FC_SEED, survived, processErrors: watch.seen })
})

async function addFault(fault: Record<string, unknown>) {
  const f = t.mocks.faults.add(fault)
  await t.mocks.faults.settled()
  return f
}

function hostPort(service: ServiceName) {
  const u = new URL(t.url(service))
  return { host: u.hostname, port: Number(u.port) }
}

// ---- uploads ----

/** Sends the head and the first `cut` bytes of an upload, waits until the fake is reading it, vanishes. */
async function vanishMidUpload(body: Buffer, cut: number, chunked: boolean): Promise<void> {
  const { host, port } = hostPort('media')
  const sock = connect(port, host)
  sock.on('error', () => {})
  await new Promise((r) => sock.once('connect', r))
  const framing = chunked ? 'Transfer-Encoding: chunked' : `Content-Length: ${body.length}`
  sock.write(
    `POST /api/v1/upload HTTP/1.1\r\nHost: ${host}:${port}\r\nCookie: ${t.cookieFor('member')}\r\n` +
      `Content-Type: ${multipartType()}\r\n${framing}\r\n\r\n`,
  )
  const part = body.subarray(0, cut)
  sock.write(
    chunked
      ? Buffer.concat([Buffer.from(`${part.length.toString(16)}\r\n`), part, Buffer.from('\r\n')])
      : part,
  )
  await eventually(() => media().inspect().uploads.inFlight > 0, 3000, 5)
  await sleep(10)
  sock.destroy()
}

describe('clients vanishing', () => {
  it('mid-upload (any cut point, Content-Length or chunked): nothing is stored, nothing left on disk', async () => {
    const big = buildMultipart([
      { kind: 'field', name: 'type', value: 'file' },
      filePart(paddedFile('application/pdf', 600_000), 'application/pdf', 'big.pdf'),
    ])
    const ids = [...media().inspect().fileIds].sort()
    const disk = onDisk()
    let runs = 0
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: big.length - 1 }), fc.boolean(), async (cut, chunked) => {
        runs++
        await vanishMidUpload(big, cut, chunked)
        expect(
          await eventually(() => media().inspect().uploads.inFlight === 0, 5000),
          'upload still in flight',
        ).toBe(true)
        expect(media().inspect().uploads.last?.aborted, `cut at ${cut}`).toBe(true)
        expect([...media().inspect().fileIds].sort()).toEqual(ids)
        expect(onDisk()).toEqual(disk)
      }),
      { numRuns: RUNS, seed: FC_SEED },
    )
    expect(await noStuckSockets()).toEqual([])
    // The service still takes a whole upload afterwards.
    const ok = await http(t.url('media'), {
      method: 'POST',
      path: '/api/v1/upload',
      headers: { cookie: t.cookieFor('member'), 'content-type': multipartType() },
      body: buildMultipart([filePart(await sampleImage('png', 16, 16), 'image/png', 'after.png')]),
    })
    expect(ok.status).toBe(201)
    record('upload: client gone mid-body (random cut, Content-Length and chunked)', runs)
  })

  it('mid-download after the first chunk (memory, disk, ranges, slow-body): handles and file descriptors come back', async () => {
    const pdf = paddedFile('application/pdf', 3_000_000)
    const up = await http(t.url('media'), {
      method: 'POST',
      path: '/api/v1/upload',
      headers: { cookie: t.cookieFor('member'), 'content-type': multipartType() },
      body: buildMultipart([filePart(pdf, 'application/pdf', 'big.pdf')]),
    })
    expect(up.status).toBe(201)
    const id = (JSON.parse(up.text) as { id: string }).id
    /** Bytes of the first chunk; the client is gone right after it. */
    const firstChunk = (path: string, headers: Record<string, string> = {}) =>
      new Promise<number>((resolve, reject) => {
        const { host, port } = hostPort('media')
        let settled = false
        const settle = (fn: () => void) => {
          if (settled) return
          settled = true
          clearTimeout(timer)
          fn()
        }
        const timer = setTimeout(
          () => settle(() => reject(new Error(`${path}: no first chunk in 5 s`))),
          5000,
        )
        const req = httpRequest(
          { host, port, path, agent: false, headers: { cookie: t.cookieFor('usr_member2'), ...headers } },
          (res) => {
            res.once('data', (c: Buffer) => {
              req.destroy()
              settle(() => resolve(c.length))
            })
            res.once('end', () => settle(() => resolve(0)))
          },
        )
        req.on('error', (err) => settle(() => reject(err)))
        req.end()
      })
    const cases: [string, string, Record<string, string>?][] = [
      ['seeded PNG (memory)', '/api/v1/files/file_sunset/download'],
      ['upload on disk', `/api/v1/files/${id}/download`],
      ['range of the upload on disk', `/api/v1/files/${id}/download`, { range: 'bytes=100-2999999' }],
      ['thumbnail', '/api/v1/files/file_sunset/download?thumb=1'],
    ]
    await firstChunk(`/api/v1/files/${id}/download`)
    expect(await noStuckSockets()).toEqual([])
    const fdsBefore = openFds()
    let runs = 0
    for (const [, path, headers] of cases) {
      for (let i = 0; i < 5; i++) {
        runs++
        expect(await firstChunk(path, headers)).toBeGreaterThan(0)
      }
    }
    // The same under slow-body: the trickle stops when the client goes.
    const slow = await addFault({
      service: 'media',
      match: { path: '/api/v1/files/:id/download' },
      effect: { type: 'slow-body', bytesPerSecond: 4096 },
    })
    for (const [, path, headers] of cases) {
      runs++
      expect(await firstChunk(path, headers)).toBeGreaterThan(0)
    }
    t.mocks.faults.remove(slow.id)
    expect(await noStuckSockets(), 'sockets left open').toEqual([])
    const lost: string[] = []
    if (fdsBefore !== undefined) {
      // Eleven downloads read the file on disk: a handle left open by each would show as +11.
      const back = await eventually(() => (openFds() ?? 0) <= fdsBefore + 2, 3000)
      if (!back) lost.push(`file descriptors ${fdsBefore} -> ${openFds()}`)
    }
    expect(lost).toEqual([])
    // The bytes are intact for the next reader.
    const whole = await http(t.url('media'), {
      path: `/api/v1/files/${id}/download`,
      headers: { cookie: t.cookieFor('usr_member2') },
    })
    expect(whole.status).toBe(200)
    expect(whole.body.equals(pdf)).toBe(true)
    record(
      'download: client gone after the first chunk (memory, disk, range, thumbnail, slow-body)',
      runs,
      lost,
    )
  }, 30_000)

  it('mid-WebSocket-frame (any cut point): the socket leaves, presence is cleared, nothing half-stored', async () => {
    const observer = await ChatTestClient.open(
      `${t.url('chat').replace(/^http/, 'ws')}/ws?token=${t.tokenFor('usr_admin')}`,
    )
    try {
      observer.send({ type: 'join', channel: 'general' })
      await observer.sync()
      const count = chat().store().count('general')
      const frame = wsFrame(
        JSON.stringify({ type: 'message', channel: 'general', content: 'never finished writing this' }),
      )
      let runs = 0
      await fc.assert(
        fc.asyncProperty(fc.integer({ min: 1, max: frame.length - 1 }), async (cut) => {
          runs++
          const raw = await rawWsConnect(t.url('chat'), `/ws?token=${t.tokenFor('usr_member')}`)
          const m = observer.mark()
          raw.socket.write(wsFrame('{"type":"join","channel":"general"}'))
          await observer.waitFor((f) => f.type === 'presence' && f.user_id === 'usr_member' && f.online, {
            after: m,
          })
          const m2 = observer.mark()
          raw.socket.write(frame.subarray(0, cut))
          await sleep(5)
          raw.socket.destroy()
          await observer.waitFor((f) => f.type === 'presence' && f.user_id === 'usr_member' && !f.online, {
            after: m2,
          })
          expect(await eventually(() => chat().state().hub.size === 1, 3000)).toBe(true)
        }),
        { numRuns: RUNS * 2, seed: FC_SEED },
      )
      expect(chat().store().count('general'), 'a half-written message was stored').toBe(count)
      const presence = await http(t.url('chat'), {
        path: '/api/v1/presence?channel=general',
        headers: { cookie: t.cookieFor('admin') },
      })
      expect(
        (JSON.parse(presence.text) as { user_id: string; online: boolean }[])
          .filter((p) => p.online)
          .map((p) => p.user_id),
      ).toEqual(['usr_admin'])
      expect(observer.violations).toEqual([])
      record('WebSocket: client gone mid-frame (random cut in header, mask or payload)', runs)
    } finally {
      await observer.close()
    }
    expect(await eventually(() => chat().state().hub.size === 0, 3000)).toBe(true)
  })
})

// ---- hang ----

describe('a hang fault, and the client giving up', () => {
  const routes: [ServiceName, string, string, string?][] = [
    ['v01t', '/trace/*', '/trace/devarno-ecosystem/node/'],
    ['chat', '/api/v1/messages', '/api/v1/messages?channel=general', 'member'],
    ['media', '/api/v1/files/:id/download', '/api/v1/files/file_sunset/download', 'member'],
    ['auth', '/api/auth/get-session', '/api/auth/get-session', 'member'],
  ]

  it('every held request is released when its client goes; the route answers once the fault is gone', async () => {
    let runs = 0
    for (const [service, pattern, path, user] of routes) {
      const fault = await addFault({ service, match: { path: pattern }, effect: { type: 'hang' } })
      const before = t.mocks.journal.list({ service, path: new URL(`http://x${path}`).pathname }).length
      await Promise.all(
        Array.from({ length: 5 }, async () => {
          runs++
          const answered = await http(t.url(service), {
            path,
            headers: user ? { cookie: t.cookieFor(user) } : {},
            timeoutMs: 150,
          }).then(
            (a) => `HTTP ${a.status}`,
            () => undefined,
          )
          expect(answered, `${service} ${path} answered through a hang`).toBeUndefined()
        }),
      )
      // The fake notices each departure: the request is journaled, its socket gone.
      expect(
        await eventually(
          () =>
            t.mocks.journal.list({ service, path: new URL(`http://x${path}`).pathname }).length >= before + 5,
          3000,
        ),
        `${service}: held requests never released`,
      ).toBe(true)
      t.mocks.faults.remove(fault.id)
      const res = await http(t.url(service), { path, headers: user ? { cookie: t.cookieFor(user) } : {} })
      expect(res.status, service).toBe(200)
    }
    expect(await noStuckSockets()).toEqual([])
    record('hang fault on v01t, chat, media and auth routes: clients give up after 150 ms', runs)
  })

  it('a hang on get-session: chat and media answer 503 auth_unavailable in time, and recover', async () => {
    // A short auth timeout (its own instance: the switch test below keeps the default 5 s).
    const m = await startTestMocks({
      services: ['auth', 'chat', 'media'],
      env: { MOCKS_AUTH_TIMEOUT_MS: '300' },
    })
    try {
      m.mocks.faults.add({
        service: 'auth',
        match: { path: '/api/auth/get-session' },
        effect: { type: 'hang' },
      })
      for (const [service, path] of [
        ['chat', '/api/v1/messages?channel=general'],
        ['media', '/api/v1/files/file_sunset'],
      ] as const) {
        const started = performance.now()
        const res = await http(m.url(service), { path, headers: { cookie: m.cookieFor('member') } })
        expect(res.status).toBe(503)
        expect(JSON.parse(res.text)).toMatchObject({ code: 'auth_unavailable' })
        expect(performance.now() - started).toBeLessThan(3000)
      }
      expect(
        await ChatTestClient.upgradeStatus(
          `${m.url('chat').replace(/^http/, 'ws')}/ws?token=${m.tokenFor('member')}`,
        ),
      ).toBe(503)
      for (const f of m.mocks.faults.list()) m.mocks.faults.remove(f.id)
      const after = await http(m.url('chat'), {
        path: '/api/v1/messages?channel=general',
        headers: { cookie: m.cookieFor('member') },
      })
      expect(after.status).toBe(200)
      // The held get-session calls were all released when chat and media gave up on them.
      expect(
        await eventually(
          () =>
            m.mocks.journal
              .list({ service: 'auth', path: '/api/auth/get-session' })
              .filter((e) => e.status === 499).length >= 3,
          3000,
        ),
      ).toBe(true)
    } finally {
      await m.close()
    }
    record('hang fault on get-session: chat and media answer 503 auth_unavailable within the auth timeout', 3)
  })

  it('a hang on the WebSocket upgrade: clients that give up leave no socket behind (regression: it stayed half-open)', async () => {
    await addFault({ service: 'chat', match: { ws: 'upgrade' }, effect: { type: 'hang' } })
    const url = `${t.url('chat').replace(/^http/, 'ws')}/ws?token=${t.tokenFor('member')}`
    await Promise.all(
      Array.from({ length: 5 }, async () => {
        const ws = new WebSocket(url)
        ws.on('error', () => {})
        await sleep(150)
        expect(ws.readyState).toBe(WebSocket.CONNECTING)
        ws.terminate()
      }),
    )
    // Regression: the server side of a hung upgrade stayed half-open for good once its client left.
    expect(await noStuckSockets(), 'upgrade sockets held after the clients left').toEqual([])
    expect(
      t.mocks.journal
        .list({ service: 'chat', path: '/ws' })
        .filter((e) => e.status === 499 && e.fault?.type === 'hang'),
      'each abandoned upgrade is released and journaled',
    ).toHaveLength(5)
    for (const f of t.mocks.faults.list()) t.mocks.faults.remove(f.id)
    expect(await ChatTestClient.upgradeStatus(url)).toBe(101)
    expect(await eventually(() => chat().state().hub.size === 0, 3000)).toBe(true)
    record('hang fault on the WebSocket upgrade: clients give up after 150 ms', 5)
  })
})

// ---- switches under load ----

describe('scenario switches and resets under load', () => {
  const alt = {
    name: 'reliability-alt',
    extends: 'default',
    description: 'default with another seed and another ecosystem list',
    seed: 7,
    v01t: {
      applications: [
        {
          slug: 'devarno-ecosystem',
          components: [
            {
              slug: 'node',
              records: [
                {
                  title: 'alt-org',
                  slug: 'alt-org',
                  cluster: 'devarno-orgs',
                  external_id: 'https://github.com/alt-org',
                  raw_data: { url: 'https://github.com/alt-org', status: 'active' },
                },
              ],
            },
          ],
        },
      ],
    },
  }

  const reads: { key: string; service: ServiceName; path: string; user?: string }[] = [
    { key: 'v01t list', service: 'v01t', path: '/trace/devarno-ecosystem/node/?page_size=50' },
    {
      key: 'chat history',
      service: 'chat',
      path: '/api/v1/messages?channel=general&limit=30',
      user: 'member',
    },
    { key: 'chat presence', service: 'chat', path: '/api/v1/presence?channel=parents', user: 'admin' },
    { key: 'media metadata', service: 'media', path: '/api/v1/files/file_sunset', user: 'usr_member2' },
    { key: 'auth session', service: 'auth', path: '/api/auth/get-session', user: 'child' },
  ]

  /** The answer without the fields that legitimately change per request. */
  const canonical = (text: string) => {
    const v = JSON.parse(text) as Record<string, unknown>
    if (v && typeof v === 'object' && !Array.isArray(v)) delete v.timestamp
    return JSON.stringify(v)
  }
  const read = async (r: (typeof reads)[number]) => {
    const a = await http(t.url(r.service), {
      path: r.path,
      headers: r.user ? { cookie: t.cookieFor(r.user) } : {},
    })
    return { status: a.status, body: a.status === 200 ? canonical(a.text) : a.text }
  }

  it('every answer is wholly the old or the new scenario, never a 5xx; sockets get 1012; nothing half-stored', async () => {
    const snapshots = new Map<string, Set<string>>()
    for (const scenario of [{ scenario: alt }, { name: 'default' }] as const) {
      await t.mocks.switchScenario(scenario)
      for (const r of reads) {
        const a = await read(r)
        expect(a.status, r.key).toBe(200)
        snapshots.set(r.key, (snapshots.get(r.key) ?? new Set()).add(a.body))
      }
    }
    expect(snapshots.get('v01t list')?.size, 'the two scenarios must differ in V01T').toBe(2)
    expect(snapshots.get('chat history')?.size, 'the two scenarios must differ in chat').toBe(2)

    let stop = false
    const problems: string[] = []
    const closeCodes = new Map<number, number>()
    let answers = 0
    let uploads = 0
    const png = await sampleImage('png', 16, 16)
    const readLane = async (lane: number) => {
      for (let i = lane; !stop; i++) {
        const r = reads[i % reads.length]!
        const a = await read(r)
        answers++
        if (a.status !== 200) problems.push(`${r.key}: HTTP ${a.status} ${a.body.slice(0, 200)}`)
        else if (!snapshots.get(r.key)?.has(a.body))
          problems.push(`${r.key}: an answer from neither scenario: ${a.body.slice(0, 300)}`)
      }
    }
    const uploadLane = async () => {
      while (!stop) {
        const a = await http(t.url('media'), {
          method: 'POST',
          path: '/api/v1/upload',
          headers: { cookie: t.cookieFor('member'), 'content-type': multipartType() },
          body: buildMultipart([filePart(png, 'image/png', 'during-switch.png')]),
        })
        uploads++
        if (a.status !== 201) problems.push(`upload: HTTP ${a.status} ${a.text.slice(0, 200)}`)
      }
    }
    const socketLane = async () => {
      while (!stop) {
        const c = await ChatTestClient.open(
          `${t.url('chat').replace(/^http/, 'ws')}/ws?token=${t.tokenFor('usr_member2')}`,
        ).catch((err: Error) => {
          problems.push(`socket: ${err.message}`)
          return undefined
        })
        if (!c) continue
        c.send({ type: 'join', channel: 'general' })
        const closed = await Promise.race([c.closed, sleep(400).then(() => undefined)])
        const info = closed ?? (await c.close())
        closeCodes.set(info.code, (closeCodes.get(info.code) ?? 0) + 1)
        if (c.violations.length) problems.push(...c.violations)
      }
    }
    let switches = 0
    const switcher = async () => {
      for (let i = 0; i < 16; i++) {
        const body = i % 4 === 3 ? undefined : JSON.stringify(i % 2 ? { name: 'default' } : { scenario: alt })
        const res = await http(t.controlUrl, {
          method: body === undefined ? 'POST' : 'PUT',
          path: body === undefined ? '/__mocks/reset' : '/__mocks/scenario',
          headers: { 'content-type': 'application/json' },
          ...(body === undefined ? {} : { body }),
        })
        switches++
        if (res.status !== 200) problems.push(`switch ${i}: HTTP ${res.status} ${res.text}`)
        await sleep(40)
      }
      stop = true
    }
    await Promise.all([
      switcher(),
      readLane(0),
      readLane(1),
      readLane(2),
      readLane(3),
      uploadLane(),
      socketLane(),
    ])
    expect(problems.slice(0, 10)).toEqual([])
    // Sockets closed by a switch get 1012; the others by the client (1000) or with no code (1005).
    expect([...closeCodes.keys()].filter((c) => ![1012, 1000, 1005].includes(c))).toEqual([])
    expect(closeCodes.get(1012) ?? 0).toBeGreaterThan(0)
    expect(await eventually(() => media().inspect().uploads.inFlight === 0, 5000)).toBe(true)
    // Nothing half-stored: the disk holds exactly the uploads of the state in force.
    const seeded = new Set(t.mocks.scenario.media.files.map((f) => f.id))
    const kept = media()
      .inspect()
      .fileIds.filter((id) => !seeded.has(id))
      .sort()
    expect(
      await eventually(() => JSON.stringify(onDisk()) === JSON.stringify(kept), 3000),
      `${onDisk()} vs ${kept}`,
    ).toBe(true)
    await t.mocks.switchScenario({ name: 'default' })
    expect(
      await eventually(() => onDisk().length === 0, 3000),
      'uploads of a retired state left on disk',
    ).toBe(true)
    expect(await noStuckSockets()).toEqual([])
    record(
      `scenario switches and resets under load (${switches} switches, ${answers} reads, ${uploads} uploads)`,
      switches,
    )
  })
})

describe('the process', () => {
  it('saw no unhandled rejection or uncaught exception', () => {
    expect(watch.seen).toEqual([])
  })
})
