import type { ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { afterEach, beforeAll, describe, expect, it } from 'vitest'
import { pgClient } from './db-helpers.ts'
import { connectResult, spawnJob } from './helpers.ts'
import { freePort } from './ports.ts'

// Stopping the mocks when the stop signal arrives twice. Playwright stops its webServer with a
// SIGTERM to the whole process group: the bin gets one, and `pnpm dev:mocks` (or tsx) forwards
// its own copy a moment later. That is one request to stop: the servers must close as for one
// signal. Only a later signal is a second Ctrl-C, which exits without waiting.
// The bin runs alone in its group here, so each signal below is delivered exactly as sent; a
// query sleeping in PGlite keeps the stop busy (closing waits up to 2 s for it).

const ROOT = fileURLToPath(new URL('..', import.meta.url))

let child: ChildProcess
let output = ''
let dbPort: number
let exited: Promise<number | null>

async function waitFor(what: string, check: () => boolean | Promise<boolean>, ms = 30_000) {
  const until = Date.now() + ms
  while (Date.now() < until) {
    if (await check()) return
    await new Promise((r) => setTimeout(r, 50))
  }
  throw new Error(`timed out waiting for ${what}; output so far:\n${output}`)
}

function start(): void {
  output = ''
  const env: Record<string, string | undefined> = {
    ...process.env,
    MOCKS_DB_PORT: String(dbPort),
    MOCKS_LOG_FORMAT: 'json',
    MOCKS_LOG_LEVEL: 'info',
  }
  delete env.MOCKS_CONTROL_URL
  delete env.MOCKS_HOST
  child = spawnJob(
    process.execPath,
    ['scripts/dev.mjs', 'start', '--only', 'db'],
    { env, cwd: ROOT },
    (d) => {
      output += d
    },
  )
  exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)))
}

/** Starts the bin and a query that keeps PGlite busy for `seconds`; resolves once it runs. */
async function busyMocks(seconds: number): Promise<void> {
  start()
  await waitFor('the banner', () => output.includes('Ctrl-C stops everything'))
  const client = await pgClient(`postgres://postgres:postgres@127.0.0.1:${dbPort}/postgres`)
  client.on('error', () => undefined)
  // Cut by the stop: its failure is expected.
  void client.query(`SELECT pg_sleep(${seconds})`).catch(() => undefined)
  // The query is in PGlite once the round trip before it has come back.
  await new Promise((r) => setTimeout(r, 300))
}

beforeAll(async () => {
  dbPort = await freePort()
})

afterEach(() => {
  if (child?.exitCode === null && child.pid) process.kill(-child.pid, 'SIGKILL')
})

/** A signal to the bin; one that finds it gone says so (the stop ended sooner than the test meant). */
function signal(name: NodeJS.Signals): void {
  try {
    process.kill(child.pid as number, name)
  } catch (err) {
    throw new Error(
      `the bin had already exited when ${name} was sent (${(err as Error).message}):\n${output}`,
    )
  }
}

describe('stopping on a signal delivered twice', () => {
  it('the same SIGTERM twice in quick succession is one stop: every server closes first', async () => {
    await busyMocks(10)
    signal('SIGTERM')
    await waitFor('the stop to begin', () => output.includes('"msg":"stopping"'))
    // The wrapper's forwarded copy, while the stop waits for PGlite.
    signal('SIGTERM')
    expect(await exited).toBe(0)
    expect(output).not.toContain('again: exiting without waiting')
    expect(output).toContain('stopped: every server closed')
    expect(output.match(/"msg":"stopping"/g)).toHaveLength(1)
    expect(await connectResult(`http://127.0.0.1:${dbPort}`)).toBe('ECONNREFUSED')
  }, 60_000)

  it('a second signal well after the first still exits at once, without waiting', async () => {
    await busyMocks(10)
    signal('SIGINT')
    await waitFor('the stop to begin', () => output.includes('"msg":"stopping"'))
    // After the window in which a signal counts as the same one, while PGlite holds the stop.
    await new Promise((r) => setTimeout(r, 1100))
    signal('SIGINT')
    expect(await exited).toBe(0)
    expect(output).toContain('SIGINT again: exiting without waiting for the servers to close')
    // Not waited for: the stop would have closed PGlite (after its grace) and said so.
    expect(output).not.toContain('stopped: every server closed')
  }, 60_000)
})
