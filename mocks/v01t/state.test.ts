import type { Context } from 'hono'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type InProcessFake, inProcess } from '../runtime/testing.ts'
import { createV01tApp } from './app.ts'
import { createV01tFake, type V01tFake, v01t } from './index.ts'
import { createV01tState, type V01tState } from './state.ts'

// State as a value: two V01T states (different scenarios) served by one app side by side.

let h: InProcessFake<V01tFake>
let states: { a: V01tState; b: V01tState }
let app: ReturnType<typeof createV01tApp>

const stateOf = (c: Context): V01tState => {
  const which = c.req.header('x-state')
  if (which !== 'a' && which !== 'b') throw new Error('no such state')
  return states[which]
}

beforeAll(async () => {
  h = await inProcess(createV01tFake)
  const extra = h.loader.resolveInline({
    extends: 'default',
    name: 'with-extra',
    v01t: {
      applications: [
        ...h.scenario.v01t.applications,
        {
          slug: 'extra',
          components: [
            {
              slug: 'node',
              records: [
                { title: 'Only in b', slug: 'only-in-b', cluster: 'x', external_id: 'x1', raw_data: {} },
              ],
            },
          ],
        },
      ],
    },
  })
  states = { a: await createV01tState(h.scenario), b: await createV01tState(extra) }
  app = createV01tApp(v01t, h.deps, stateOf)
})
afterAll(() => h.close())

const list = (which: string, path: string) => app.request(path, { headers: { 'x-state': which } })

describe('two V01T states in one process', () => {
  it('serve their own records: a record of one is absent from the other', async () => {
    const inB = await list('b', '/trace/extra/node/')
    expect(inB.status).toBe(200)
    const body = (await inB.json()) as { data: { slug: string }[] }
    expect(body.data.map((r) => r.slug)).toEqual(['only-in-b'])
    const inA = await list('a', '/trace/extra/node/')
    expect(inA.status).toBe(404)
    expect(states.a.store.records.count()).toBe(states.b.store.records.count() - 1)
    // Shared components answer alike from each state's own memo.
    const a = await (await list('a', '/trace/devarno-ecosystem/node/?page_size=5')).json()
    const b = await (await list('b', '/trace/devarno-ecosystem/node/?page_size=5')).json()
    expect(b.data).toEqual(a.data)
  })

  it('disposing one leaves the other serving', async () => {
    states.a.dispose()
    expect((await list('b', '/trace/extra/node/')).status).toBe(200)
    expect((await list('a', '/trace/devarno-ecosystem/node/')).status).toBe(200)
  })

  it('the read model holds what the records collection holds', () => {
    const fromCollection = states.b.store.records
      .findMany()
      .map((r) => `${r.application}/${r.component_type}/${r.slug}`)
    const fromViews = [...states.b.store.applications].flatMap(([app, comps]) =>
      [...comps].flatMap(([type, view]) => view.rows.map((r) => `${app}/${type}/${r.record.slug}`)),
    )
    expect(fromViews.sort()).toEqual(fromCollection.sort())
  })
})
