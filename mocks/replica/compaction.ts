import { DEFAULT_TENANT } from '../core/tenant.ts'

// What a snapshot of the replicated world holds (README "Replicas"): the log's entries the
// world still needs, in log order, each with its own id. A late replica applies them through
// the same handlers as the log (so every id, epoch and counter key derived from an entry's id
// comes out the same), then reads the stream after the entry the snapshot covers.
//
// An entry is kept while it has a role left; a later entry of the same tenant takes a role
// away from earlier ones:
// - exists:   a tenant's creation, until the tenant is deleted (its every entry goes then);
// - scenario: the latest scenario switch or creation (a reset re-applies it);
// - boundary: the latest switch, reset or creation (the fakes' states start there: media's
//             epoch, fault counter keys and the chat message count follow from its id);
// - journal:  the latest reset, journal clear or creation (the merged journal's epoch);
// - world:    what changed the state since (messages, presence, sessions, files, faults, and
//             refused switches that put the old scenario back): gone at the next boundary,
//             since a switch or reset replaces the whole state. A refusal that touched nothing
//             (core/replication.ts `untouched`) is not kept.
// Typing is never kept, nor an entry of a tenant deleted before it (late: raced against the
// deletion). A kind this file does not know is kept for ever (safe: applied again, it does
// what it did).

export interface LogEntry {
  id: string
  kind: string
  origin: string
  nonce: string
  /** The payload as the stream holds it (JSON). */
  payload: string
}

type Role = 'exists' | 'scenario' | 'boundary' | 'journal' | 'world' | 'forever'

interface Kept extends LogEntry {
  tenant: string | undefined
  roles: Set<Role>
}

/** Kinds that change a tenant's state until its next switch or reset. */
const WORLD = new Set([
  'chat.message',
  'chat.presence',
  'auth.session',
  'auth.signout',
  'media.file.add',
  'media.file.remove',
  'mocks.fault.add',
  'mocks.fault.remove',
])
/** Kinds no later replica needs. */
const TRANSIENT = new Set(['chat.typing'])

export class Compactor {
  private kept: Kept[] = []
  /** Tenants deleted (and not created again since). */
  private readonly dead = new Set<string>()

  /**
   * An applied entry (`ok`: its handler did not refuse it here) and its parsed payload;
   * `untouched`: refused before it changed anything (never kept: replayed from a snapshot without
   * what refused it, it could succeed).
   */
  note(entry: LogEntry, payload: unknown, ok: boolean, untouched = false): void {
    const { kind } = entry
    if (TRANSIENT.has(kind) || (!ok && untouched)) return
    const p = (payload ?? {}) as { tenant?: unknown; id?: unknown }
    const named = kind === 'mocks.tenant.create' || kind === 'mocks.tenant.delete' ? p.id : p.tenant
    const tenant = typeof named === 'string' ? named : undefined
    // A late entry of a deleted tenant (raced against its deletion, applied all the same).
    if (tenant !== undefined && kind !== 'mocks.tenant.create' && this.dead.has(tenant)) return
    const keep = (...roles: Role[]): void => {
      this.kept.push({ ...entry, tenant, roles: new Set(roles) })
    }
    switch (kind) {
      case 'mocks.tenant.create':
        if (ok && tenant !== undefined) this.dead.delete(tenant)
        if (ok) keep('exists', 'scenario', 'boundary', 'journal')
        break
      case 'mocks.tenant.delete':
        if (ok && tenant !== DEFAULT_TENANT) {
          this.kept = this.kept.filter((k) => k.tenant !== tenant)
          if (tenant !== undefined) this.dead.add(tenant)
        }
        break
      case 'mocks.scenario':
        if (ok) this.supersede(tenant, ['scenario', 'boundary', 'world'])
        if (ok) keep('scenario', 'boundary')
        else keep('world')
        break
      case 'mocks.reset':
        if (ok) this.supersede(tenant, ['boundary', 'journal', 'world'])
        if (ok) keep('boundary', 'journal')
        else keep('world')
        break
      case 'mocks.journal.clear':
        if (ok) this.supersede(tenant, ['journal'])
        if (ok) keep('journal')
        break
      default:
        keep(WORLD.has(kind) ? 'world' : 'forever')
    }
  }

  private supersede(tenant: string | undefined, roles: readonly Role[]): void {
    this.kept = this.kept.filter((k) => {
      if (k.tenant !== tenant) return true
      for (const r of roles) k.roles.delete(r)
      return k.roles.size > 0
    })
  }

  /** The entries kept, oldest first. */
  entries(): LogEntry[] {
    return this.kept.map(({ id, kind, origin, nonce, payload }) => ({ id, kind, origin, nonce, payload }))
  }

  get size(): number {
    return this.kept.length
  }
}
