import { execFile } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { parse } from 'yaml'
import { DEFAULT_PORTS, type Env, loadConfig, PORT_ENV } from '../mocks/runtime/config.ts'
import { DEFAULT_IMAGE, DOCKERFILE, HEALTH_PATH } from '../mocks/testcontainers/index.ts'
import { BUNDLE_OUTFILE } from '../scripts/build.ts'
import { startTestMocks } from './helpers.ts'

// compose/Dockerfile and compose/docker-compose.yml are written by hand; this checks them
// against the code they describe (ports, env names, defaults, health path, bundle), so a
// value changed in one place fails here. The healthcheck command itself is run.

const root = fileURLToPath(new URL('../', import.meta.url))
const read = (file: string) => readFileSync(path.join(root, file), 'utf8')
const portValues = Object.values(DEFAULT_PORTS).sort((a, b) => a - b)

/** Every env name loadConfig reads, recorded as it reads them (so the list cannot drift). */
function envNamesReadByConfig(): Set<string> {
  const names = new Set<string>()
  const spy = new Proxy({} as Env, {
    get(_target, key) {
      if (typeof key === 'string') names.add(key)
      return undefined
    },
  })
  loadConfig(spy)
  loadConfig(spy, 'chat') // `PORT` is read only when one service runs alone
  return names
}

interface Instruction {
  keyword: string
  args: string
}

function dockerInstructions(text: string): Instruction[] {
  return text
    .split('\n')
    .filter((line) => !line.trimStart().startsWith('#'))
    .join('\n')
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((line) => line.trim())
    .filter(Boolean)
    .map((line) => {
      const [keyword = '', ...rest] = line.split(/\s+/)
      return { keyword: keyword.toUpperCase(), args: rest.join(' ') }
    })
}

const dockerfile = dockerInstructions(read(DOCKERFILE))
const runtimeStage = dockerfile.slice(dockerfile.findLastIndex((i) => i.keyword === 'FROM'))
const all = (keyword: string, from = dockerfile) => from.filter((i) => i.keyword === keyword)

const imageEnv = Object.fromEntries(
  all('ENV', runtimeStage).flatMap((i) =>
    i.args.split(/\s+/).map((pair) => pair.split('=') as [string, string]),
  ),
)
const healthcheck = all('HEALTHCHECK', runtimeStage)[0]?.args ?? ''
const imageHealthCmd = JSON.parse(healthcheck.slice(healthcheck.indexOf('CMD') + 3)) as string[]

interface ComposeService {
  build: { context: string; dockerfile: string }
  image: string
  ports: string[]
  environment: Record<string, string>
  volumes: string[]
  healthcheck: { test: string[] }
}
const compose = parse(read('compose/docker-compose.yml')) as { services: Record<string, ComposeService> }
const service = compose.services.mocks!
/** `${NAME:-default}` -> default; a literal stays itself. */
const composeDefault = (value: string, name: string) => {
  const m = /^\$\{([A-Z0-9_]+):-(.*)\}$/.exec(value)
  if (!m) return value
  expect(m[1], `compose passes ${name} through from the same host variable`).toBe(name)
  return m[2] ?? ''
}

describe('compose/Dockerfile agrees with the code', () => {
  it('exposes exactly the default ports', () => {
    const exposed = all('EXPOSE', runtimeStage).flatMap((i) => i.args.split(/\s+/).map(Number))
    expect(exposed.sort((a, b) => a - b)).toEqual(portValues)
  })

  it('sets only env names the config reads, binding every interface', () => {
    const known = envNamesReadByConfig()
    for (const name of Object.keys(imageEnv).filter((n) => n !== 'NODE_ENV')) {
      expect(known, `Dockerfile ENV ${name}`).toContain(name)
    }
    expect(imageEnv.MOCKS_HOST).toBe('0.0.0.0')
    expect(all('WORKDIR', runtimeStage).at(-1)?.args).toBe('/app')
    expect(imageEnv.MOCKS_SCENARIOS_DIR).toBe('/app/scenarios')
    expect(runtimeStage.some((i) => i.keyword === 'COPY' && i.args === 'scenarios scenarios')).toBe(true)
  })

  it('runs the bundle scripts/build.ts writes, as a non-root user', () => {
    expect(JSON.parse(all('CMD', runtimeStage)[0]?.args ?? '[]')).toEqual([
      'node',
      '--enable-source-maps',
      BUNDLE_OUTFILE,
      'start',
    ])
    expect(all('USER', runtimeStage).at(-1)?.args).toBe('node')
    expect(runtimeStage.some((i) => i.keyword === 'COPY' && i.args === '--from=build /app/dist dist')).toBe(
      true,
    )
    expect(path.dirname(BUNDLE_OUTFILE)).toBe('dist')
  })

  it('installs with the pnpm version package.json names, from the lockfile', () => {
    const pkg = JSON.parse(read('package.json')) as { packageManager: string; engines: { node: string } }
    const installs = all('RUN').filter((i) => i.args.includes('npm install -g pnpm@'))
    expect(installs.length).toBeGreaterThan(0)
    for (const i of installs) expect(i.args).toContain(pkg.packageManager)
    const pnpmInstalls = all('RUN').filter((i) => i.args.startsWith('pnpm install'))
    expect(pnpmInstalls.every((i) => i.args.includes('--frozen-lockfile'))).toBe(true)
    expect(pnpmInstalls.some((i) => i.args.includes('--prod'))).toBe(true)
    // Every stage runs the Node major the project supports.
    const minMajor = Number(/(\d+)/.exec(pkg.engines.node)?.[1])
    for (const from of all('FROM')) expect(Number(/^node:(\d+)-slim\b/.exec(from.args)?.[1])).toBe(minMajor)
  })

  it('sends the build everything the Dockerfile copies (.dockerignore is an allow-list)', () => {
    const allowed = read('.dockerignore')
      .split('\n')
      .filter((l) => l.startsWith('!'))
      .map((l) => l.slice(1))
    const sources = all('COPY')
      .filter((i) => !i.args.startsWith('--from'))
      .flatMap((i) => i.args.split(/\s+/).slice(0, -1))
    // An allowed folder lets everything below it through (`!mocks` covers mocks/demo/public).
    const through = (src: string) => allowed.some((a) => src === a || src.startsWith(`${a}/`))
    for (const src of sources) expect(through(src), `COPY ${src} is allowed by .dockerignore`).toBe(true)
    for (const src of sources) expect(existsSync(path.join(root, src)), `${src} exists`).toBe(true)
  })
})

