import http from 'node:http'
import { MULTIPART_OVERHEAD } from '../mocks/media/upload.ts'
import { type Benchmark, cookieOf, type MocksInfo, userById } from './context.ts'
import { request, sleep } from './net.ts'
import type { Figure } from './report.ts'
import { startHost } from './rpc.ts'
import { max, median, pairedRatio, round } from './stats.ts'

// 5. Uploads: peak memory growth of the server process during a 10 MB upload, and how much
// of an oversized chunked upload is read before the 413. Each round runs in fresh child
// processes (auth + media; the baseline), so earlier rounds' heap never hides growth. Memory
// is sampled every 1 ms inside the server process after two forced GCs; the client is here.

const BOUNDARY = '----devarno-bench-boundary-5b2c9e'
const MB = 1024 * 1024

const partHead = (filename: string) =>
  Buffer.from(
    `--${BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="${filename}"\r\nContent-Type: application/pdf\r\n\r\n`,
  )
const tail = Buffer.from(`\r\n--${BOUNDARY}--\r\n`)

/** A multipart body holding one PDF (by its magic number) of `size` bytes. */
export function pdfUpload(size: number): Buffer {
  const file = Buffer.alloc(size, 0x41)
  file.write('%PDF-1.4\n')
  return Buffer.concat([partHead('bench.pdf'), file, tail])
}

const contentType = `multipart/form-data; boundary=${BOUNDARY}`

/**
 * Streams a chunked upload (no Content-Length) of `total` file bytes until the server answers.
 * On a keep-alive connection, as browsers and undici send it: with `Connection: close` Node's
 * server closes the socket right after the 413 and the client, still writing, may see EPIPE
 * before it reads the answer.
 */
function streamUpload(
  url: string,
  cookie: string,
  total: number,
): Promise<{ status: number; written: number }> {
  const agent = new http.Agent({ keepAlive: true })
  return new Promise<{ status: number; written: number }>((resolve, reject) => {
    const req = http.request(url, {
      method: 'POST',
      agent,
      headers: { cookie, 'content-type': contentType },
    })
    let answered = false
    let written = 0
    req.on('response', (res) => {
      answered = true
      res.resume()
      res.on('end', () => {
        resolve({ status: res.statusCode ?? 0, written })
        req.destroy()
      })
    })
    req.on('error', (err) => {
      if (!answered)
        reject(new Error(`${url}: ${err.message} after writing ${written} bytes, before any answer`))
    })
    req.write(Buffer.concat([partHead('big.pdf'), Buffer.from('%PDF-1.4\n')]))
    const chunk = Buffer.alloc(64 * 1024, 0x41)
    const pump = () => {
      while (!answered && written < total) {
        written += chunk.length
        if (!req.write(chunk)) {
          req.once('drain', pump)
          return
        }
      }
      if (!answered) req.end(tail)
    }
    pump()
  }).finally(() => agent.destroy())
}

interface Memory {
  rss: number
  allocated: number
}

interface Round {
  candidate: Memory
  baseline: Memory
  oversize: Memory
  baselineOversize: Memory
  read: number
  readAndDrained: number
  written: number
  baselineRead: number
}

type MediaUploads = { inFlight: number; last?: { status: number; bytesRead: number; drained: number } }

