import { Worker } from 'node:worker_threads'
import type { PgliteReply, PgliteRequest, PgliteWorkerData } from './pglite-worker.ts'

// PGlite in a worker thread (pglite-worker.ts), behind the few calls PgliteHost makes. Only
// these calls cross: the sockets, the wire-protocol framing and the fault proxy stay here.

/** What PgliteHost uses of PGlite: PGlite itself (in this thread) or PgliteThread. */
export interface PgliteLike {
  execProtocolRawStream(message: Uint8Array, opts: { onRawData: (data: Uint8Array) => void }): Promise<void>
  exec(sql: string): Promise<unknown>
  close(): Promise<void>
}

/**
 * Set by scripts/build.ts in a bundle: the worker's built file, relative to this source file
 * (the bundle's `import.meta.url` is rewritten to the source file's own URL).
 */
declare const PGLITE_WORKER_FILE: string | undefined

/**
 * How long closing may take: the calls still running (a long query), then the thread's own end.
 * Past it the thread is terminated (the in-memory database is gone either way).
 */
const CLOSE_GRACE_MS = 2000

type Pending = { resolve: (value: unknown) => void; reject: (err: Error) => void }

export class PgliteThread implements PgliteLike {
  private nextId = 1
  private readonly pending = new Map<number, Pending>()
  /** Why the thread failed, once it has (calls are refused from then on). */
  failure: Error | undefined = undefined
  private closing: Promise<void> | undefined
  private readonly exited: Promise<number>
  /** True when the worker did not end by itself within the grace and had to be terminated. */
  terminated = false
  /** PGlite's start in the worker: its first reply (id 0), sent unasked. */
  private readonly ready: Promise<unknown>

  private constructor(
    private readonly worker: Worker,
    /** Told once if the thread fails or ends when not asked to close (a crash, an OOM). */
    private readonly onLost: (thread: PgliteThread, err: Error) => void,
  ) {
    this.ready = new Promise((resolve, reject) => this.pending.set(0, { resolve, reject }))
    this.exited = new Promise((resolve) => worker.once('exit', resolve))
    worker.on('message', (reply: PgliteReply) => this.settle(reply))
    worker.on('error', (err) => this.fail(err))
    void this.exited.then((code) => this.fail(new Error(`PGlite's worker thread ended (exit code ${code})`)))
  }

  /**
   * Starts the worker and waits for PGlite's start in it. A failure of the start rejects it (and
   * reaches `onLost` too, which can tell the thread is not one it holds); a later one sets
   * `failure` and reaches `onLost`.
   */
  static async start(
    dataDir: string | undefined,
    onLost: (thread: PgliteThread, err: Error) => void = () => {},
    /** Aborted: the thread is ended at once, whatever it is doing (its start rejects). */
    signal?: AbortSignal,
  ): Promise<PgliteThread> {
    const thread = new PgliteThread(spawn({ dataDir }), onLost)
    signal?.addEventListener('abort', () => void thread.terminate(), { once: true })
    try {
      await thread.ready
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
    // Transferred when the bytes own their whole buffer; a view (most Buffers are views of
    // Node's shared pool, which cannot be transferred) is copied first.
    const owned =
      message.byteOffset === 0 &&
      message.byteLength === message.buffer.byteLength &&
      message.buffer instanceof ArrayBuffer
    const bytes = owned ? message : new Uint8Array(message)
    const chunks = (await this.call({ op: 'raw', bytes }, [bytes.buffer as ArrayBuffer])) as Uint8Array[]
    for (const chunk of chunks) opts.onRawData(chunk)
  }

  async exec(sql: string): Promise<void> {
    await this.call({ op: 'exec', sql })
  }

  /**
   * Closes PGlite after the calls already sent (the worker runs them in order), then lets the
   * thread end by itself; one that has not ended within the grace (a query still running, a
   * thread that will not stop) is terminated.
   */
  close(): Promise<void> {
    this.closing ??= (async () => {
      let timer: NodeJS.Timeout | undefined
      const late = new Promise<'late'>((resolve) => {
        timer = setTimeout(() => resolve('late'), CLOSE_GRACE_MS)
      })
      const closed = this.failure ? Promise.resolve() : this.call({ op: 'close' }).catch(() => undefined)
      try {
        if ((await Promise.race([closed.then(() => this.exited), late])) === 'late') {
          this.terminated = true
          await this.worker.terminate()
        }
      } finally {
        clearTimeout(timer)
      }
    })()
    return this.closing
  }

  /** Ends the thread now, without closing PGlite (nothing in it is kept). */
  terminate(): Promise<void> {
    this.closing ??= this.worker.terminate().then(() => undefined)
    return this.closing
  }

  private call(req: DistributiveOmit<PgliteRequest, 'id'>, transfer: ArrayBuffer[] = []): Promise<unknown> {
    if (this.failure) return Promise.reject(this.failure)
    const id = this.nextId++
    return new Promise((resolve, reject) => {
      this.worker.postMessage({ ...req, id }, transfer)
      this.pending.set(id, { resolve, reject })
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
    if (this.failure) return
    this.failure = err
    for (const p of this.pending.values()) p.reject(err)
    this.pending.clear()
    if (!this.closing) this.onLost(this, err)
  }
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never

function spawn(data: PgliteWorkerData): Worker {
  const opts = { workerData: data, name: 'pglite' }
  if (typeof PGLITE_WORKER_FILE === 'string')
    return new Worker(new URL(PGLITE_WORKER_FILE, import.meta.url), opts)
  // From sources (tsx, vitest): Node 20 loads no TypeScript by itself, so tsx loads the entry;
  // tsx is resolved here, from this file, not from wherever the process was started.
  let tsx: string
  try {
    tsx = import.meta.resolve('tsx/esm/api')
  } catch {
    throw new Error(
      "PGlite's worker runs from TypeScript sources here, which needs tsx: install it, or run the built bundle",
    )
  }
  const entry = new URL('./pglite-worker.ts', import.meta.url).href
  const code = `import(${JSON.stringify(tsx)}).then(({ tsImport }) => tsImport(${JSON.stringify(entry)}, ${JSON.stringify(entry)}))`
  return new Worker(code, { ...opts, eval: true })
}
