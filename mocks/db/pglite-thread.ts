import { Worker } from 'node:worker_threads'
import type { PgliteReply, PgliteRequest, PgliteWorkerData } from './pglite-worker.ts'

// PGlite in a worker thread (pglite-worker.ts), behind the few calls PgliteHost makes. Only
// these calls cross: the sockets, the wire-protocol framing and the fault proxy stay here.

/** What PgliteHost uses of PGlite: PGlite itself (in this thread) or PgliteThread. */
export interface PgliteLike {
  execProtocolRawStream(message: Uint8Array, opts: { onRawData: (data: Uint8Array) => void }): Promise<void>
  exec(sql: string): Promise<unknown>
  query<T>(sql: string, params?: unknown[]): Promise<{ rows: T[] }>
  close(): Promise<void>
}

/**
 * Set by scripts/build.ts in a bundle: the worker's built file, relative to this source file
 * (the bundle's `import.meta.url` is rewritten to the source file's own URL).
 */
declare const PGLITE_WORKER_FILE: string | undefined

/** How long a worker that was asked to close may take to end before it is terminated. */
const EXIT_GRACE_MS = 2000

type Pending = { resolve: (value: unknown) => void; reject: (err: Error) => void }

export class PgliteThread implements PgliteLike {
  private nextId = 1
  private readonly pending = new Map<number, Pending>()
  private failure: Error | undefined
  private closing: Promise<void> | undefined
  private readonly exited: Promise<number>
  /** True when the worker did not end by itself after closing and had to be terminated. */
  terminated = false

  private constructor(private readonly worker: Worker) {
    this.exited = new Promise((resolve) => worker.once('exit', resolve))
    worker.on('message', (reply: PgliteReply) => this.settle(reply))
    worker.on('error', (err) => this.fail(err))
    void this.exited.then((code) => this.fail(new Error(`PGlite's worker thread ended (exit code ${code})`)))
  }

  /** Starts the worker and waits for PGlite's start in it. */
  static async start(dataDir: string | undefined): Promise<PgliteThread> {
    const thread = new PgliteThread(spawn({ dataDir }))
    try {
      await thread.call({ op: 'start' })
    } catch (err) {
      await thread.close().catch(() => undefined)
      throw err
    }
    return thread
  }

  async execProtocolRawStream(
    message: Uint8Array,
    opts: { onRawData: (data: Uint8Array) => void },
  ): Promise<void> {
    // Transferred when the bytes own their buffer; a view (of Buffer's pool) is copied.
    const owned =
      message.byteOffset === 0 &&
      message.byteLength === message.buffer.byteLength &&
      message.buffer instanceof ArrayBuffer
    const bytes = owned ? message : message.slice()
    const answer = (await this.call({ op: 'raw', bytes }, [bytes.buffer as ArrayBuffer])) as Uint8Array
    if (answer.length) opts.onRawData(answer)
  }

  async exec(sql: string): Promise<void> {
    await this.call({ op: 'exec', sql })
  }

  async query<T>(sql: string, params?: unknown[]): Promise<{ rows: T[] }> {
    return (await this.call({ op: 'query', sql, params })) as { rows: T[] }
  }

  /**
   * Closes PGlite after the calls already sent (the worker runs them in order), then lets the
   * thread end by itself; one that does not is terminated.
   */
  close(): Promise<void> {
    this.closing ??= (async () => {
      try {
        if (!this.failure) await this.call({ op: 'close' })
      } finally {
        let timer: NodeJS.Timeout | undefined
        const late = new Promise<'late'>((resolve) => {
          timer = setTimeout(() => resolve('late'), EXIT_GRACE_MS)
        })
        if ((await Promise.race([this.exited, late])) === 'late') {
          this.terminated = true
          await this.worker.terminate()
        }
        clearTimeout(timer)
      }
    })()
    return this.closing
  }

  private call(
    req: { op: 'start' } | DistributiveOmit<PgliteRequest, 'id'>,
    transfer: ArrayBuffer[] = [],
  ): Promise<unknown> {
    if (this.failure) return Promise.reject(this.failure)
    // 'start' is the worker's own first reply (id 0), sent once PGlite has started.
    const id = req.op === 'start' ? 0 : this.nextId++
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject })
      if (req.op !== 'start') this.worker.postMessage({ ...req, id }, transfer)
    })
  }

  private settle(reply: PgliteReply): void {
    const p = this.pending.get(reply.id)
    if (!p) return
    this.pending.delete(reply.id)
    if (reply.ok) p.resolve(reply.value)
    else
      p.reject(Object.assign(new Error(reply.error.message), reply.error.props, { name: reply.error.name }))
  }

  private fail(err: Error): void {
    this.failure ??= err
    for (const p of this.pending.values()) p.reject(err)
    this.pending.clear()
  }
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never

function spawn(data: PgliteWorkerData): Worker {
  const opts = { workerData: data, name: 'pglite' }
  if (typeof PGLITE_WORKER_FILE === 'string')
    return new Worker(new URL(PGLITE_WORKER_FILE, import.meta.url), opts)
  // From sources (tsx, vitest): Node 20 loads no TypeScript by itself, so tsx loads the entry.
  const entry = new URL('./pglite-worker.ts', import.meta.url).href
  const code = `import('tsx/esm/api').then(({ tsImport }) => tsImport(${JSON.stringify(entry)}, ${JSON.stringify(entry)}))`
  return new Worker(code, { ...opts, eval: true })
}
