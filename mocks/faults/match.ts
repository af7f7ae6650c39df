import type { HeaderLookup } from '../core/request-headers.ts'
import type { Match } from './schema.ts'

// Compiles a fault's `match` into a predicate over one request or frame.

export interface MatchTarget {
  kind: 'http' | 'upgrade' | 'frame'
  method: string
  path: string
  /** Client frame type for `frame` targets. */
  frameType?: string
  headers: HeaderLookup
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

/**
 * A path predicate equal to `compilePath(pattern).test`, cheaper when most paths miss: a
 * literal pattern is two string compares, and a pattern with `:param` or `*` first checks the
 * literal prefix before its first dynamic segment. (Per request the engine tests every
 * installed fault: 100 idle faults cost ~18 µs of regex per request; this makes it ~1 µs.)
 */
export function compilePathTest(pattern: string): (path: string) => boolean {
  const re = compilePath(pattern)
  const segments = pattern.replace(/\/+$/, '').split('/')
  const dynamic = segments.findIndex((seg) => seg === '*' || seg.startsWith(':'))
  if (dynamic < 0) {
    const literal = segments.join('/')
    const slashed = `${literal}/`
    return (path) => path === literal || path === slashed
  }
  const prefix = dynamic === 0 ? '' : `${segments.slice(0, dynamic).join('/')}/`
  return (path) => path.startsWith(prefix) && re.test(path)
}

/**
 * The one path a pattern without `:param` or `*` matches, without trailing slashes (it also
 * matches that path plus one `/`, as compilePathTest does); undefined for any other pattern.
 */
export function literalPath(pattern: string | undefined): string | undefined {
  if (pattern === undefined) return undefined
  const segments = pattern.replace(/\/+$/, '').split('/')
  return segments.some((seg) => seg === '*' || seg.startsWith(':')) ? undefined : segments.join('/')
}

export function compileMatch(match: Match | undefined): (t: MatchTarget) => boolean {
  if (!match) return () => true
  const path = match.path ? { test: compilePathTest(match.path) } : undefined
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
