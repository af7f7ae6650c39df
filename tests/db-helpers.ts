import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pg from 'pg'
import { PROTOCOL_3 } from '../mocks/db/wire.ts'
import { freePort } from './ports.ts'

// Debian's `postgresql` as a real upstream for the db tests (CI installs it). initdb and postgres
// refuse to run as root, so as root they run as the `postgres` user, in a temp dir, on a free
// port. When the package is absent, `debianPostgresMissing` says why and the suites that need it
// are reported as skipped with that reason, never as passed.

/** A connected `pg` client; its 'error' events are ignored (tests cut connections on purpose). */
export async function pgClient(url: string, extra: Partial<pg.ClientConfig> = {}): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: url, ...extra })
  c.on('error', () => {})
  await c.connect()
  return c
}

/** `fn` on a fresh connection, closed after (also when `fn` throws). */
export async function withPg<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = await pgClient(url)
  try {
    return await fn(c)
  } finally {
    await c.end().catch(() => undefined)
  }
}

/** A StartupMessage (protocol 3.0) for user and database `postgres`, as a raw-socket test sends it. */
export function startupPacket(): Buffer {
  const params = Buffer.from('user\0postgres\0database\0postgres\0\0')
  const b = Buffer.alloc(8 + params.length)
  b.writeInt32BE(8 + params.length, 0)
  b.writeInt32BE(PROTOCOL_3, 4)
  params.copy(b, 8)
  return b
}

export interface RealPostgres {
  url: string
  stop(): Promise<void>
}

function binDir(): string | undefined {
  const root = '/usr/lib/postgresql'
  if (!existsSync(root)) return undefined
  const versions = readdirSync(root).sort((a, b) => Number(b) - Number(a))
  for (const v of versions) {
    const dir = join(root, v, 'bin')
    if (existsSync(join(dir, 'initdb')) && existsSync(join(dir, 'postgres'))) return dir
  }
  return undefined
}

export const debianPostgresMissing: string | undefined = binDir()
  ? undefined
  : 'Debian postgresql is not installed (apt-get install -y postgresql): the real-Postgres upstream is NOT tested'

export async function startDebianPostgres(): Promise<RealPostgres> {
  const bin = binDir()
  if (!bin) throw new Error(debianPostgresMissing)
  const dir = mkdtempSync(join(tmpdir(), 'mocks-pg-'))
  const asRoot = process.getuid?.() === 0
  let uid = -1
  let gid = -1
  if (asRoot) {
    uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim())
    gid = Number(execFileSync('id', ['-g', 'postgres']).toString().trim())
    chmodSync(dir, 0o700)
    chownSync(dir, uid, gid)
  }
  const data = join(dir, 'data')
  const run = (file: string, args: string[]) =>
    asRoot ? execFileSync('runuser', ['-u', 'postgres', '--', file, ...args]) : execFileSync(file, args)
  run(join(bin, 'initdb'), ['-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync'])
  const port = await freePort()
  const args = [
    '-D',
    data,
    '-p',
    String(port),
    '-k',
    dir,
    '-c',
    'listen_addresses=127.0.0.1',
    '-c',
    'fsync=off',
  ]
  const child: ChildProcess = asRoot
    ? spawn('runuser', ['-u', 'postgres', '--', join(bin, 'postgres'), ...args], { stdio: 'ignore' })
    : spawn(join(bin, 'postgres'), args, { stdio: 'ignore' })
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`
  const until = Date.now() + 30_000
  for (;;) {
    const c = new pg.Client({ connectionString: url })
    c.on('error', () => {})
    try {
      await c.connect()
      await c.end()
      break
    } catch (err) {
      if (Date.now() > until || child.exitCode !== null) {
        child.kill('SIGKILL')
        throw new Error(`Debian postgres did not start on port ${port}: ${(err as Error).message}`)
      }
      await new Promise((r) => setTimeout(r, 100))
    }
  }
  return {
    url,
    async stop() {
      // runuser forwards SIGINT to postgres: a fast shutdown.
      await new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve()
        child.once('exit', () => resolve())
        child.kill('SIGINT')
        setTimeout(() => child.kill('SIGKILL'), 10_000).unref()
      })
      rmSync(dir, { recursive: true, force: true })
    },
  }
}
