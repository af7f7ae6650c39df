import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { threadId } from 'node:worker_threads'
import type { PGlite } from '@electric-sql/pglite'

// Opening PGlite, shared by the host (in this thread) and the worker (pglite-worker.ts).

/** PGlite on `dataDir`, or in memory (from the cached fresh cluster when there is one). */
export async function openPglite(dataDir: string | undefined): Promise<PGlite> {
  const { PGlite } = await import('@electric-sql/pglite')
  return dataDir ? await PGlite.create({ dataDir }) : await createInMemory(PGlite)
}

/**
 * A fresh in-memory PGlite. Its initdb takes most of its start (7-9 s on a loaded 2-core
 * machine, against ~1.5 s to load a data directory), so the first start on a machine dumps the
 * fresh cluster to the temp folder and later starts (other processes, test files) load it.
 */
async function createInMemory(PGliteClass: typeof PGlite): Promise<PGlite> {
  const cache = join(tmpdir(), `devarno-mocks-pglite-${pgliteVersion()}.tar`)
  if (existsSync(cache)) {
    try {
      return await PGliteClass.create({ loadDataDir: new Blob([readFileSync(cache)]) })
    } catch {
      // A damaged cache: start from scratch (and write it again below).
    }
  }
  const db = await PGliteClass.create()
  try {
    const dump = await db.dumpDataDir('none')
    // Per thread too: two hosts' workers in one process may write it at once.
    const part = `${cache}.${process.pid}.${threadId}.part`
    writeFileSync(part, Buffer.from(await dump.arrayBuffer()))
    renameSync(part, cache)
  } catch {
    // No cache then: the next start runs initdb again.
  }
  return db
}

function pgliteVersion(): string {
  try {
    const main = new URL(import.meta.resolve('@electric-sql/pglite'))
    const pkg = JSON.parse(readFileSync(new URL('../package.json', main), 'utf8')) as { version: string }
    return pkg.version
  } catch {
    return 'unknown'
  }
}
