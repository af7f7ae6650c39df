import type { Context, ErrorHandler, Next } from 'hono'
import type { Result, Router } from 'hono/router'
import { RegExpRouter } from 'hono/router/reg-exp-router'
import { SmartRouter } from 'hono/router/smart-router'
import { TrieRouter } from 'hono/router/trie-router'
import { isThenable } from '../core/promises.ts'

// Hono runs a request that matches one handler straight through, and a chain of several
// (every fake's: CORS, the tenancy layer and the fault engine's journal in front of the route)
// through its compose, where every step is an async function awaiting the next. Over sockets
// that costs a fake a large share of a request's CPU (measured with a bare Hono app: three
// trivial middlewares in front of the route against none). This router hands Hono each chain
// as one handler that keeps compose's rules but stays synchronous as long as every step
// answers synchronously; a step that returns a promise makes the rest asynchronous, as before.
// What differs from compose: a step's `next()` may return the context itself rather than a
// promise (await it, or return it; never call `.then` on it), and every step of a fused chain
// reads the route's match: `c.req.param()` and `routePath(c)` are the route's (a chain whose
// steps name parameters otherwise is left to compose; `routePath(c, -1)` is the same).

type Handler = (c: Context, next: Next) => unknown
type Entry<T> = Result<T>[0][number]

const NOT_FINALIZED =
  'Context is not finalized. Did you forget to return a Response object or `await next()`?'

/**
 * One request's run of a chain, as Hono's compose runs it: each handler gets a `next` that runs
 * the rest (the last one's runs the `next` Hono gave), a thrown error goes to `onError` and its
 * answer stands, an answer returned while the context holds none becomes `c.res`. A class, its
 * steps methods: closures made per request would each cost a `__name` property under tsx.
 */
class ChainRun {
  private index = -1

  constructor(
    private readonly handlers: readonly Handler[],
    private readonly c: Context,
    private readonly last: Next,
    private readonly onError: ErrorHandler,
  ) {}

  /** The context once the chain ran, or a promise of it once a step was asynchronous. */
  dispatch(i: number): Context | Promise<Context> {
    // A rejection, as compose's async step gives it.
    if (i <= this.index) return Promise.reject(new Error('next() called multiple times'))
    this.index = i
    const { handlers } = this
    // Past the last handler Hono's `next` answers not found, which compose asks only of a
    // context still without an answer.
    const handler: Handler | undefined =
      i < handlers.length ? handlers[i] : i === handlers.length && !this.c.finalized ? this.last : undefined
    if (!handler) return this.c
    let res: unknown
    try {
      res = handler(this.c, () => this.dispatch(i + 1) as unknown as Promise<void>)
    } catch (err) {
      return this.failed(err)
    }
    if (!isThenable(res)) return this.settle(res, false)
    return Promise.resolve(res).then(
      (r) => this.settle(r, false),
      (err) => this.failed(err),
    )
  }

  /** The chain's answer: Hono's own error when no step gave one. */
  answer(): Response {
    if (!this.c.finalized) throw new Error(NOT_FINALIZED)
    return this.c.res
  }

  private settle(res: unknown, isError: boolean): Context {
    if (res && (this.c.finalized === false || isError)) this.c.res = res as Response
    return this.c
  }

  private failed(err: unknown): Context | Promise<Context> {
    if (!(err instanceof Error)) throw err
    this.c.error = err
    const res = this.onError(err, this.c)
    if (!isThenable(res)) return this.settle(res, true)
    return Promise.resolve(res).then((r) => this.settle(r, true))
  }
}

/** Whether every entry reads its parameters as the last one does: one map serves the chain. */
function sameParams<T>(entries: readonly Entry<T>[]): boolean {
  const last = entries[entries.length - 1]![1] as Record<string, unknown>
  const keys = Object.keys(last)
  return entries.every(([, params]) => {
    const own = Object.keys(params)
    return (
      own.length === 0 ||
      (own.length === keys.length && own.every((k) => (params as Record<string, unknown>)[k] === last[k]))
    )
  })
}

/**
 * Hono's default router (RegExpRouter, else TrieRouter) giving every matched chain as one
 * handler. The chain's route (its last entry) names the match: `routePath(c, -1)` and the
 * parameters are the route's. A chain whose entries read parameters under different names is
 * left to Hono's compose. `onError` must be the app's error handler (`app.onError`).
 */
export function chainRouter<T extends [Handler, unknown]>(onError: ErrorHandler): Router<T> {
  const inner = new SmartRouter<T>({ routers: [new RegExpRouter(), new TrieRouter()] })
  // RegExpRouter gives the same array for the same chain: each is fused (or found unfit) once.
  const fused = new WeakMap<readonly Entry<T>[], Entry<T>[] | null>()
  const fuse = (entries: readonly Entry<T>[]): Entry<T>[] | null => {
    if (!sameParams(entries)) return null
    const handlers = entries.map(([[h]]) => h)
    const [[, route], params] = entries[entries.length - 1]!
    const chain: Handler = (c, next) => {
      const run = new ChainRun(handlers, c, next, onError)
      const done = run.dispatch(0)
      return isThenable(done) ? done.then(() => run.answer()) : run.answer()
    }
    return [[[chain, route] as unknown as T, params]] as Entry<T>[]
  }
  return {
    name: `chain(${inner.name})`,
    add: (method, path, handler) => inner.add(method, path, handler),
    match(method, path) {
      const result = inner.match(method, path)
      const entries = result[0] as Entry<T>[]
      if (entries.length < 2) return result
      let one = fused.get(entries)
      if (one === undefined) {
        one = fuse(entries)
        fused.set(entries, one)
      }
      if (one === null) return result
      return (result.length === 2 ? [one, result[1]] : [one]) as Result<T>
    },
  }
}
