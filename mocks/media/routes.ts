import { randomUUID } from 'node:crypto'
import type { IncomingMessage } from 'node:http'
import { Readable } from 'node:stream'
import type { ReadableStream as NodeReadableStream } from 'node:stream/web'
import type { Context, Hono } from 'hono'
import { createMiddleware } from 'hono/factory'
import { createSessionValidator, type SessionUser } from '../core/auth-client.ts'
import type { CorsOptions } from '../core/cors.ts'
import { plainEnvelope } from '../core/envelope.ts'
import { configOriginMatcher } from '../core/origins.ts'
import type { RoleMap } from '../core/roles.ts'
import type { StateOf } from '../core/state.ts'
import { TENANT_CORS_HEADERS, tenantOf } from '../core/tenant.ts'
import type { FakeDeps } from '../fake/descriptor.ts'
import {
  type ByteRange,
  byteranges,
  contentDisposition,
  ifRangeHolds,
  noneMatch,
  openBlob,
  parseRange,
} from './download.ts'
import { IMAGE_TYPES } from './sniff.ts'
import type { BlobRef } from './storage.ts'
import type { FileRow, MediaState, StoredFile } from './store.ts'
import { ImageDecodeError, makeThumbnail, type Thumbnail } from './thumbnail.ts'
import {
  lingerAfterRefusal,
  MULTIPART_OVERHEAD,
  maxBodyBytes,
  type ReceiveResult,
  receiveUpload,
  type UploadLimits,
} from './upload.ts'

// media-service (Go/Gin) as the matrix describes it. Every route validates the session the
// way the real service does (get-session on AUTH_SERVICE_URL with the forwarded Cookie), and
// every error is the matrix's `{error, code}`.

/** After refusing an upload mid-body, discard at most this much more before pausing the socket. */
export const DRAIN_CAP_BYTES = 1024 * 1024
/** ...and cut a connection whose client keeps sending after this long. */
export const LINGER_MS = 2000

export interface UploadStats {
  /** Uploads whose body is being read or stored right now. */
  inFlight: number
  /** The most recent upload that reached the body reader. */
  last?: { status: number; bytesRead: number; drained: number; aborted: boolean }
}

export interface MediaRouteOptions {
  /** The request's media state (files, bytes, storage); the routes hold none of their own. */
  stateOf: StateOf<MediaState>
  /** The request's tenant's upload bookkeeping (a tenant never sees another's uploads). */
  statsOf: (c: Context) => UploadStats
  fetch?: typeof fetch
  /** Replicated mode: uploads and deletions recorded through the world's log (mocks/media/index.ts). */
  replicate?: MediaReplication
}

export interface MediaReplication {
  /** Records an upload whose bytes are already committed (on every replica, in log order). */
  add(c: Context, state: MediaState, row: FileRow, blob: BlobRef, thumb: Thumbnail | null): Promise<void>
  remove(c: Context, state: MediaState, id: string): Promise<void>
}

type Env = { Variables: { user: SessionUser } }
type ErrorStatus = 400 | 401 | 403 | 404 | 413 | 415 | 416 | 500 | 503

function fail(c: Context, status: ErrorStatus, message: string, code = plainEnvelope.code(status)) {
  return c.json(plainEnvelope.body(message, code), status)
}

/** The Node request behind this Hono request, when served by @hono/node-server and unread. */
function nodeIncoming(c: Context): IncomingMessage | undefined {
  const incoming = (c.env as { incoming?: IncomingMessage } | undefined)?.incoming
  if (!incoming || typeof incoming.pipe !== 'function' || incoming.readableDidRead) return undefined
  return incoming
}

function bodySource(c: Context): Readable {
  const incoming = nodeIncoming(c)
  if (incoming) return incoming
  const body = c.req.raw.body
  return body ? Readable.fromWeb(body as unknown as NodeReadableStream<Uint8Array>) : Readable.from([])
}

