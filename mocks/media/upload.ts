import { createHash } from 'node:crypto'
import type { Readable } from 'node:stream'
import busboy from 'busboy'
import { ALLOWED_TYPES, type AllowedType, normalizeDeclaredType, SNIFF_BYTES, sniffType } from './sniff.ts'
import type { BlobRef, UploadSink } from './storage.ts'

// Streaming multipart upload, read exactly once: busboy parses the body as it arrives, the
// SHA-256 is updated chunk by chunk, the size limit is checked before each chunk is kept (so
// at most `limit` bytes are ever held, whatever Content-Length says or omits), and the first
// bytes are sniffed as soon as they are in. A refusal stops reading at once.
//
// `type` may come before or after the file part. When it comes first, its limit applies while
// streaming; when it comes after, the larger of the two limits applies while streaming and the
// size is checked against the right one when the form ends.

/** Room for the multipart framing and the small fields around the file. */
export const MULTIPART_OVERHEAD = 64 * 1024

export interface UploadLimits {
  file: number
  avatar: number
}

export type UploadKind = 'file' | 'avatar'

export interface ReceivedFile {
  name: string
  contentType: AllowedType
  size: number
  sha256: string
  kind: UploadKind
  blob: BlobRef
}

export type ReceiveResult =
  | { ok: true; file: ReceivedFile; bytesRead: number }
  | {
      ok: false
      status: 400 | 413 | 415 | 500
      message: string
      bytesRead: number
      /** The client went away mid-body. */
      aborted: boolean
    }

export interface ReceiveOptions {
  source: Readable
  contentType: string
  limits: UploadLimits
  createSink(): UploadSink
}

export function limitFor(kind: UploadKind, limits: UploadLimits): number {
  return kind === 'avatar' ? limits.avatar : limits.file
}

function limitName(kind: UploadKind | 'either'): string {
  if (kind === 'avatar') return 'avatar size limit (MAX_AVATAR_SIZE)'
  if (kind === 'file') return 'file size limit (MAX_FILE_SIZE)'
  return 'size limit'
}

/** The largest body that can be valid: anything beyond it is refused without reading further. */
export function maxBodyBytes(limits: UploadLimits): number {
  return Math.max(limits.file, limits.avatar) + MULTIPART_OVERHEAD
}

/** Keeps the last path segment and drops control characters; never empty. */
export function sanitizeFilename(raw: string): string {
  const last = raw.split(/[\\/]/).pop() ?? ''
  // biome-ignore lint/suspicious/noControlCharactersInRegex: stripping control characters is the point
  const clean = last.replace(/[\u0000-\u001f\u007f]/g, '').trim()
  const name = clean === '.' || clean === '..' ? '' : clean
  return name.slice(0, 255) || 'upload'
}

