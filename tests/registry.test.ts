import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { setupServer } from 'msw/node'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { start } from '../mocks/cli/commands.ts'
import { createMswMocks, MswConfigError } from '../mocks/msw/index.ts'
import { FAKES } from '../mocks/registry.ts'
import { loadConfig } from '../mocks/runtime/config.ts'
import { startMocks } from '../mocks/runtime/runtime.ts'
import { ScenarioError, ScenarioLoader } from '../mocks/runtime/scenario-loader.ts'
import { writeScenarioJsonSchema } from '../scripts/scenario-schema.ts'
import { echo } from './fixtures/echo-fake/index.ts'
import { tcpEcho } from './fixtures/tcp-echo-fake/index.ts'
import { connectResult } from './helpers.ts'
import { freePort } from './ports.ts'

// Adding a fake is a folder plus one line in a registry: a fifth fake defined under tests/
// (fixtures/echo-fake), registered here only, is served, configured from env (its port env)
// and from its scenario section, listed in health, startable with --only, served by msw and
// present in a generated scenario schema. No file outside tests/ names it.

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const REGISTRY = [...FAKES, echo]

let dir: string
let env: Record<string, string>

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'registry-'))
  cpSync(join(ROOT, 'scenarios'), join(dir, 'scenarios'), { recursive: true })
  writeFileSync(
    join(dir, 'scenarios', 'echo-hi.yaml'),
    'name: echo-hi\nextends: default\necho:\n  greeting: hi from the file\n  words: [secret]\n',
  )
  env = {
    MOCKS_SCENARIOS_DIR: join(dir, 'scenarios'),
    MOCKS_SCENARIO: 'echo-hi',
    MOCKS_ECHO_PORT: String(await freePort()),
  }
})

afterAll(() => rmSync(dir, { recursive: true, force: true }))