describe('compose/docker-compose.yml agrees with the code and the image', () => {
  it('publishes every default port on the same host port, and nothing else', () => {
    const mapped = service.ports.map((p) => {
      const [hostPort, containerPort] = p.split(':').slice(-2).map(Number)
      expect(hostPort, `${p}: host and container ports match (advertised URLs assume it)`).toBe(containerPort)
      return containerPort!
    })
    expect(mapped.sort((a, b) => a - b)).toEqual(portValues)
  })

  it('passes through every env name the config reads, except ports fixed in the image', () => {
    const known = envNamesReadByConfig()
    // Ports are fixed inside the container (remap on the host side); PORT is for one service
    // alone; LOG_LEVEL is an alias of MOCKS_LOG_LEVEL.
    const notInCompose = new Set<string>([...Object.values(PORT_ENV), 'PORT', 'LOG_LEVEL'])
    const expected = [...known].filter((n) => !notInCompose.has(n)).sort()
    expect(Object.keys(service.environment).sort()).toEqual(expected)
  })

  it('has defaults that configure the mocks exactly as their own defaults do', () => {
    const fromCompose = Object.fromEntries(
      Object.entries(service.environment).map(([name, value]) => [name, composeDefault(value, name)]),
    )
    expect(fromCompose.MOCKS_HOST).toBe('0.0.0.0')
    expect(fromCompose.MOCKS_SCENARIOS_DIR).toBe(imageEnv.MOCKS_SCENARIOS_DIR)
    const composed = loadConfig(fromCompose)
    const defaults = loadConfig({})
    const { host: _h, scenariosDir: _s, explicit: _e, ...rest } = composed
    const { host: _h2, scenariosDir: _s2, explicit: _e2, ...restDefaults } = defaults
    expect(rest).toEqual(restDefaults)
    // BASE_URL is spelled out (the browser opens those URLs): it must be the media port.
    expect(composed.mediaBaseUrl).toBe(`http://localhost:${DEFAULT_PORTS.media}`)
  })

  it('mounts the repository scenarios where the image reads them, and builds this Dockerfile', () => {
    const [source, target, mode] = (service.volumes[0] ?? '').split(':')
    expect(path.resolve(root, 'compose', source ?? '')).toBe(path.join(root, 'scenarios'))
    expect(target).toBe(imageEnv.MOCKS_SCENARIOS_DIR)
    expect(mode).toBe('ro')
    expect(path.resolve(root, 'compose', service.build.context, service.build.dockerfile)).toBe(
      path.join(root, DOCKERFILE),
    )
    expect(service.image).toBe(DEFAULT_IMAGE)
  })

  it('uses the image healthcheck, which asks the control plane health path', () => {
    expect(service.healthcheck.test).toEqual(['CMD', ...imageHealthCmd])
    const script = imageHealthCmd.at(-1) ?? ''
    expect(script).toContain(`'${HEALTH_PATH}'`)
    expect(script).toContain(`process.env.${PORT_ENV.control}||${DEFAULT_PORTS.control})`)
  })
})

describe('the healthcheck command', () => {
  const runHealthcheck = (port: number) =>
    new Promise<number>((resolve) => {
      const [, ...args] = imageHealthCmd // "node" -> this node
      execFile(
        process.execPath,
        args,
        { env: { ...process.env, [PORT_ENV.control]: String(port) }, timeout: 10_000 },
        (err) => resolve(err ? Number((err as { code?: number }).code ?? 1) : 0),
      )
    })

  it('passes against running mocks and fails once they stop', async () => {
    const t = await startTestMocks()
    const port = t.mocks.control!.port
    try {
      expect(await runHealthcheck(port)).toBe(0)
    } finally {
      await t.close()
    }
    expect(await runHealthcheck(port)).toBe(1)
  })
})
