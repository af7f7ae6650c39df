import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { z } from 'zod'
import {
  ArtefactListResponseSchema,
  ErrorResponseSchema,
  NodeListResponseSchema,
} from '../mocks/v01t/contract.ts'
import { startTestMocks, type TestMocks } from './helpers.ts'
import { http } from './reliability/support.ts'

// devarno-landing's V01T calls (the matrix's call-path inventory), each over real HTTP against
// the fake on an ephemeral port, every body checked strictly against the matrix's contract.

let t: TestMocks
let base: string

beforeAll(async () => {
  t = await startTestMocks({ services: ['v01t'] })
  base = t.url('v01t')
})

afterAll(() => t.close())

async function get<S extends z.ZodType>(path: string, schema: S) {
  const res = await fetch(`${base}${path}`, { headers: { 'x-request-id': 'req-test' } })
  expect(res.headers.get('content-type')).toMatch(/^application\/json/)
  const body: unknown = await res.json()
  const parsed = schema.safeParse(body)
  if (!parsed.success) throw new Error(`${path} (${res.status}): ${parsed.error.message}`)
  return { res, body: parsed.data as z.infer<S> }
}

const nodes = (query: string) => get(`/trace/devarno-ecosystem/node/${query}`, NodeListResponseSchema)
const articles = (query: string) => get(`/trace/flight-path/artefact/${query}`, ArtefactListResponseSchema)

const SKYFLOW = 'building-skyflow-event-driven-workflows'
const ALL_ARTICLES = [
  SKYFLOW,
  'contract-first-apis-protobuf-buf',
  'running-a-family-hub-on-a-shoestring',
  'one-cms-many-small-apps-designing-v01t',
]

describe("devarno-landing's V01T calls", () => {
  it('dashboard: /trace/devarno-ecosystem/node/?page=1&page_size=50 loads the 18 orgs', async () => {
    const { res, body } = await nodes('?page=1&page_size=50')
    expect(res.status).toBe(200)
    expect(res.headers.get('access-control-allow-origin')).toBe('*')
    expect(body.success).toBe(true)
    expect(body.data).toHaveLength(18)
    expect(body.metadata).toEqual({
      application: 'devarno-ecosystem',
      component_type: 'node',
      total_count: 18,
      filtered_count: 18,
      page: 1,
      page_size: 50,
      total_pages: 1,
      has_next: false,
      has_previous: false,
    })
    const sparki = body.data.find((o) => o.title === 'sparki-tools')
    expect(sparki?._meta.external_id).toBe('https://github.com/sparki-tools')
    const age = Date.now() - Date.parse(body.timestamp)
    expect(age).toBeGreaterThanOrEqual(0)
    expect(age).toBeLessThan(60_000)
  })

  it('blog list: /trace/flight-path/artefact/?page=1&page_size=20&order_by=-priority', async () => {
    const { body } = await articles('?page=1&page_size=20&order_by=-priority')
    expect(body.data.map((a) => a.priority)).toEqual([50, 40, 30, 20])
    expect(body.metadata).toMatchObject({
      total_count: 4,
      filtered_count: 4,
      page: 1,
      page_size: 20,
      total_pages: 1,
    })
  })

  it('ArticlesService.getArticles: /trace/flight-path/artefact/?page_size=50, fields spread in', async () => {
    const { body } = await articles('?page_size=50')
    expect(body.data.map((a) => a.slug)).toEqual(ALL_ARTICLES)
    // What convertArtefactToArticle needs, read from the documented (spread) structure.
    for (const a of body.data) {
      expect(a.id).toBe(a._meta.external_id)
      expect(a).not.toHaveProperty('raw_data')
      expect(a.readTime).toMatch(/^\d+min$/)
      expect(a.author.name).toBeTruthy()
    }
    // getArticle(slug) finds each article in that list.
    expect(body.data.find((a) => a.slug === SKYFLOW)?.title).toContain('Skyflow')
  })

  it('search: /trace/flight-path/artefact/?search=skyflow finds the Skyflow article only', async () => {
    const { body } = await articles('?search=skyflow')
    expect(body.data.map((a) => a.slug)).toEqual([SKYFLOW])
    expect(body.metadata).toMatchObject({ total_count: 4, filtered_count: 1, total_pages: 1 })
  })

  it.each(ALL_ARTICLES)('single article: /trace/flight-path/artefact/?search=%s', async (slug) => {
    const { body } = await articles(`?search=${encodeURIComponent(slug)}`)
    expect(body.data.map((a) => a.slug)).toEqual([slug])
  })

  it('admin cluster filter: /trace/devarno-ecosystem/node/?cluster=devarno-orgs', async () => {
    const { body } = await nodes('?cluster=devarno-orgs')
    expect(body.data).toHaveLength(18) // default page_size 20
    expect(body.data.every((o) => o.cluster === 'devarno-orgs')).toBe(true)
    expect(body.metadata).toMatchObject({ filtered_count: 18, page_size: 20, has_next: false })
  })

  it('admin status filter: /trace/flight-path/artefact/?search=published', async () => {
    const { body } = await articles('?search=published')
    expect(body.data).toHaveLength(3)
    expect(body.data.every((a) => a.status === 'published')).toBe(true)
    expect(body.metadata).toMatchObject({ total_count: 4, filtered_count: 3 })
    expect(body.data.map((a) => a.slug)).not.toContain('one-cms-many-small-apps-designing-v01t')
  })

  it('search: /trace/devarno-ecosystem/node/?search=sparki finds sparki-tools', async () => {
    const { body } = await nodes('?search=sparki')
    expect(body.data.map((o) => o.slug)).toEqual(['sparki-tools'])
    expect(body.data[0]).toMatchObject({ status: 'active', repo_count: 5 })
  })
})

