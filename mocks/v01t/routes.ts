import type { Context, Hono } from 'hono'
import type { StateOf } from '../core/state.ts'
import { searchOf } from '../core/url.ts'
import { v01tEnvelope } from './envelope.ts'
import { listAnswer } from './query.ts'
import type { V01tState } from './state.ts'

// V01T's public list endpoint, `/trace/{app_slug}/{component_type}/`. Read-only: the CMS is
// written by its seed commands, never through this API.

const ALLOW = 'GET, HEAD, OPTIONS'

function fail(
  c: Context,
  status: 400 | 404 | 405,
  error: string,
  code: string,
  details?: Record<string, unknown>,
) {
  return c.json(v01tEnvelope.body(error, code, details ? { details } : {}), status)
}

export function registerV01tRoutes(app: Hono, stateOf: StateOf<V01tState>): void {
  app.get('/trace/:app/:component/', (c) => {
    const application = c.req.param('app')
    const componentType = c.req.param('component')
    const { store } = stateOf(c)
    const components = store.applications.get(application)
    if (!components) {
      return fail(c, 404, `Application "${application}" not found`, 'not_found', {
        application,
        applications: [...store.applications.keys()],
      })
    }
    const view = components.get(componentType)
    if (!view) {
      return fail(
        c,
        404,
        `Component type "${componentType}" not found in application "${application}"`,
        'not_found',
        { application, component_type: componentType, component_types: [...components.keys()] },
      )
    }
    const answer = listAnswer(view, searchOf(c.req.url))
    if (!answer.ok) {
      const p = answer.problem
      return fail(c, 400, `Invalid ${p.parameter} "${p.value}": expected ${p.expected}`, 'invalid_params', {
        ...p,
      })
    }
    return c.body(answer.body, 200, { 'content-type': 'application/json' })
  })

  app.all('/trace/:app/:component/', (c) => {
    c.header('allow', ALLOW)
    return fail(c, 405, `Method "${c.req.method}" not allowed`, 'method_not_allowed', {
      allowed: ALLOW.split(', '),
    })
  })

  // Django's CommonMiddleware with APPEND_SLASH: the slash-less URL answers a permanent
  // redirect to the slash form, query string kept (whatever the application or method).
  app.all('/trace/:app/:component', (c) => {
    const url = new URL(c.req.url)
    return c.redirect(`${url.pathname}/${url.search}`, 301)
  })
}
