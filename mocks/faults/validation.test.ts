import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { FAKES } from '../registry.ts'
import { loadConfig } from '../runtime/config.ts'
import { ScenarioLoader } from '../runtime/scenario-loader.ts'
import { scenarioErrorOf } from '../runtime/testing.ts'
import { EFFECTS } from './effects/index.ts'
import { type Fault, FaultSchema } from './schema.ts'
import type { ServiceTransports } from './transports.ts'
import {
  FaultValidationError,
  faultIssues,
  parseFault,
  scenarioFaultIssues,
  targetsOf,
} from './validation.ts'

// One validation for faults added at runtime and faults in scenario files. The services and
// their transports come from the caller: here a made-up set, so nothing depends on the fakes.

const services: ServiceTransports = { web: 'http', hub: 'http+ws', pg: 'tcp' }
const fault = (f: Record<string, unknown>) => FaultSchema.parse({ service: 'auth', ...f }) as Fault
const issuesOf = (f: Record<string, unknown>, service: string) =>
  faultIssues({ ...fault(f), service } as Fault, services)

describe('faultIssues', () => {
  it('accepts each effect where its module says it acts', () => {
    expect(issuesOf({ effect: { type: 'latency', ms: 1 } }, 'web')).toEqual([])
    expect(issuesOf({ match: { ws: 'upgrade' }, effect: { type: 'latency', ms: 1 } }, 'hub')).toEqual([])
    expect(issuesOf({ match: { ws: 'typing' }, effect: { type: 'ws-drop' } }, 'hub')).toEqual([])
    expect(issuesOf({ match: { ws: 'upgrade' }, effect: { type: 'ws-silence' } }, 'hub')).toEqual([])
    expect(issuesOf({ effect: { type: 'ws-reject' } }, 'hub')).toEqual([])
    expect(issuesOf({ effect: { type: 'down' } }, 'pg')).toEqual([])
    expect(issuesOf({ effect: { type: 'down' }, forMs: 10 }, 'web')).toEqual([])
  })

  it('refuses an effect the service offers no target for, naming where it could go', () => {
    expect(issuesOf({ effect: { type: 'ws-drop' } }, 'web')).toEqual([
      {
        path: 'effect.type',
        message:
          'ws-drop drops open WebSockets: it needs a WebSocket service; web has none, it speaks HTTP (use hub)',
      },
    ])
    // A raw-TCP service takes what acts on connections (tcp) or its listener, nothing else.
    expect(issuesOf({ effect: { type: 'status', status: 500 } }, 'pg')[0]).toEqual({
      path: 'effect.type',
      message:
        'status answers with a status: it needs an HTTP or WebSocket service; pg has none, it speaks raw TCP (use web or hub)',
    })
    expect(issuesOf({ effect: { type: 'ws-silence' } }, 'pg')[0]?.message).toContain(
      'pg has none, it speaks raw TCP',
    )
    for (const effect of [
      { type: 'latency', ms: 5 },
      { type: 'slow-body', bytesPerSecond: 9 },
      { type: 'reset' },
      { type: 'hang' },
      { type: 'down' },
    ])
      expect(issuesOf({ effect }, 'pg')).toEqual([])
  })

  it('a raw-TCP service takes no match: its faults act on whole connections', () => {
    for (const match of [{ path: '/x' }, { method: 'GET' }])
      for (const effect of [{ type: 'reset' }, { type: 'down' }])
        expect(issuesOf({ match, effect }, 'pg')).toEqual([
          {
            path: 'match',
            message: 'pg speaks raw TCP: a fault on it acts on its whole connections, so it takes no match',
          },
        ])
  })

  it('a service-wide effect takes no match', () => {
    expect(issuesOf({ match: { path: '/trace/*' }, effect: { type: 'down' } }, 'web')).toEqual([
      {
        path: 'match',
        message: '`down` is service-wide (it refuses connections: the listener closes), so it takes no match',
      },
    ])
  })

  it('match.ws must name something the effect acts on', () => {
    expect(issuesOf({ match: { ws: 'upgrade' }, effect: { type: 'latency', ms: 1 } }, 'web')).toEqual([
      { path: 'match.ws', message: 'web has no WebSocket' },
    ])
    expect(issuesOf({ match: { ws: 'message' }, effect: { type: 'status', status: 500 } }, 'hub')).toEqual([
      {
        path: 'match.ws',
        message:
          'status acts on HTTP requests or WebSocket handshakes, not on WebSocket frames; for it match.ws may only be "upgrade"',
      },
    ])
    // Only the targets this service offers are named (latency also acts on raw TCP connections).
    expect(issuesOf({ match: { ws: 'message' }, effect: { type: 'latency', ms: 1 } }, 'hub')).toEqual([
      {
        path: 'match.ws',
        message:
          'latency acts on HTTP requests or WebSocket handshakes, not on WebSocket frames; for it match.ws may only be "upgrade"',
      },
    ])
    expect(
      issuesOf({ match: { ws: 'upgrade' }, effect: { type: 'slow-body', bytesPerSecond: 9 } }, 'hub'),
    ).toEqual([
      {
        path: 'match.ws',
        message: 'slow-body trickles HTTP response bodies, not WebSocket handshakes: it takes no match.ws',
      },
    ])
  })

  it('an unknown service is named with the known ones', () => {
    expect(issuesOf({ effect: { type: 'hang' } }, 'nope')).toEqual([
      { path: 'service', message: 'no service "nope" (services: web, hub, pg)' },
    ])
  })

  it('a status or ws-reject status is a final one (200-599): a 1xx would only look like a cut connection', () => {
    for (const effect of [
      { type: 'status', status: 101 },
      { type: 'ws-reject', status: 100 },
    ]) {
      const parsed = FaultSchema.safeParse({ service: 'auth', effect })
      expect(parsed.success, effect.type).toBe(false)
      expect(JSON.stringify(parsed.error?.issues)).toContain('1xx are interim responses')
    }
    for (const status of [200, 204, 599])
      expect(FaultSchema.safeParse({ service: 'auth', effect: { type: 'status', status } }).success).toBe(
        true,
      )
  })

  it('every effect module acts on something and says what it does', () => {
    for (const m of EFFECTS) {
      expect(targetsOf(m).length, m.type).toBeGreaterThan(0)
      expect(m.does, m.type).not.toBe('')
    }
  })
})

