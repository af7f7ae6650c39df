// Uploads as the matrix's "media-service Unavailable" row asks: a 30 s timeout, and a message
// that says which service failed and why, instead of a generic "Failed to upload file".
// Uploads are never retried automatically (not idempotent): the user gets a Retry button.

import { call, describeOutcome, formatSeconds } from './http.js'

export const UPLOAD_TIMEOUT_MS = 30_000
export const ALLOWED_TYPES = ['JPEG', 'PNG', 'GIF', 'WebP', 'PDF', 'MP4', 'WebM']

/** 10485760 → "10 MB", 102400 → "100 KB" (binary units, as MAX_FILE_SIZE counts them). */
export function formatBytes(n) {
  if (n >= 1024 * 1024) return `${Number((n / (1024 * 1024)).toFixed(1))} MB`
  if (n >= 1024) return `${Number((n / 1024).toFixed(1))} KB`
  return `${n} bytes`
}

/**
 * @param {{ mediaUrl: string, file: File, type: 'file' | 'avatar', timeoutMs?: number }} opts
 * @returns {Promise<import('./http.js').Outcome>}
 */
export function upload(opts) {
  const form = new FormData()
  form.append('file', opts.file)
  form.append('type', opts.type)
  return call(`${opts.mediaUrl}/api/v1/upload`, {
    method: 'POST',
    body: form,
    credentials: 'include',
    timeoutMs: opts.timeoutMs ?? UPLOAD_TIMEOUT_MS,
  })
}

/**
 * What to tell the user about a failed upload, and whether a retry can help.
 * @param {import('./http.js').Outcome} o
 * @param {{ limits: { maxFileSize: number, maxAvatarSize: number }, type: 'file' | 'avatar' }} ctx
 * @returns {{ message: string, retriable: boolean }}
 */
export function describeUploadFailure(o, ctx) {
  if (o.kind === 'timeout')
    return { message: `upload timed out after ${formatSeconds(o.timeoutMs)}`, retriable: true }
  if (o.kind === 'network')
    return { message: 'media-service unavailable (could not connect)', retriable: true }
  if (o.kind === 'aborted') return { message: 'upload cancelled', retriable: true }
  if (o.kind !== 'http') return { message: 'upload failed', retriable: true }
  const limit = ctx.type === 'avatar' ? ctx.limits.maxAvatarSize : ctx.limits.maxFileSize
  switch (o.status) {
    case 413:
      return { message: `file too large (max ${formatBytes(limit)})`, retriable: false }
    case 415:
      return { message: `type not allowed (allowed: ${ALLOWED_TYPES.join(', ')})`, retriable: false }
    case 401:
      return { message: 'not signed in: sign in again to upload', retriable: false }
    case 403:
      return { message: `you may not upload files${o.message ? ` (${o.message})` : ''}`, retriable: false }
    case 400:
      return { message: `upload rejected: ${o.message || 'bad request'}`, retriable: false }
  }
  if (o.status === 503 && o.code === 'auth_unavailable')
    return {
      message: 'media-service unavailable: it cannot check your session (auth_unavailable)',
      retriable: true,
    }
  if (o.status >= 500)
    return {
      message: `media-service ${o.status === 500 ? 'error' : 'unavailable'} (${describeOutcome(o)})`,
      retriable: true,
    }
  return { message: `upload failed (${describeOutcome(o)})`, retriable: true }
}