export const uploadBenchmark: Benchmark = {
  id: 'upload',
  ownProcesses: (opts) => opts.upload.freshProcesses,
  async run(ctx) {
    const { rounds: n, oversizeBytes, freshProcesses } = ctx.opts.upload
    const rounds: Round[] = []
    let limit = 0
    for (let i = 0; i < n; i++) {
      ctx.log(`upload: round ${i + 1}`)
      const [mocks, bare] = freshProcesses
        ? await Promise.all([startHost('mocks', { services: ['auth', 'media'] }), startHost('baseline')])
        : [ctx.mocks, ctx.baseline]
      // Shared hosts: drop earlier uploads so the file of this round is the only one held.
      if (!freshProcesses) await mocks.call('reset')
      try {
        const info = await mocks.call<MocksInfo>('info')
        limit = info.maxFileSize
        const cookie = cookieOf(userById(info, 'usr_member'))
        const media = `${info.urls.media}/api/v1/upload`
        const sink = `${await bare.call<string>('upload:start', limit + MULTIPART_OVERHEAD)}/api/v1/upload`
        const headers = { cookie, 'content-type': contentType }
        const post = async (url: string, body: Buffer) => {
          const res = await request(url, { method: 'POST', headers, body })
          if (res.status !== 201) throw new Error(`${url}: ${res.status} ${res.body.toString()}`)
        }
        // Warm both code paths with a small upload, so the measure is the file, not first-use.
        await post(media, pdfUpload(64 * 1024))
        await post(sink, pdfUpload(64 * 1024))
        const body = pdfUpload(limit)
        const measured = async (host: typeof mocks, run: () => Promise<unknown>) => {
          await host.call('memory:start')
          await run()
          await sleep(20)
          return host.call<Memory>('memory:stop')
        }
        const candidate = await measured(mocks, () => post(media, body))
        const baseline = await measured(bare, () => post(sink, body))

        let over = { status: 0, written: 0 }
        const oversize = await measured(mocks, async () => {
          over = await streamUpload(media, cookie, oversizeBytes)
        })
        if (over.status !== 413) throw new Error(`oversized upload answered ${over.status}, not 413`)
        let uploads: MediaUploads | undefined
        for (let t = 0; t < 300; t++) {
          uploads = await mocks.call<MediaUploads>('media:uploads')
          if (uploads.inFlight === 0) break
          await sleep(10)
        }
        // The refused body is drained (at most 1 MiB) while the connection lingers: let it settle.
        await sleep(100)
        uploads = await mocks.call<MediaUploads>('media:uploads')
        const last = uploads.last
        if (last?.status !== 413)
          throw new Error(`media reports ${JSON.stringify(last)} for the oversized upload`)

        let bareOver = { status: 0, written: 0 }
        const baselineOversize = await measured(bare, async () => {
          bareOver = await streamUpload(sink, cookie, oversizeBytes)
        })
        if (bareOver.status !== 413)
          throw new Error(`baseline answered ${bareOver.status} to the oversized upload`)
        const sinkLast = await bare.call<{ last?: { bytesRead: number } }>('upload:last')
        rounds.push({
          candidate,
          baseline,
          oversize,
          baselineOversize,
          read: last.bytesRead,
          readAndDrained: last.bytesRead + last.drained,
          written: over.written,
          baselineRead: sinkLast.last?.bytesRead ?? Number.NaN,
        })
      } finally {
        if (freshProcesses) await Promise.all([mocks.close(), bare.close()])
      }
    }
    const mb = (v: number) => v / MB
    const fig = (
      name: string,
      unit: string,
      c: (r: Round) => number,
      b?: (r: Round) => number,
      note?: string,
    ): Figure => {
      const cm = median(rounds.map(c))
      const bm = b ? median(rounds.map(b)) : undefined
      return {
        name,
        unit,
        candidate: cm,
        ...(bm === undefined || !b ? {} : { baseline: bm, ratio: pairedRatio(rounds.map(c), rounds.map(b)) }),
        rounds: { candidate: rounds.map(c), ...(b ? { baseline: rounds.map(b) } : {}) },
        ...(note ? { note } : {}),
      }
    }
    const growth = median(rounds.map((r) => r.candidate.rss))
    const worstRead = max(rounds.map((r) => r.read))
    return {
      id: 'upload',
      title: 'Uploads',
      method: [
        `\`POST /api/v1/upload\` as usr_member, a multipart body with one PDF of ${limit} bytes (MAX_FILE_SIZE, exactly`,
        'the limit: accepted), sent with Content-Length. Peak growth = highest value sampled every 1 ms in the',
        'server process during the upload, minus the value after two forced GCs just before it (after a 64 KiB',
        'warm-up upload); RSS (what the OS gave) and allocated (V8 heap used + external buffers; RSS can stay flat',
        'when an allocation reuses pages freed earlier). The fake keeps the file in memory (no STORAGE_PATH), so',
        '~10 MiB of growth is the file itself.',
        `Oversized: ${mb(oversizeBytes)} MiB streamed chunked (no Content-Length) in 64 KiB writes until the answer;`,
        "bytes read = the media fake's own count (`inspect().uploads.last.bytesRead`) when it decided, plus what it",
        `drained afterwards. Baseline: a bare node:http server that keeps the body in memory, or answers 413 once more than`,
        `MAX_FILE_SIZE + ${MULTIPART_OVERHEAD} B (the fake's multipart allowance) have arrived and discards the rest.`,
        'Both oversized uploads use a keep-alive connection, as browsers and undici do.',
        freshProcesses
          ? `${n} rounds, each in fresh processes (auth + media; the baseline).`
          : `${n} rounds in the long-lived processes (every fake; the baseline), reset between rounds.`,
      ].join(' '),
      figures: [
        fig(
          '10 MB upload, peak RSS growth',
          'MiB',
          (r) => mb(r.candidate.rss),
          (r) => mb(r.baseline.rss),
        ),
        fig(
          '10 MB upload, peak allocated growth (heap used + external)',
          'MiB',
          (r) => mb(r.candidate.allocated),
          (r) => mb(r.baseline.allocated),
        ),
        fig(
          `${mb(oversizeBytes)} MiB chunked upload, peak RSS growth`,
          'MiB',
          (r) => mb(r.oversize.rss),
          (r) => mb(r.baselineOversize.rss),
        ),
        fig(
          `${mb(oversizeBytes)} MiB chunked upload, peak allocated growth`,
          'MiB',
          (r) => mb(r.oversize.allocated),
          (r) => mb(r.baselineOversize.allocated),
        ),
        fig(
          'oversized: body bytes read when 413 was decided',
          'MiB',
          (r) => mb(r.read),
          (r) => mb(r.baselineRead),
        ),
        fig(
          'oversized: bytes read + drained after the 413',
          'MiB',
          (r) => mb(r.readAndDrained),
          undefined,
          'fake only',
        ),
        fig(
          'oversized: bytes the client managed to write',
          'MiB',
          (r) => mb(r.written),
          undefined,
          'fake only',
        ),
      ],
      targets: [
        {
          id: 'upload-rss',
          text: 'a 10 MB upload adds < 30 MB RSS',
          observed: `median peak growth ${round(mb(growth), 1)} MiB`,
          met: growth < 30 * MB,
        },
        {
          id: 'upload-oversize',
          text: 'an oversized upload is answered 413 after reading at most limit + 1 MB',
          observed: `at most ${round(mb(worstRead), 2)} MiB read (limit ${round(mb(limit), 2)} MiB + ${round(mb(worstRead - limit), 3)} MiB)`,
          met: worstRead <= limit + MB,
        },
      ],
      notes: [],
    }
  },
}
