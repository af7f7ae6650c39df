import { type ErrorHandler, Hono } from 'hono'
import { HTTPException } from 'hono/http-exception'
import { routePath } from 'hono/route'
import { describe, expect, it } from 'vitest'
import { promiseOf } from '../core/promises.ts'
import { chainRouter } from './sync-compose.ts'

// The chain router must change nothing but when promises are made: the same app built on
// Hono's own router and on this one answers every request the same.

const onError: ErrorHandler = (err, c) =>
  err instanceof HTTPException
    ? c.text(`http ${err.message}`, err.status)
    : c.text(`error ${err.message}`, 500)

/** One app's routes, built on a given Hono. `seen` records what the layers observed. */
function build(app: Hono, seen: string[]): Hono {
  app.onError(onError)
  app.notFound((c) => c.text(`no route ${c.req.path}`, 404))
  // A sync layer that passes on, then reads the answer (as CORS and the journal do).
  app.use('*', (c, next) => {
    const out = next()
    const after = () => {
      seen.push(`outer saw ${c.res.status} for ${routePath(c, -1)}`)
    }
    if (out instanceof Promise) return out.then(after)
    after()
    return out
  })
  // An async layer, as a tenant's or a held request's.
  app.use('/slow/*', async (_c, next) => {
    await new Promise((r) => setTimeout(r, 1))
    await next()
  })
  app.use('/items/:id/*', async (c, next) => {
    seen.push(`mw id ${c.req.param('id')}`)
    await next()
  })
  app.get('/items/:id/detail', (c) => c.json({ id: c.req.param('id'), route: routePath(c, -1) }))
  // A middleware naming the parameter otherwise: left to Hono's compose.
  app.use('/named/:x/*', async (c, next) => {
    seen.push(`x ${c.req.param('x')}`)
    await next()
  })
  app.get('/named/:y/leaf', (c) => c.text(`y ${c.req.param('y')}`))
  app.get('/slow/answer', async (c) => c.text('slow'))
  app.get('/throws', () => {
    throw new Error('boom')
  })
  app.get('/rejects', async () => {
    throw new HTTPException(418, { message: 'teapot' })
  })
  app.get('/passes', (_c, next) => next())
  app.use('/twice/*', async (_c, next) => {
    await next()
    await next()
  })
  app.get('/twice/x', (c) => c.text('once'))
  app.use('/silent/*', async () => undefined)
  app.get('/silent/x', (c) => c.text('never'))
  app.get('/sync', (c) => c.text('sync'))
  // Answered before passing on, with no route after it: not found must not replace it.
  app.use('/fin/*', async (c, next) => {
    c.res = c.text('early', 201)
    await next()
  })
  return app
}

const PATHS = [
  '/sync',
  '/items/7/detail',
  '/named/a/leaf',
  '/slow/answer',
  '/throws',
  '/rejects',
  '/passes',
  '/twice/x',
  '/silent/x',
  '/nothing/here',
  '/fin/x',
]

async function answer(app: Hono, path: string) {
  const res = await app.request(path)
  return { status: res.status, body: await res.text() }
}

describe('chainRouter', () => {
  it('answers every request as Hono’s own router does: order, parameters, errors, not found', async () => {
    for (const path of PATHS) {
      const seenHono: string[] = []
      const seenChain: string[] = []
      const hono = build(new Hono(), seenHono)
      const chain = build(new Hono({ router: chainRouter(onError) }), seenChain)
      const expected = await answer(hono, path)
      expect(await answer(chain, path), path).toEqual(expected)
      expect(seenChain, path).toEqual(seenHono)
    }
  })

  it('answers synchronously when every step does, and through a promise once one does not', async () => {
    const app = build(new Hono({ router: chainRouter(onError) }), [])
    const sync = app.fetch(new Request('http://x/sync'))
    expect(sync).toBeInstanceOf(Response)
    expect(await (sync as Response).text()).toBe('sync')
    const slow = app.fetch(new Request('http://x/slow/answer'))
    expect(slow).toBeInstanceOf(Promise)
    expect(await (await slow).text()).toBe('slow')
  })
})

describe('chainRouter: what is not an Error, and an asynchronous error handler', () => {
  /**
   * Two layers and a route (a fused chain), the route given; the error handler given. The
   * outer layer notes the status it reads after the rest ran, as the journal does.
   */
  function chained(
    router: 'hono' | 'chain',
    handler: ErrorHandler,
    route: () => unknown,
    seen: unknown[] = [],
  ): Hono {
    const app = new Hono(router === 'chain' ? { router: chainRouter(handler) } : {})
    app.onError(handler)
    // Synchronous while the rest is (as the journal's layer): the chain router may then throw
    // out of fetch itself, which is what promiseOf is for.
    app.use('*', (c, next) => {
      const out = next()
      const after = () => {
        seen.push(c.res.status)
      }
      if (out instanceof Promise) return out.then(after)
      after()
      return out
    })
    app.use('*', (_c, next) => next())
    app.get('/x', route as never)
    return app
  }

  it('passes a thrown non-Error on to the caller, as a rejection wherever a promise is asked for', async () => {
    const routes = {
      throws: () => {
        throw 'plain string'
      },
      rejects: async () => {
        throw 42
      },
    }
    for (const [name, route] of Object.entries(routes)) {
      const thrown = name === 'throws' ? 'plain string' : 42
      for (const router of ['hono', 'chain'] as const) {
        const app = chained(router, onError, route)
        if (router === 'chain' && name === 'throws') {
          // Every step synchronous: the chain router throws out of fetch itself.
          let caught: unknown
          try {
            app.fetch(new Request('http://x/x'))
          } catch (err) {
            caught = err
          }
          expect(caught).toBe(thrown)
        }
        // As the test kit and msw call a fake (promiseOf): never an answer made up from it.
        await expect(
          promiseOf(() => app.fetch(new Request('http://x/x'))),
          `${router} ${name}`,
        ).rejects.toBe(thrown)
      }
    }
  })

  it('waits for an asynchronous error handler, its answer standing, as Hono’s compose does', async () => {
    const later: ErrorHandler = async (err, c) => {
      await new Promise((r) => setTimeout(r, 1))
      return c.text(`later ${err.message}`, err instanceof HTTPException ? err.status : 500)
    }
    const routes = {
      throws: () => {
        throw new Error('sync boom')
      },
      rejects: async () => {
        throw new HTTPException(418, { message: 'teapot' })
      },
    }
    for (const [name, route] of Object.entries(routes)) {
      const seenHono: unknown[] = []
      const seenChain: unknown[] = []
      const expected = await answer(chained('hono', later, route, seenHono), '/x')
      expect(expected.body).toMatch(/^later /)
      expect(seenHono).toEqual([expected.status])
      expect(await answer(chained('chain', later, route, seenChain), '/x'), name).toEqual(expected)
      expect(seenChain, name).toEqual(seenHono)
    }
  })
})