export function receiveUpload(opts: ReceiveOptions): Promise<ReceiveResult> {
  const { source, limits } = opts
  return new Promise((resolve) => {
    let settled = false
    let bytesRead = 0
    let sink: UploadSink | undefined
    let typeField: string | undefined
    let part: { name: string; declared: AllowedType } | undefined
    let namelessFile = false
    let fileEnded = false
    let formEnded = false
    let size = 0
    let head = Buffer.alloc(0)
    let sniffed = false
    const hash = createHash('sha256')
    const cap = maxBodyBytes(limits)

    let bb: busboy.Busboy
    try {
      bb = busboy({
        headers: { 'content-type': opts.contentType },
        // Browsers and undici send UTF-8 filenames raw; busboy's default would read them as latin1.
        defParamCharset: 'utf8',
        limits: { fields: 16, fieldSize: 1024, parts: 32, headerPairs: 32 },
      })
    } catch (err) {
      resolve({
        ok: false,
        status: 400,
        message: `Malformed multipart body: ${(err as Error).message}`,
        bytesRead: 0,
        aborted: false,
      })
      return
    }

    const detach = () => {
      source.off('data', onData)
      source.off('end', onEnd)
      source.off('error', onSourceError)
      source.off('close', onSourceClose)
      // A client that goes away later must not surface as an unhandled stream error.
      source.on('error', () => {})
      // Stop pulling from the socket; whoever answers decides how much more to drain.
      if (!source.readableEnded) source.pause()
      // Late parser events after a refusal must not surface as unhandled errors.
      bb.removeAllListeners()
      bb.on('error', () => {})
      bb.destroy()
    }

    const fail = (status: 400 | 413 | 415 | 500, message: string, aborted = false): void => {
      if (settled) return
      settled = true
      detach()
      const done = () => resolve({ ok: false, status, message, bytesRead, aborted })
      // Resolve only once nothing is left on disk, so the caller's answer means "gone".
      if (sink) sink.abort().then(done, done)
      else done()
    }

    const checkSniff = () => {
      sniffed = true
      if (!part) return
      const got = sniffType(head)
      if (got !== part.declared) {
        fail(
          415,
          got
            ? `The file is declared as ${part.declared} but its content is ${got}`
            : `The file is declared as ${part.declared} but its content is not ${part.declared}`,
        )
      }
    }

    const maybeDone = async () => {
      if (settled || !formEnded || (part && !fileEnded)) return
      if (!part || !sink) {
        fail(
          400,
          namelessFile
            ? 'The "file" part has no filename: send it as a file (Content-Disposition filename)'
            : 'Missing "file" part in the multipart/form-data body',
        )
        return
      }
      const kind: UploadKind = typeField === 'avatar' ? 'avatar' : 'file'
      const limit = limitFor(kind, limits)
      if (size > limit) {
        fail(413, `File is ${size} bytes; the ${limitName(kind)} is ${limit} bytes`)
        return
      }
      settled = true
      detach()
      const current = sink
      try {
        const blob = await current.finish()
        resolve({
          ok: true,
          bytesRead,
          file: { name: part.name, contentType: part.declared, size, sha256: hash.digest('hex'), kind, blob },
        })
      } catch (err) {
        await current.abort().catch(() => undefined)
        resolve({
          ok: false,
          status: 500,
          message: `Could not store the file: ${(err as Error).message}`,
          bytesRead,
          aborted: false,
        })
      }
    }

    bb.on('file', (name, stream, info) => {
      // Destroying the parser on a refusal errors its file streams: none may go unhandled.
      stream.on('error', () => {})
      if (settled || name !== 'file' || part !== undefined || !info.filename) {
        if (name === 'file' && !info.filename) namelessFile = true
        stream.resume() // not ours: let busboy skip it (the body cap still bounds it)
        return
      }
      const declared = normalizeDeclaredType(info.mimeType)
      if (!declared) {
        stream.resume()
        fail(
          415,
          `Content type "${info.mimeType}" is not allowed; allowed types: ${ALLOWED_TYPES.join(', ')}`,
        )
        return
      }
      part = { name: sanitizeFilename(info.filename), declared }
      // Known before the file: its own limit. Not known yet: the larger one, re-checked at the end.
      const kindNow: UploadKind | 'either' =
        typeField === undefined ? 'either' : typeField === 'avatar' ? 'avatar' : 'file'
      const streamLimit =
        kindNow === 'either' ? Math.max(limits.file, limits.avatar) : limitFor(kindNow, limits)
      const out = opts.createSink()
      sink = out
      out.onError((err) => fail(500, `Could not store the file: ${err.message}`))
      stream.on('data', (chunk: Buffer) => {
        if (settled) return
        size += chunk.length
        if (size > streamLimit) {
          fail(413, `File exceeds the ${limitName(kindNow)} of ${streamLimit} bytes`)
          return
        }
        if (!sniffed) {
          head = Buffer.concat([head, chunk.subarray(0, SNIFF_BYTES - head.length)])
          if (head.length >= SNIFF_BYTES) checkSniff()
          if (settled) return
        }
        hash.update(chunk)
        if (!out.write(chunk)) {
          stream.pause()
          out.onDrain(() => {
            if (!settled) stream.resume()
          })
        }
      })
      stream.on('end', () => {
        if (settled) return
        if (size === 0) {
          fail(400, 'The file is empty')
          return
        }
        if (!sniffed) checkSniff()
        fileEnded = true
        void maybeDone()
      })
      stream.on('error', (err) => fail(400, `Malformed multipart body: ${err.message}`))
    })

    bb.on('field', (name, value, info) => {
      // A `file` part without a filename arrives as a plain field (as in Go's FormFile).
      if (name === 'file') namelessFile = true
      if (settled || name !== 'type') return
      if (info.valueTruncated) {
        fail(400, 'The "type" field is too long')
        return
      }
      // The first value wins, as Gin's PostForm reads it.
      typeField ??= value
    })
    bb.on('partsLimit', () => fail(400, 'Too many parts in the multipart body (at most 32)'))
    bb.on('fieldsLimit', () => fail(400, 'Too many fields in the multipart body (at most 16)'))
    bb.on('error', (err) => fail(400, `Malformed multipart body: ${(err as Error).message}`))
    bb.on('close', () => {
      formEnded = true
      void maybeDone()
    })

    const onData = (chunk: Buffer) => {
      if (settled) return
      bytesRead += chunk.length
      if (bytesRead > cap) {
        fail(413, `Request body exceeds ${cap} bytes (the largest upload plus multipart framing)`)
        return
      }
      if (!bb.write(chunk)) {
        source.pause()
        bb.once('drain', () => {
          if (!settled) source.resume()
        })
      }
    }
    const onEnd = () => {
      if (!settled) bb.end()
    }
    const onSourceError = (err: Error) => fail(400, `Upload aborted: ${err.message}`, true)
    const onSourceClose = () => {
      if (!source.readableEnded) fail(400, 'Upload aborted: the client closed the connection', true)
    }
    source.on('data', onData)
    source.on('end', onEnd)
    source.on('error', onSourceError)
    source.on('close', onSourceClose)
    source.resume()
  })
}

/**
 * After refusing an upload mid-body: discard at most `capBytes` more (so a client that sends
 * the rest promptly still reads the answer on a live connection), then stop reading, and cut
 * the connection after `lingerMs` if the client keeps it open.
 */
export function lingerAfterRefusal(
  source: Readable,
  opts: { capBytes: number; lingerMs: number; onDrained?: (bytes: number) => void },
): void {
  if (source.readableEnded || source.destroyed) return
  let drained = 0
  const onData = (chunk: Buffer) => {
    drained += chunk.length
    opts.onDrained?.(drained)
    if (drained > opts.capBytes) source.pause()
  }
  const timer = setTimeout(() => {
    cleanup()
    source.destroy()
  }, opts.lingerMs)
  timer.unref?.()
  const cleanup = () => {
    clearTimeout(timer)
    source.off('data', onData)
    source.off('end', cleanup)
    source.off('close', cleanup)
  }
  source.on('data', onData)
  source.once('end', cleanup)
  source.once('close', cleanup)
  source.resume()
}