describe('over the wire', () => {
  it('redirects the slash-less URL (301) and fetch follows it to the data', async () => {
    const manual = await fetch(`${base}/trace/flight-path/artefact?search=skyflow`, { redirect: 'manual' })
    expect(manual.status).toBe(301)
    expect(manual.headers.get('location')).toBe('/trace/flight-path/artefact/?search=skyflow')
    const followed = await fetch(`${base}/trace/flight-path/artefact?search=skyflow`)
    expect(followed.status).toBe(200)
    expect(followed.redirected).toBe(true)
    const body = ArtefactListResponseSchema.parse(await followed.json())
    expect(body.data.map((a) => a.slug)).toEqual([SKYFLOW])
  })

  it('answers HEAD with the Content-Length its GET has and no body (node:http, as Django does)', async () => {
    const { res: got } = await nodes('?page_size=20')
    const length = got.headers.get('content-length')
    expect(Number(length)).toBeGreaterThan(0)
    const head = await http(base, { method: 'HEAD', path: '/trace/devarno-ecosystem/node/?page_size=20' })
    expect({ status: head.status, length: head.headers['content-length'], bytes: head.body.length }).toEqual({
      status: 200,
      length,
      bytes: 0,
    })
  })

  it('answers a browser preflight from the landing origin', async () => {
    const res = await fetch(`${base}/trace/flight-path/artefact/?page_size=50`, {
      method: 'OPTIONS',
      headers: {
        origin: 'https://devarno.cloud',
        'access-control-request-method': 'GET',
        'access-control-request-headers': 'x-request-id,traceparent',
      },
    })
    expect(res.status).toBe(204)
    expect(res.headers.get('access-control-allow-origin')).toBe('*')
    expect(res.headers.get('access-control-allow-headers')).toBe('x-request-id,traceparent')
  })

  it('answers errors in V01T envelope, with CORS headers', async () => {
    const cases: [string, number, string][] = [
      ['/trace/nope/node/', 404, 'not_found'],
      ['/trace/devarno-ecosystem/artefact/', 404, 'not_found'],
      ['/trace/flight-path/artefact/?page_size=101', 400, 'invalid_params'],
      ['/trace/flight-path/artefact/?page=abc', 400, 'invalid_params'],
      ['/trace/flight-path/artefact/?order_by=-nope', 400, 'invalid_params'],
      ['/nothing/here', 404, 'not_found'],
    ]
    for (const [path, status, code] of cases) {
      const { res, body } = await get(path, ErrorResponseSchema)
      expect(res.status, path).toBe(status)
      expect(body.code, path).toBe(code)
      expect(res.headers.get('access-control-allow-origin'), path).toBe('*')
    }
  })

  it('serves an injected outage in the envelope, then recovers', async () => {
    const fault = t.mocks.faults.add({
      service: 'v01t',
      match: { method: 'GET', path: '/trace/flight-path/artefact/' },
      effect: { type: 'status', status: 500 },
      times: 1,
    })
    try {
      const { res, body } = await get('/trace/flight-path/artefact/?page_size=50', ErrorResponseSchema)
      expect(res.status).toBe(500)
      expect(body).toEqual({ success: false, error: 'Internal server error', code: 'internal_error' })
      // A browser can read the injected error: CORS sits in front of the fault engine.
      expect(res.headers.get('access-control-allow-origin')).toBe('*')
      expect((await articles('?page_size=50')).res.status).toBe(200)
    } finally {
      t.mocks.faults.remove(fault.id)
    }
  })

  it('a body streamed slowly by a fault still carries CORS', async () => {
    const fault = t.mocks.faults.add({
      service: 'v01t',
      match: { path: '/trace/flight-path/artefact/' },
      effect: { type: 'slow-body', bytesPerSecond: 200_000 },
    })
    try {
      const { res, body } = await articles('?page_size=3')
      expect(res.status).toBe(200)
      expect(res.headers.get('access-control-allow-origin')).toBe('*')
      expect(body.data).toHaveLength(3)
    } finally {
      t.mocks.faults.remove(fault.id)
    }
  })

  it('refuses, through the control API, a scenario it cannot seed, and keeps serving the old data', async () => {
    const res = await fetch(`${t.controlUrl}/__mocks/scenario`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        scenario: {
          name: 'v01t-bad',
          extends: 'default',
          v01t: {
            applications: [
              { slug: 'x', components: [{ slug: 'widget', generate: { count: 2, cluster: 'c' } }] },
            ],
          },
        },
      }),
    })
    expect(res.status).toBe(400)
    const body = (await res.json()) as { code: string; issues: { path: string; message: string }[] }
    expect(body.code).toBe('invalid_scenario')
    expect(body.issues[0]?.path).toBe('v01t.applications.0.components.0.generate.kind')
    expect((await nodes('?page_size=50')).body.data).toHaveLength(18)
  })

  it('journals the requests it served', async () => {
    await articles('?search=skyflow')
    const entries = t.mocks.journal
      .list({ service: 'v01t' })
      .filter((e) => e.kind === 'http' && e.path === '/trace/flight-path/artefact/')
    expect(entries.at(-1)).toMatchObject({
      method: 'GET',
      route: '/trace/:app/:component/',
      query: '?search=skyflow',
      status: 200,
      requestHeaders: expect.objectContaining({ 'x-request-id': 'req-test' }),
    })
  })
})
