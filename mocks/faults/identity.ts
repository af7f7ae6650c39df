import type { HeaderLookup } from '../core/request-headers.ts'

// Who a request is, for faults scoped to a user or session (`match.user`, `match.session`).
// The host says which session a request carries (`identify`: cookie format and signature are
// its business); the directory maps session tokens to users, fed by the scenario's seeded
// sessions and by auth as sessions come and go.

export interface Identity {
  userId: string
  email: string
}

export interface IdentifyRequest {
  headers: HeaderLookup
  /** The query string as URL#search gives it. */
  search: string
  /** A WebSocket handshake (which may carry its session in the query). */
  upgrade: boolean
}

/** The raw session token a request carries (signature checked), or undefined. */
export type Identify = (req: IdentifyRequest) => string | undefined

export class SessionDirectory {
  private readonly byToken = new Map<string, Identity>()

  set(entries: Iterable<[token: string, identity: Identity]>): void {
    this.byToken.clear()
    for (const [token, identity] of entries) this.byToken.set(token, identity)
  }

  register(token: string, identity: Identity): void {
    this.byToken.set(token, identity)
  }

  forget(token: string): void {
    this.byToken.delete(token)
  }

  tokens(): IterableIterator<string> {
    return this.byToken.keys()
  }

  get(token: string): Identity | undefined {
    return this.byToken.get(token)
  }
}
