import { Context } from 'hono'
import { HTTPException } from 'hono/http-exception'
import { DEFAULT_TENANT, tenantOf } from './tenant.ts'

// State as a value (DESIGN §9): a fake's mutable state is one value built from a scenario,
// separate from the app that serves it. The app is created once and reaches the state through
// the request, so several states of one fake (tenants) can be served by one app side by side.

/**
 * How a request reaches its state. A fake's own `FakeService` passes one that answers its
 * current state; a tenant-aware runtime resolves per request (header, cookie, session).
 * Every route, WebSocket upgrade and hub goes through it: an app captures no state.
 */
export type StateOf<S> = (c: Context) => S

/** `stateOf` for a transport that has a Request but no Hono context (an msw `ws.link` socket). */
export function stateOfRequest<S>(stateOf: StateOf<S>, request: Request): S {
  return stateOf(new Context(request))
}

/** What every state value offers: release what it holds (sockets, timers, files). */
export interface DisposableState {
  dispose(): void | Promise<void>
}

/**
 * A fake's states, one per tenant (the default tenant's is the single world of old), each
 * replaced whole: `replace` swaps in the new value in one assignment (no request sees a mix)
 * and hands back the old one for the caller to dispose.
 */
export class TenantStates<S> {
  private readonly states = new Map<string, S>()

  constructor(private readonly service: string) {}

  get(tenant: string = DEFAULT_TENANT): S {
    const value = this.states.get(tenant)
    if (value !== undefined) return value
    if (tenant === DEFAULT_TENANT) throw new Error(`${this.service} fake used before a scenario was applied`)
    // A request that was resolved to a tenant deleted since: answered 404 in the service's envelope.
    throw new HTTPException(404, {
      message: `Unknown tenant "${tenant}": deleted while the request was answered`,
    })
  }

  peek(tenant: string = DEFAULT_TENANT): S | undefined {
    return this.states.get(tenant)
  }

  replace(tenant: string, next: S): S | undefined {
    const previous = this.states.get(tenant)
    this.states.set(tenant, next)
    return previous
  }

  /** Forgets a tenant's state and hands it back for the caller to dispose. */
  remove(tenant: string): S | undefined {
    const previous = this.states.get(tenant)
    this.states.delete(tenant)
    return previous
  }

  values(): IterableIterator<S> {
    return this.states.values()
  }

  /** A `StateOf` answering the state of the tenant the request was resolved to. */
  readonly stateOf: StateOf<S> = (c) => this.get(tenantOf(c))
}
