import { parentPort, workerData } from 'node:worker_threads'
import type { PGlite } from '@electric-sql/pglite'
import { openPglite } from './pglite-open.ts'

// The worker thread that runs PGlite (pglite-thread.ts starts it): PGlite's start, seeds and
// queries are synchronous WASM work that would otherwise stop every fake's event loop. Requests
// run one at a time, in order; after `close` the port is closed and the thread ends by itself.

export type PgliteRequest =
  | { id: number; op: 'raw'; bytes: Uint8Array }
  | { id: number; op: 'exec'; sql: string }
  | { id: number; op: 'close' }

export type PgliteReply =
  | { id: number; ok: true; value?: unknown }
  | { id: number; ok: false; error: { name: string; message: string; props: Record<string, unknown> } }

export interface PgliteWorkerData {
  dataDir: string | undefined
}

const port = parentPort
if (!port) throw new Error('pglite-worker.ts runs as a worker thread')

const { dataDir } = workerData as PgliteWorkerData
const opening = openPglite(dataDir)
// Every request, the first included, waits for the previous one (and so for PGlite's start).
let queue: Promise<unknown> = opening
opening.then(
  () => port.postMessage({ id: 0, ok: true } satisfies PgliteReply),
  (err: unknown) => port.postMessage({ id: 0, ok: false, error: serialise(err) } satisfies PgliteReply),
)

port.on('message', (req: PgliteRequest) => {
  queue = queue
    .catch(() => undefined)
    .then(async () => {
      try {
        const db = await opening
        const [value, transfer] = await run(db, req)
        port.postMessage({ id: req.id, ok: true, value } satisfies PgliteReply, transfer)
      } catch (err) {
        port.postMessage({ id: req.id, ok: false, error: serialise(err) } satisfies PgliteReply)
      }
      // No further message is read: the thread's loop empties and the thread ends.
      if (req.op === 'close') port.close()
    })
})

async function run(db: PGlite, req: PgliteRequest): Promise<[unknown, ArrayBuffer[]]> {
  switch (req.op) {
    case 'raw': {
      // onRawData gets views of PGlite's own buffers: each copied once, and handed over as is.
      const chunks: Uint8Array[] = []
      await db.execProtocolRawStream(req.bytes, {
        onRawData: (data) => {
          chunks.push(new Uint8Array(data))
        },
      })
      return [chunks, chunks.map((c) => c.buffer as ArrayBuffer)]
    }
    case 'exec':
      await db.exec(req.sql)
      return [undefined, []]
    case 'close':
      await db.close()
      return [undefined, []]
  }
}

function serialise(err: unknown): { name: string; message: string; props: Record<string, unknown> } {
  const e = err instanceof Error ? err : new Error(String(err))
  // Postgres' fields (code, detail, position...) travel with the message.
  const props: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(e)) if (v === null || typeof v !== 'object') props[k] = v
  return { name: e.name, message: e.message, props }
}