describe('parseFault and scenarioFaultIssues', () => {
  // The registry's own services: committed scenarios fault every registered fake.
  const real: ServiceTransports = Object.fromEntries(FAKES.map((f) => [f.name, f.transport]))

  it('parseFault reports schema issues and then semantic ones', () => {
    const schemaError = (() => {
      try {
        parseFault({ service: 'auth', effect: { type: 'latency', ms: -1 } }, real)
      } catch (err) {
        return err
      }
    })()
    expect(schemaError).toBeInstanceOf(FaultValidationError)
    expect((schemaError as FaultValidationError).issues[0]?.path).toBe('effect.ms')
    expect(() => parseFault({ service: 'media', effect: { type: 'ws-reject' } }, real)).toThrow(
      /effect\.type: ws-reject refuses WebSocket handshakes: it needs a WebSocket service; media has none, it speaks HTTP \(use chat\)/,
    )
    expect(parseFault({ service: 'chat', effect: { type: 'ws-reject' } }, real).effect).toEqual({
      type: 'ws-reject',
      status: 503,
    })
  })

  it('scenarioFaultIssues prefixes each issue with its index and finds duplicate ids', () => {
    const faults = [
      fault({ id: 'a', service: 'media', match: { ws: 'upgrade' }, effect: { type: 'ws-drop' } }),
      fault({ id: 'a', service: 'v01t', effect: { type: 'status', status: 500 } }),
    ]
    expect(scenarioFaultIssues(faults, real).map((i) => i.path)).toEqual([
      'faults.0.effect.type',
      'faults.0.match.ws',
      'faults.1.id',
    ])
  })
})

describe('scenario files', () => {
  // The registry's fakes (db included: its scenarios fault a TCP service).
  const real: ServiceTransports = Object.fromEntries(FAKES.map((f) => [f.name, f.transport]))
  const checkFaults = (faults: readonly Fault[]) => scenarioFaultIssues(faults, real)

  it('every committed scenario passes', () => {
    const dir = loadConfig({}).scenariosDir
    const loader = new ScenarioLoader(dir, FAKES, { checkFaults })
    for (const f of readdirSync(dir).filter((x) => x.endsWith('.yaml')))
      expect(loader.load(f.slice(0, -5)).name).toBe(f.slice(0, -5))
  })

  it('a bad fault in a file is named with that file and line, also when extended', () => {
    const dir = mkdtempSync(join(tmpdir(), 'fault-check-'))
    writeFileSync(join(dir, 'base.yaml'), 'name: base\n')
    writeFileSync(
      join(dir, 'bad.yaml'),
      [
        'name: bad',
        'extends: base',
        'faults:',
        '  - service: v01t',
        '    effect: { type: status, status: 500 }',
        '  - service: media',
        '    match: { ws: upgrade }',
        '    effect: { type: ws-drop }',
      ].join('\n'),
    )
    writeFileSync(join(dir, 'child.yaml'), 'name: child\nextends: bad\n')
    for (const name of ['bad', 'child']) {
      const err = scenarioErrorOf(() => new ScenarioLoader(dir, FAKES, { checkFaults }).load(name))
      expect(err.issues).toEqual([
        expect.objectContaining({ file: join(dir, 'bad.yaml'), path: 'faults.1.effect.type', line: 8 }),
        expect.objectContaining({ file: join(dir, 'bad.yaml'), path: 'faults.1.match.ws', line: 7 }),
      ])
    }
    // Without the check (the loader imports no fault code) only the schema applies.
    expect(new ScenarioLoader(dir).load('bad').faults).toHaveLength(2)
  })

  it('ids repeated across an extends chain, or inline, are refused after the merge', () => {
    const dir = mkdtempSync(join(tmpdir(), 'fault-check-'))
    const f = '  - { id: x, service: v01t, effect: { type: status, status: 500 } }'
    writeFileSync(join(dir, 'base.yaml'), `name: base\nfaults:\n${f}\n`)
    writeFileSync(join(dir, 'again.yaml'), `name: again\nextends: base\nfaults:\n${f}\n`)
    const loader = new ScenarioLoader(dir, FAKES, { checkFaults })
    expect(scenarioErrorOf(() => loader.load('again')).issues).toEqual([
      { file: join(dir, 'again.yaml'), path: 'faults.1.id', message: 'duplicate fault id "x"' },
    ])
    const inline = scenarioErrorOf(() =>
      loader.resolveInline({
        name: 'i',
        extends: 'base',
        faults: [{ service: 'v01t', match: { path: '/x' }, effect: { type: 'down' } }],
      }),
    )
    expect(inline.issues).toEqual([
      expect.objectContaining({
        file: 'inline:i',
        path: 'faults.1.match',
        message: expect.stringMatching(/service-wide/),
      }),
    ])
  })
})
