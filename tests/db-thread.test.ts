import { writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { type HostLogger, PgliteHost } from '../mocks/db/pglite-host.ts'
import type { PgliteThread } from '../mocks/db/pglite-thread.ts'
import { pgClient, withPg } from './db-helpers.ts'

// PGlite's worker thread when things go wrong: Postgres' errors cross the thread whole, a
// thread that dies is said and replaced, a start that fails is said and tried again, and
// closing never waits on a long query for more than its grace. Real sockets, `pg`.

function recordingLogger() {
  const lines: { level: string; msg: string; obj: object }[] = []
  const logger: HostLogger = {
    info: (obj, msg) => lines.push({ level: 'info', msg, obj }),
    warn: (obj, msg) => lines.push({ level: 'warn', msg, obj }),
    error: (obj, msg) => lines.push({ level: 'error', msg, obj }),
  }
  return { logger, errors: () => lines.filter((l) => l.level === 'error').map((l) => l.msg), lines }
}

const hosts: PgliteHost[] = []
afterEach(async () => {
  await Promise.all(hosts.splice(0).map((h) => h.close()))
})

async function served(logger: HostLogger, opts: { dataDir?: string } = {}) {
  const host = new PgliteHost({ logger, ...opts })
  hosts.push(host)
  const { port } = await host.listen()
  return { host, url: `postgres://postgres@127.0.0.1:${port}/postgres` }
}

const SEED = 'CREATE TABLE notes (n int); INSERT INTO notes VALUES (1);'

describe('db: PGlite in its worker thread, when things go wrong', () => {
  it("gives clients Postgres' own error fields, through the wire and through exec", async () => {
    const { logger } = recordingLogger()
    const { host, url } = await served(logger)
    const err = await withPg(url, (c) =>
      c.query('SELECT * FROM missing').then(
        () => null,
        (e: unknown) => e,
      ),
    )
    expect(err).toMatchObject({ code: '42P01', position: '15', message: 'relation "missing" does not exist' })
    // A seed that fails (exec in the worker) keeps its SQLSTATE for whoever applied it.
    await expect(host.reset('CREATE TABLE broken (')).rejects.toMatchObject({ code: '42601' })
  }, 60_000)

  it('a message that is a view of a larger buffer is copied for the worker, never its buffer moved', async () => {
    const { logger } = recordingLogger()
    const { host, url } = await served(logger)
    // Started by a client (its startup answered); then a Query straight to the thread.
    await withPg(url, (c) => c.query('SELECT 1'))
    const thread = (await host.instance()) as PgliteThread
    const sql = Buffer.from('SELECT 41 + 1 AS n\0')
    const whole = new ArrayBuffer(64 * 1024)
    const message = new Uint8Array(whole, 100, 5 + sql.length)
    message[0] = 0x51 // 'Q'
    new DataView(whole).setInt32(101, 4 + sql.length)
    message.set(sql, 5)
    const answer: Buffer[] = []
    await thread.execProtocolRawStream(message, { onRawData: (d) => answer.push(Buffer.from(d)) })
    // The caller's buffer (other frames may sit in it) is still whole, and the answer is the row.
    expect(whole.byteLength).toBe(64 * 1024)
    expect(message[0]).toBe(0x51)
    expect(Buffer.concat(answer).includes(Buffer.from('42'))).toBe(true)
  }, 60_000)

  it('a thread that dies is logged, its sessions cut, and the next connection starts from the seed', async () => {
    const { logger, errors } = recordingLogger()
    const { host, url } = await served(logger)
    await host.reset(SEED)
    const held = await pgClient(url)
    await held.query('INSERT INTO notes VALUES (2)')
    expect((await held.query('SELECT count(*)::int AS n FROM notes')).rows).toEqual([{ n: 2 }])
    const dead = held.query('SELECT 1').catch(() => 'cut')
    const thread = (await host.instance()) as PgliteThread
    // A crash, as an out-of-memory thread ends: not through close().
    await (thread as unknown as { worker: { terminate(): Promise<number> } }).worker.terminate()
    await expect(held.query('SELECT 1')).rejects.toThrow()
    await dead
    held.end().catch(() => undefined)
    expect(errors()).toContain(
      "PGlite's worker thread ended unexpectedly; the next connection starts the database again",
    )
    // A new PGlite, from the seed: the row written before the crash is gone with it.
    const after = await withPg(url, (c) => c.query('SELECT count(*)::int AS n FROM notes'))
    expect(after.rows).toEqual([{ n: 1 }])
    expect(await host.instance()).not.toBe(thread)
  }, 60_000)

  it('a start that fails is logged, and the next connection tries again', async () => {
    const { logger, errors } = recordingLogger()
    // A data directory that is a file: PGlite cannot start there.
    const file = join(tmpdir(), `devarno-mocks-not-a-dir-${process.pid}`)
    writeFileSync(file, 'x')
    const { url } = await served(logger, { dataDir: file })
    await expect(withPg(url, (c) => c.query('SELECT 1'))).rejects.toThrow()
    await expect(withPg(url, (c) => c.query('SELECT 1'))).rejects.toThrow()
    // Each connection tried (and said so): no start left failed for good.
    const failed = errors().filter((m) => m === 'PGlite failed to start; the next connection tries again')
    expect(failed.length).toBeGreaterThanOrEqual(2)
  }, 60_000)

  it('closing waits for a running query no longer than its grace, then ends the thread', async () => {
    const { logger, lines } = recordingLogger()
    const { host, url } = await served(logger)
    const c = await pgClient(url)
    const sleeping = c.query('SELECT pg_sleep(30)').catch(() => 'cut')
    // The query has reached PGlite (the host holds it for this client).
    await new Promise((r) => setTimeout(r, 300))
    const started = performance.now()
    await host.close()
    const took = performance.now() - started
    expect(await sleeping).toBe('cut')
    c.end().catch(() => undefined)
    // The grace is 2 s; a loaded machine may add to it, never the query's 30 s.
    expect(took).toBeGreaterThan(1500)
    expect(took).toBeLessThan(15_000)
    expect(lines.map((l) => l.msg)).toContain(
      "PGlite's worker thread had not ended when closing's grace ran out: it was terminated",
    )
  }, 60_000)
  it('closing while PGlite starts in memory ends the start at once: no database comes up after it', async () => {
    const { logger, lines } = recordingLogger()
    const host = new PgliteHost({ logger })
    hosts.push(host)
    await host.reset(SEED)
    const starting = host.instance()
    starting.catch(() => undefined)
    await new Promise((r) => setTimeout(r, 100))
    expect(host.active).toBe(true)
    await host.close()
    await expect(starting).rejects.toThrow()
    // A start left to finish would have said so (and logged it); an ended one is not a failure.
    await new Promise((r) => setTimeout(r, 300))
    expect(lines.map((l) => l.msg)).not.toContain('PGlite started')
    expect(lines.filter((l) => l.level !== 'info')).toEqual([])
    expect(host.active).toBe(false)
    // And the host starts again afterwards, from the seed.
    const { port } = await host.listen()
    const rows = await withPg(
      `postgres://postgres@127.0.0.1:${port}/postgres`,
      async (c) => (await c.query('SELECT n FROM notes')).rows,
    )
    expect(rows).toEqual([{ n: 1 }])
  }, 60_000)
})