export function effectiveLimits(state: MediaState, deps: FakeDeps): UploadLimits {
  return {
    file: state.limits.maxFileSize ?? deps.config.maxFileSize,
    avatar: state.limits.maxAvatarSize ?? deps.config.maxAvatarSize,
  }
}

/**
 * Browsers calling media directly (the demo, <video> on another origin) send credentials.
 * Requests without an Origin (the family-hub proxy, curl) get no CORS headers at all.
 * Installed in front of the fault engine (index.ts), as a Gin CORS middleware sits first in
 * the chain: an injected 500 or 503 still carries these headers, so a browser reads its status.
 */
export function mediaCors(deps: FakeDeps): CorsOptions {
  return {
    origin: configOriginMatcher(deps.config, deps.logger, 'media (CORS)'),
    prefix: '/api/',
    allowMethods: ['GET', 'HEAD', 'POST', 'DELETE', 'OPTIONS'],
    allowHeaders: [
      'Content-Type',
      'Range',
      'If-None-Match',
      'If-Range',
      'X-Request-ID',
      'traceparent',
      ...TENANT_CORS_HEADERS,
    ],
    exposeHeaders: [
      'Content-Length',
      'Content-Range',
      'Accept-Ranges',
      'ETag',
      'Content-Disposition',
      'Location',
    ],
  }
}

