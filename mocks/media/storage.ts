import { randomUUID } from 'node:crypto'
import { createWriteStream, type WriteStream } from 'node:fs'
import { mkdir, readdir, rename, rm } from 'node:fs/promises'
import { join } from 'node:path'

// Where uploaded bytes live. In memory by default; with STORAGE_PATH on disk, written to a
// temporary `.upload-*.part` file while they arrive and renamed to the file id only once the
// upload is complete and accepted, so an aborted or refused upload leaves nothing behind.
// Disk paths are built only from ids this fake generates, never from request input.

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

function diskSink(dir: string): UploadSink {
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
    },
  }
}

export interface Storage {
  readonly dir: string | undefined
  createSink(): UploadSink
  /** Makes a finished blob permanent under the file id. */
  commit(blob: BlobRef, id: string): Promise<BlobRef>
  /** Removes a blob's bytes (no-op in memory). */
  discard(blob: BlobRef): Promise<void>
  /** Creates STORAGE_PATH if needed and removes `.upload-*.part` files a killed process left. */
  sweepTemp(): Promise<void>
}

export function createStorage(dir: string | undefined): Storage {
  let ready: Promise<unknown> | undefined
  const ensureDir = () => {
    if (!dir) return Promise.resolve()
    ready ??= mkdir(dir, { recursive: true })
    return ready
  }
  return {
    dir,
    createSink: () => (dir ? diskSink(dir) : memorySink()),
    async commit(blob, id) {
      if (blob.kind === 'memory' || !dir) return blob
      const path = join(dir, id)
      await rename(blob.path, path)
      return { kind: 'disk', path }
    },
    async discard(blob) {
      if (blob.kind === 'disk') await rm(blob.path, { force: true })
    },
    async sweepTemp() {
      if (!dir) return
      await ensureDir()
      const names = await readdir(dir)
      await Promise.all(
        names
          .filter((n) => n.startsWith(TEMP_PREFIX) && n.endsWith(TEMP_SUFFIX))
          .map((n) => rm(join(dir, n), { force: true })),
      )
    },
  }
}
