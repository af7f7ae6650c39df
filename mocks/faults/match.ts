import type { Match } from './schema.ts'

// Compiles a fault's `match` into a predicate over one request or frame.

export interface MatchTarget {
  kind: 'http' | 'upgrade' | 'frame'
  method: string
  path: string
  /** Client frame type for `frame` targets. */
  frameType?: string
  headers: Headers
  userId?: string
  userEmail?: string
  sessionToken?: string
}

/** `/api/v1/files/:id`, `/trace/*`, `/api/v1/*` — as route patterns read. */
export function compilePath(pattern: string): RegExp {
  const body = pattern
    .replace(/\/+$/, '')
    .split('/')
    .map((seg) => {
      if (seg === '*') return '.*'
      if (seg.startsWith(':')) return '[^/]+'
      return seg.replace(/[.+?^${}()|[\]\\*]/g, '\\$&')
    })
    .join('/')
  return new RegExp(`^${body}/?$`)
}

export function compileMatch(match: Match | undefined): (t: MatchTarget) => boolean {
  if (!match) return () => true
  const path = match.path ? compilePath(match.path) : undefined
  const headers = match.header
    ? Object.entries(match.header).map(([k, v]) => [k.toLowerCase(), v] as const)
    : []
  const user = match.user?.toLowerCase()
  return (t) => {
    if (match.ws !== undefined) {
      // `upgrade` is the handshake; `message` is any client frame; another word is a frame type.
      if (match.ws === 'upgrade') {
        if (t.kind !== 'upgrade') return false
      } else if (t.kind !== 'frame' || (match.ws !== 'message' && match.ws !== t.frameType)) {
        return false
      }
    } else if (t.kind === 'frame') {
      return false
    }
    if (match.method && t.kind !== 'frame' && t.method !== match.method) return false
    if (path && !path.test(t.path)) return false
    if (user && t.userId?.toLowerCase() !== user && t.userEmail?.toLowerCase() !== user) return false
    if (match.session && t.sessionToken !== match.session) return false
    for (const [name, want] of headers) {
      const got = t.headers.get(name)
      if (got === null || (want !== '*' && got !== want)) return false
    }
    return true
  }
}
