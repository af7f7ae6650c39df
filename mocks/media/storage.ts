import { randomUUID } from 'node:crypto'
import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs'
import { mkdir, readdir, rename, rm, rmdir } from 'node:fs/promises'
import { join } from 'node:path'

// Where uploaded bytes live. In memory by default; with STORAGE_PATH on disk, written to a
// temporary `.upload-*.part` file while they arrive and renamed to the file id only once the
// upload is complete and accepted, so an aborted or refused upload leaves nothing behind.
// Disk paths are built only from ids this fake generates, never from request input.
//
// Each media state (a scenario's world; a tenant's) stores under its own folder,
// `STORAGE_PATH/state-<pid>-<n>`, so two states never see each other's files. A retired
// state's folder goes once its last upload has ended: uploads still arriving when it retires
// finish (and are then discarded by the state), as before per-state folders.

export type BlobRef = { kind: 'memory'; bytes: Buffer } | { kind: 'disk'; path: string }

export interface UploadSink {
  /** false: wait for onDrain before writing more (disk backpressure). */
  write(chunk: Buffer): boolean
  onDrain(listener: () => void): void
  /** Called at most once if the sink cannot store (disk full, permissions). */
  onError(listener: (err: Error) => void): void
  /** All bytes written: the blob, still temporary on disk until commit. */
  finish(): Promise<BlobRef>
  /** Drops everything written; resolves once nothing is left on disk. */
  abort(): Promise<void>
}

const TEMP_PREFIX = '.upload-'
const TEMP_SUFFIX = '.part'

function memorySink(): UploadSink {
  let chunks: Buffer[] = []
  return {
    write(chunk) {
      chunks.push(chunk)
      return true
    },
    onDrain() {},
    onError() {},
    async finish() {
      const bytes = Buffer.concat(chunks)
      chunks = []
      return { kind: 'memory', bytes }
    },
    async abort() {
      chunks = []
    },
  }
}

function closed(stream: WriteStream): Promise<void> {
  if (stream.closed) return Promise.resolve()
  return new Promise((resolve) => stream.once('close', () => resolve()))
}

function diskSink(dir: string, aborted: () => Promise<void>): UploadSink {
  const path = join(dir, `${TEMP_PREFIX}${randomUUID()}${TEMP_SUFFIX}`)
  // 'wx': never overwrite; the fd opens asynchronously, so abort waits for 'close' before unlinking.
  const stream = createWriteStream(path, { flags: 'wx' })
  let failure: Error | undefined
  let errorListener: ((err: Error) => void) | undefined
  stream.on('error', (err) => {
    failure ??= err
    errorListener?.(err)
  })
  return {
    write: (chunk) => stream.write(chunk),
    onDrain: (listener) => stream.once('drain', listener),
    onError(listener) {
      errorListener = listener
      if (failure) listener(failure)
    },
    async finish() {
      if (failure) throw failure
      await new Promise<void>((resolve, reject) => {
        stream.once('error', reject)
        stream.end(() => resolve())
      })
      await closed(stream)
      return { kind: 'disk', path }
    },
    async abort() {
      stream.destroy()
      await closed(stream)
      await rm(path, { force: true })
      await aborted()
    },
  }
}

export interface Storage {
  /** This state's folder (undefined: bytes in memory). */
  readonly dir: string | undefined
  createSink(): UploadSink
  /** Makes a finished blob permanent under the file id. */
  commit(blob: BlobRef, id: string): Promise<BlobRef>
  /** Removes a blob's bytes (no-op in memory). */
  discard(blob: BlobRef): Promise<void>
  /**
   * The state is gone: its folder is removed now if empty, else as soon as the last upload in
   * it is discarded or aborted (the state discards every blob it is handed once retired).
   */
  retire(): Promise<void>
}

const isTemp = (path: string) => {
  const name = path.slice(path.lastIndexOf('/') + 1)
  return name.startsWith(TEMP_PREFIX) && name.endsWith(TEMP_SUFFIX)
}

const STATE_DIR = /^state-(\d+)-\d+$/
/** State folders this process made and has not destroyed: never swept. */
const liveDirs = new Set<string>()
let nextDir = 1

/** Storage for one media state: in memory without STORAGE_PATH, else a folder of its own under it. */
/**
 * `shared`: where committed uploads go instead of the state's folder (replicated mode: one
 * folder every replica reads, never swept; removals arrive through the log).
 */
export async function createStateStorage(root: string | undefined, shared?: string): Promise<Storage> {
  if (!root) {
    return {
      dir: undefined,
      createSink: memorySink,
      commit: async (blob) => blob,
      discard: async () => {},
      retire: async () => {},
    }
  }
  const name = `state-${process.pid}-${nextDir++}`
  const dir = join(root, name)
  await mkdir(dir, { recursive: true })
  liveDirs.add(dir)
  let retired = false
  /** Uploads whose bytes are not yet committed or dropped (their temp file may not exist yet). */
  let pending = 0
  // Removes the folder once nothing is left in it (an upload still arriving keeps it).
  const tidy = async () => {
    if (!retired || pending > 0) return
    try {
      await rmdir(dir)
      liveDirs.delete(dir)
    } catch {
      // Not empty (an upload still in flight) or already gone.
    }
  }
  return {
    dir,
    createSink() {
      // Normally there already; recreated for an upload that reached a state as it retired.
      mkdirSync(dir, { recursive: true })
      pending++
      let ended = false
      return diskSink(dir, () => {
        if (!ended) pending--
        ended = true
        return tidy()
      })
    },
    async commit(blob, id) {
      if (blob.kind === 'memory') return blob
      if (shared) await mkdir(shared, { recursive: true })
      const path = join(shared ?? dir, id)
      // On failure the caller discards the temp blob, which counts it out.
      await rename(blob.path, path)
      pending--
      return { kind: 'disk', path }
    },
    async discard(blob) {
      if (blob.kind === 'disk') {
        // A finished upload dropped before its commit (refused image) was still pending.
        if (isTemp(blob.path)) pending--
        await rm(blob.path, { force: true })
      }
      await tidy()
    },
    async retire() {
      retired = true
      await tidy()
    },
  }
}

function alive(pid: number): boolean {
  if (pid === process.pid) return true
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/**
 * Creates STORAGE_PATH if needed and removes what a killed process left: `.upload-*.part`
 * files (the layout before per-state folders) and state folders of processes that are gone
 * (or of this one, but not live). Other files in the directory are not ours to touch.
 */
export async function sweepStorage(root: string | undefined): Promise<void> {
  if (!root) return
  await mkdir(root, { recursive: true })
  const entries = await readdir(root, { withFileTypes: true })
  await Promise.all(
    entries.map((e) => {
      const path = join(root, e.name)
      if (e.isFile() && e.name.startsWith(TEMP_PREFIX) && e.name.endsWith(TEMP_SUFFIX)) {
        return rm(path, { force: true })
      }
      const m = e.isDirectory() ? STATE_DIR.exec(e.name) : null
      if (m && !liveDirs.has(path) && (Number(m[1]) === process.pid || !alive(Number(m[1])))) {
        return rm(path, { recursive: true, force: true })
      }
      return undefined
    }),
  )
}