describe('a fake registered from outside mocks/', () => {
  it('starts alone with --only, on the port its env names, seeded from its scenario section', async () => {
    let banner = ''
    const cli = await start(['--only', 'echo'], {
      fakes: REGISTRY,
      env,
      write: (text) => {
        banner += text
      },
    })
    try {
      const url = cli.mocks.url('echo')
      expect(url).toBe(`http://127.0.0.1:${env.MOCKS_ECHO_PORT}`)
      expect([...cli.mocks.services.keys()]).toEqual(['echo'])
      expect(await (await fetch(`${url}/echo/ping`)).json()).toEqual({
        greeting: 'hi from the file',
        word: 'ping',
      })
      // Its own error envelope, for its routes and for unknown ones.
      const refused = await fetch(`${url}/echo/secret`)
      expect(refused.status).toBe(403)
      expect(await refused.json()).toEqual({ echoError: '"secret" is refused', code: 'refused' })
      expect(await (await fetch(`${url}/nope`)).json()).toEqual({
        echoError: 'No route for GET /nope',
        code: 'not_found',
      })
      // Its own control slice, and the banner's env block from its descriptor.
      const health = await (await fetch(`${url}/__mocks/health`)).json()
      expect(health).toMatchObject({
        scenario: 'echo-hi',
        service: 'echo',
        services: { echo: { url: `http://localhost:${env.MOCKS_ECHO_PORT}`, state: 'up' } },
      })
      expect(banner).toContain(`ECHO_URL=http://localhost:${env.MOCKS_ECHO_PORT}`)
      expect(banner).toContain(`ECHO_PORT=${env.MOCKS_ECHO_PORT}`)
    } finally {
      await cli.stop()
    }
    await expect(start(['--only', 'echo'], { env })).rejects.toThrow(/unknown service "echo"/)
  })

  it('runs beside the built-in fakes: listed in the control plane health, faulted by name', async () => {
    const config = loadConfig({ ...env, MOCKS_SCENARIO: 'echo-hi' }, undefined, REGISTRY)
    const mocks = await startMocks({ config, fakes: REGISTRY, only: ['auth', 'echo'], ephemeralPorts: true })
    try {
      const health = await (await fetch(`${mocks.control?.url}/__mocks/health`)).json()
      expect(Object.keys(health.services)).toEqual(['auth', 'echo'])
      const echoPort = new URL(mocks.url('echo') as string).port
      expect(health.services.echo).toEqual({ url: `http://localhost:${echoPort}`, state: 'up' })
      // A scenario fault may name it (the scenario schema's fault services come from the registry).
      const switched = await fetch(`${mocks.control?.url}/__mocks/scenario`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          scenario: {
            name: 'echo-teapot',
            extends: 'echo-hi',
            faults: [
              { service: 'echo', match: { path: '/echo/:word' }, effect: { type: 'status', status: 418 } },
            ],
          },
        }),
      })
      expect(switched.status).toBe(200)
      const res = await fetch(`${mocks.url('echo')}/echo/ping`)
      expect(res.status).toBe(418)
      // The injected status carries the fake's own envelope.
      expect(await res.json()).toEqual({ echoError: 'HTTP 418', code: 'error' })
    } finally {
      await mocks.close()
    }
  })

  it('checks its scenario section and its cross-references, with the file and line', () => {
    writeFileSync(
      join(dir, 'scenarios', 'echo-bad.yaml'),
      'name: echo-bad\nextends: default\necho:\n  greeting: ""\n',
    )
    writeFileSync(
      join(dir, 'scenarios', 'echo-dup.yaml'),
      'name: echo-dup\nextends: default\necho:\n  words: [a, a]\n',
    )
    const loader = new ScenarioLoader(env.MOCKS_SCENARIOS_DIR as string, REGISTRY)
    const bad = (() => {
      try {
        loader.load('echo-bad')
      } catch (err) {
        return err as ScenarioError
      }
    })()
    expect(bad).toBeInstanceOf(ScenarioError)
    expect(bad?.issues[0]).toMatchObject({ path: 'echo.greeting', line: 4 })
    expect(() => loader.load('echo-dup')).toThrow(/echo\.words\.1: duplicate word "a"/)
    // Without it in the registry, its section is an unknown key.
    expect(() => new ScenarioLoader(env.MOCKS_SCENARIOS_DIR as string).load('echo-hi')).toThrow(/echo/)
  })

  it('is served by the msw adapter on the origin its frontend env names', async () => {
    const fakes = await createMswMocks({
      fakes: REGISTRY,
      services: ['auth', 'echo'],
      env: { ...env, ECHO_URL: 'http://echo.test' },
    })
    const server = setupServer(...fakes.handlers)
    server.listen({ onUnhandledRequest: 'error' })
    try {
      expect(fakes.urls.echo).toBe('http://echo.test')
      expect(await (await fetch('http://echo.test/echo/ping')).json()).toEqual({
        greeting: 'hi from the file',
        word: 'ping',
      })
      expect((await (await fetch('http://echo.test/__mocks/health')).json()).services.echo.state).toBe(
        'in-process',
      )
    } finally {
      server.close()
      await fakes.close()
    }
  })

  it('is present in a scenario JSON schema generated into a temporary folder', () => {
    const out = join(dir, 'scenario.schema.json')
    writeScenarioJsonSchema(out, REGISTRY)
    const schema = JSON.parse(readFileSync(out, 'utf8'))
    expect(schema.properties.echo.properties.greeting).toMatchObject({ type: 'string', default: 'hello' })
    const services = JSON.stringify(schema.properties.faults)
    expect(services).toContain('"echo"')
    // The committed schema (the registry's) does not know it.
    expect(readFileSync(join(ROOT, 'scenarios/scenario.schema.json'), 'utf8')).not.toContain('"echo"')
  })

  it('fits a raw-TCP fake with no scenario section: served, in health and the banner, taken down by a fault', async () => {
    const registry = [...FAKES, tcpEcho]
    let banner = ''
    const cli = await start(['--only', 'tcp-echo'], {
      fakes: registry,
      env: { ...env, MOCKS_SCENARIO: 'default', MOCKS_TCP_ECHO_PORT: String(await freePort()) },
      write: (text) => {
        banner += text
      },
    })
    const url = cli.mocks.url('tcp-echo') as string
    const { port } = new URL(url)
    const echoOnce = (text: string) =>
      new Promise<string>((resolve, reject) => {
        const socket = connect(Number(port), '127.0.0.1', () => socket.write(text))
        socket.once('data', (data) => {
          resolve(data.toString('utf8'))
          socket.destroy()
        })
        socket.once('error', reject)
      })
    try {
      expect(await echoOnce('ping')).toBe('default:ping')
      expect(banner).toContain(`TCP_ECHO_URL=tcp://localhost:${port}`)
      expect(cli.mocks.health().services['tcp-echo']).toEqual({
        url: `http://localhost:${port}`,
        state: 'up',
      })
      // A scenario `down` fault closes its listener, as for an HTTP fake.
      await cli.mocks.switchScenario({
        scenario: { name: 'tcp-down', faults: [{ service: 'tcp-echo', effect: { type: 'down' } }] },
      })
      expect(await connectResult(url)).toBe('ECONNREFUSED')
      expect(cli.mocks.health().services['tcp-echo']?.state).toBe('down')
      await cli.mocks.switchScenario({ name: 'default' })
      expect(await echoOnce('pong')).toBe('default:pong')
    } finally {
      await cli.stop()
    }
    await expect(createMswMocks({ fakes: registry, services: ['tcp-echo'], env })).rejects.toBeInstanceOf(
      MswConfigError,
    )
  })

  it('runs in a registry of its own, with none of the built-in fakes', async () => {
    writeFileSync(join(dir, 'scenarios', 'echo-only.yaml'), 'name: echo-only\necho:\n  greeting: alone\n')
    const fakes = [echo]
    const config = loadConfig({ ...env, MOCKS_SCENARIO: 'echo-only' }, undefined, fakes)
    const mocks = await startMocks({ config, fakes, ephemeralPorts: true })
    try {
      expect(await (await fetch(`${mocks.url('echo')}/echo/x`)).json()).toEqual({
        greeting: 'alone',
        word: 'x',
      })
      const health = await (await fetch(`${mocks.control?.url}/__mocks/health`)).json()
      expect(Object.keys(health.services)).toEqual(['echo'])
      // No auth fake, so no /users route.
      expect((await fetch(`${mocks.control?.url}/__mocks/users`)).status).toBe(404)
    } finally {
      await mocks.close()
    }
  })
})