export function registerMediaRoutes(app: Hono, deps: FakeDeps, opts: MediaRouteOptions): void {
  const validate = createSessionValidator({
    authServiceUrl: () => deps.config.authServiceUrl,
    timeoutMs: deps.config.authTimeoutMs,
    logger: deps.logger,
    loopback: deps.loopback,
    ...(opts.fetch ? { fetch: opts.fetch } : {}),
  })
  // better-auth role name -> role: the state's scenario map over MOCKS_AUTH_ROLE_MAP's.
  const roleMaps = new WeakMap<MediaState, RoleMap>()
  const roleMapOf = (state: MediaState): RoleMap => {
    let map = roleMaps.get(state)
    if (!map) {
      map = { ...deps.config.authRoleMap, ...state.scenario.auth.roleMap }
      roleMaps.set(state, map)
    }
    return map
  }
  // BASE_URL is read per request: with ephemeral ports it is settled after construction.
  const base = () => deps.config.mediaBaseUrl
  const downloadUrl = (id: string) => `${base()}/api/v1/files/${encodeURIComponent(id)}/download`
  const urls = (row: FileRow, hasThumb: boolean) => ({
    url: downloadUrl(row.id),
    thumbnail_url: hasThumb ? `${downloadUrl(row.id)}?thumb=1` : '',
  })

  // Per route, as a Gin group middleware is: unknown paths stay 404 even without a session.
  const requireSession = createMiddleware<Env>(async (c, next) => {
    const result = await validate(
      c.req.header('cookie'),
      c.req.header('x-request-id'),
      roleMapOf(opts.stateOf(c)),
      tenantOf(c),
    )
    // A tenant deleted while get-session ran: `stateOf` throws its 404 (not a 503 for the cut call).
    opts.stateOf(c)
    if (result.kind === 'unavailable') {
      return fail(c, 503, `Authentication service unavailable: ${result.reason}`, 'auth_unavailable')
    }
    if (result.kind === 'unauthenticated') {
      return fail(c, 401, 'Authentication required: no valid better-auth session in the Cookie header')
    }
    c.set('user', result.user)
    await next()
  })

  const findFile = (c: Context): StoredFile | undefined => opts.stateOf(c).get(c.req.param('id') ?? '')
  const notFound = (c: Context) => fail(c, 404, `File "${c.req.param('id')}" not found`)

  // ---- upload ----

  app.post('/api/v1/upload', requireSession, async (c) => {
    const user = c.get('user')
    // Refused before a byte of the body is read.
    if (user.role === 'child') return fail(c, 403, "Role 'child' cannot upload files")
    const state = opts.stateOf(c)
    const { storage } = state
    const limits = effectiveLimits(state, deps)
    const incoming = nodeIncoming(c)
    const stats = opts.statsOf(c)
    const last = { status: 0, bytesRead: 0, drained: 0, aborted: false }
    stats.last = last
    const linger = (source: Readable) =>
      lingerAfterRefusal(source, {
        capBytes: DRAIN_CAP_BYTES,
        lingerMs: LINGER_MS,
        onDrained: (bytes) => {
          last.drained = bytes
        },
      })
    const refuseUnread = (status: 400 | 413, message: string) => {
      last.status = status
      if (incoming) linger(incoming)
      return fail(c, status, message)
    }
    const contentType = c.req.header('content-type') ?? ''
    if (!/^multipart\/form-data\s*;/i.test(contentType) && !/^multipart\/form-data$/i.test(contentType)) {
      return refuseUnread(
        400,
        `Expected a multipart/form-data body, got "${contentType || 'no Content-Type'}"`,
      )
    }
    // A shortcut only: chunked bodies have no Content-Length and are cut while streaming.
    const declaredLength = Number(c.req.header('content-length'))
    if (Number.isFinite(declaredLength) && declaredLength > maxBodyBytes(limits)) {
      return refuseUnread(
        413,
        `Request body is ${declaredLength} bytes; the largest accepted is ${Math.max(limits.file, limits.avatar)} bytes plus ${MULTIPART_OVERHEAD} bytes of multipart framing`,
      )
    }

    const source = incoming ?? bodySource(c)
    stats.inFlight++
    let result: ReceiveResult
    try {
      result = await receiveUpload({ source, contentType, limits, createSink: storage.createSink })
      last.bytesRead = result.bytesRead
      if (!result.ok) {
        last.status = result.status
        last.aborted = result.aborted
        if (!result.aborted) linger(source)
        if (result.status === 500) deps.logger.error({ reason: result.message }, 'upload failed')
        return fail(c, result.status, result.message)
      }
      const file = result.file
      let thumb: Thumbnail | null = null
      if (IMAGE_TYPES.has(file.contentType)) {
        try {
          thumb = await makeThumbnail(file.blob.kind === 'memory' ? file.blob.bytes : file.blob.path)
        } catch (err) {
          await storage.discard(file.blob)
          if (!(err instanceof ImageDecodeError)) throw err
          last.status = 415
          return fail(c, 415, `The file is not a decodable ${file.contentType} image: ${err.message}`)
        }
      }
      const id = randomUUID()
      let blob = file.blob
      try {
        blob = await storage.commit(file.blob, id)
      } catch (err) {
        await storage.discard(file.blob)
        throw err
      }
      const row: FileRow = {
        id,
        name: file.name,
        content_type: file.contentType,
        size_bytes: file.size,
        sha256: file.sha256,
        owner_id: user.id,
        created_at: new Date().toISOString(),
        origin: 'upload',
      }
      if (opts.replicate) await opts.replicate.add(c, state, row, blob, thumb)
      else await state.add(row, blob, thumb)
      last.status = 201
      deps.logger.debug({ id, size: file.size, type: file.contentType, kind: file.kind }, 'file uploaded')
      const { url, thumbnail_url } = urls(row, thumb !== null)
      c.header('location', `${base()}/api/v1/files/${encodeURIComponent(id)}`)
      return c.json({ id, url, thumbnail_url, sha256: file.sha256, size_bytes: file.size }, 201)
    } finally {
      stats.inFlight--
    }
  })

  // ---- metadata ----

  app.get('/api/v1/files/:id', requireSession, (c) => {
    const file = findFile(c)
    if (!file) return notFound(c)
    const { row } = file
    return c.json({
      id: row.id,
      name: row.name,
      content_type: row.content_type,
      size_bytes: row.size_bytes,
      sha256: row.sha256,
      owner_id: row.owner_id,
      created_at: row.created_at,
      ...urls(row, file.thumb !== null),
    })
  })

  // ---- download ----

  app.get('/api/v1/files/:id/download', requireSession, async (c) => {
    const file = findFile(c)
    if (!file) return notFound(c)
    const thumbParam = c.req.query('thumb')
    const wantThumb = thumbParam === '1' || thumbParam === 'true'
    if (wantThumb && !file.thumb) {
      return fail(c, 404, `File "${file.row.id}" (${file.row.content_type}) has no thumbnail`)
    }
    const served = wantThumb && file.thumb ? thumbView(file.row, file.thumb) : originalView(file)
    const headers: Record<string, string> = {
      etag: served.etag,
      'accept-ranges': 'bytes',
      'cache-control': 'private, no-cache',
      'x-content-type-options': 'nosniff',
    }
    if (noneMatch(c.req.header('if-none-match'), served.etag)) return c.body(null, 304, headers)
    headers['content-disposition'] = contentDisposition('inline', served.name)

    const rangeHeader = ifRangeHolds(c.req.header('if-range'), served.etag)
      ? c.req.header('range')
      : undefined
    const range = parseRange(rangeHeader, served.size)
    if (range.kind === 'unsatisfiable') {
      c.header('content-range', `bytes */${served.size}`)
      for (const [k, v] of Object.entries(headers)) c.header(k, v)
      return fail(c, 416, `Range not satisfiable: ${range.reason}`, 'range_not_satisfiable')
    }

    const opened = await openBlob(served.blob)
    if (!opened) return notFound(c) // deleted between lookup and open
    const head = c.req.method === 'HEAD'
    const send = async (status: 200 | 206, r: ByteRange, contentType: string, extra = {}) => {
      const all = {
        ...headers,
        ...extra,
        'content-type': contentType,
        'content-length': String(r.end - r.start + 1),
      }
      if (head || served.size === 0) {
        await opened.close()
        return c.body(null, status, all)
      }
      return c.body(opened.stream(r) as Uint8Array<ArrayBuffer>, status, all)
    }
    if (range.kind === 'full') return send(200, { start: 0, end: served.size - 1 }, served.contentType)
    const [only] = range.ranges
    if (range.ranges.length === 1 && only) {
      return send(206, only, served.contentType, {
        'content-range': `bytes ${only.start}-${only.end}/${served.size}`,
      })
    }
    try {
      const multi = await byteranges(opened, range.ranges, served.size, served.contentType)
      const all = {
        ...headers,
        'content-type': multi.contentType,
        'content-length': String(multi.body.length),
      }
      if (head) return c.body(null, 206, all)
      return c.body(multi.body as Uint8Array<ArrayBuffer>, 206, all)
    } finally {
      await opened.close()
    }
  })

  // ---- delete ----

  app.delete('/api/v1/files/:id', requireSession, async (c) => {
    const user = c.get('user')
    const state = opts.stateOf(c)
    const file = state.get(c.req.param('id'))
    if (!file) return notFound(c)
    if (file.row.owner_id !== user.id && user.role !== 'admin') {
      return fail(c, 403, 'Only the owner of a file or an admin can delete it')
    }
    if (opts.replicate) await opts.replicate.remove(c, state, file.row.id)
    else await state.remove(file.row.id)
    return c.body(null, 204)
  })
}

interface ServedView {
  blob: StoredFile['blob']
  size: number
  contentType: string
  etag: string
  name: string
}

function originalView(file: StoredFile): ServedView {
  return {
    blob: file.blob,
    size: file.row.size_bytes,
    contentType: file.row.content_type,
    etag: `"${file.row.sha256}"`,
    name: file.row.name,
  }
}

function thumbView(row: FileRow, thumb: Thumbnail): ServedView {
  const stem = row.name.replace(/\.[^.]*$/, '') || row.name
  return {
    blob: { kind: 'memory', bytes: thumb.bytes },
    size: thumb.bytes.length,
    contentType: thumb.contentType,
    etag: `"${thumb.sha256}"`,
    name: `${stem}.thumb.webp`,
  }
}
