import { Context } from 'hono'

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
 * A fake's current state, replaced whole: `replace` swaps in the new value in one assignment
 * (no request sees a mix) and hands back the old one for the caller to dispose.
 */
export class CurrentState<S> {
  private value: S | undefined

  constructor(private readonly service: string) {}

  get(): S {
    if (this.value === undefined) throw new Error(`${this.service} fake used before a scenario was applied`)
    return this.value
  }

  peek(): S | undefined {
    return this.value
  }

  replace(next: S): S | undefined {
    const previous = this.value
    this.value = next
    return previous
  }

  /** A `StateOf` answering the current state, whatever the request (the single-world default). */
  readonly stateOf: StateOf<S> = () => this.get()
}
