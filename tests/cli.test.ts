import { type ChildProcess, execFile } from 'node:child_process'
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ChatTestClient } from '../mocks/chat/testing.ts'
import { connectResult, spawnJob } from './helpers.ts'
import { freePort } from './ports.ts'

// The CLI as a user runs it: `pnpm dev:mocks` in a child process (its own process group, as a
// terminal's foreground job), commands against it found through MOCKS_CONTROL_PORT alone
// (no MOCKS_CONTROL_URL), Ctrl-C to the whole group.

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const TSX = join(ROOT, 'node_modules/.bin/tsx')
const CLI = join(ROOT, 'mocks/cli/index.ts')

let child: ChildProcess
let output = ''
let env: Record<string, string>
let ports: Record<string, number>
let scenariosDir: string

function run(
  args: string[],
  extraEnv: Record<string, string> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      TSX,
      [CLI, ...args],
      { env: { ...process.env, ...env, ...extraEnv }, cwd: ROOT },
      (err, stdout, stderr) => {
        resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr })
      },
    )
  })
}

async function waitFor(check: () => Promise<boolean> | boolean, ms = 20_000) {
  const until = Date.now() + ms
  while (Date.now() < until) {
    if (await check()) return
    await new Promise((r) => setTimeout(r, 100))
  }
  throw new Error(`timed out; CLI output so far:\n${output}`)
}

beforeAll(async () => {
  ports = {
    v01t: await freePort(),
    media: await freePort(),
    chat: await freePort(),
    auth: await freePort(),
    upstash: await freePort(),
    db: await freePort(),
    control: await freePort(),
  }
  scenariosDir = mkdtempSync(join(tmpdir(), 'cli-scenarios-'))
  cpSync(join(ROOT, 'scenarios'), scenariosDir, { recursive: true })
  env = {
    MOCKS_V01T_PORT: String(ports.v01t),
    MOCKS_MEDIA_PORT: String(ports.media),
    MOCKS_CHAT_PORT: String(ports.chat),
    MOCKS_AUTH_PORT: String(ports.auth),
    MOCKS_UPSTASH_PORT: String(ports.upstash),
    MOCKS_DB_PORT: String(ports.db),
    MOCKS_CONTROL_PORT: String(ports.control),
    MOCKS_SCENARIOS_DIR: scenariosDir,
    MOCKS_LOG_FORMAT: 'json',
    MOCKS_LOG_LEVEL: 'info',
  }
  const inherited = { ...process.env }
  delete inherited.MOCKS_CONTROL_URL
  delete inherited.MOCKS_HOST
  child = spawnJob('pnpm', ['dev:mocks'], { env: { ...inherited, ...env }, cwd: ROOT }, (d) => {
    output += d
  })
  await waitFor(() => output.includes('Ctrl-C stops everything'), 30_000)
}, 40_000)

afterAll(() => {
  if (child.exitCode === null && child.pid) process.kill(-child.pid, 'SIGKILL')
})

describe('pnpm dev:mocks / pnpm mocks', () => {
  it('prints every URL, the env block for family-hub and the seeded users', () => {
    for (const name of [
      'CHAT_SERVICE_URL',
      'NEXT_PUBLIC_CHAT_WS_URL',
      'MEDIA_SERVICE_URL',
      'AUTH_SERVICE_URL',
      'V01T_API_URL',
      'NEXT_PUBLIC_V01T_API_URL',
      'BETTER_AUTH_SECRET',
      'UPSTASH_REDIS_REST_URL',
      'UPSTASH_REDIS_REST_TOKEN',
      'WS_TOKEN_SECRET',
      'DATABASE_URL',
    ]) {
      expect(output).toContain(`${name}=`)
    }
    expect(output).toContain(`UPSTASH_REDIS_REST_URL=http://localhost:${ports.upstash}`)
    expect(output).toContain(`NEXT_PUBLIC_CHAT_WS_URL=ws://localhost:${ports.chat}\n`)
    expect(output).toContain(`DATABASE_URL=postgres://postgres:postgres@127.0.0.1:${ports.db}/postgres`)
    expect(output).toMatch(/child@casa\.test\s+child-password-1\s+child/)
    // One host form for every URL, the control plane's included.
    expect(output).toContain(`  chat     http://localhost:${ports.chat}  `)
    expect(output).toContain(`  control  http://localhost:${ports.control}  `)
    expect(output).toContain(`MOCKS_CONTROL_URL=http://localhost:${ports.control}\n`)
    expect(output).not.toMatch(/^ {2}\w+ +http:\/\/127\.0\.0\.1/m)
    // The origin settings, and how to change them.
    expect(output).toMatch(/Browser origins: .*http:\/\/localhost:<any port>/)
    expect(output).toMatch(/MOCKS_EXTRA_ORIGINS adds more, MOCKS_ALLOWED_ORIGINS replaces/)
  })

  it('health gives the URLs the banner prints (the ones a frontend should use)', async () => {
    const health = (await (await fetch(`http://127.0.0.1:${ports.control}/__mocks/health`)).json()) as {
      services: Record<string, { url: string | null }>
      control: string | null
    }
    // The banner's service lines: `  <name padded to 8> <url>  (<title>)`.
    const printed = Object.fromEntries(
      [...output.matchAll(/^ {2}(\S+) +(\w+:\/\/\S+) {2}\(/gm)].map((m) => [m[1], m[2]]),
    )
    const { control, ...services } = printed
    expect(Object.keys(services).sort()).toEqual(Object.keys(health.services).sort())
    for (const [name, s] of Object.entries(health.services)) expect(s.url, name).toBe(services[name])
    expect(health.control).toBe(control)
    expect(health.control).toBe(`http://localhost:${ports.control}`)
    expect(health.services.chat?.url).toBe(`http://localhost:${ports.chat}`)
  })

  it('logs a refused Origin at the default level, naming the env that would allow it', async () => {
    const url = `ws://127.0.0.1:${ports.chat}/ws`
    expect(await ChatTestClient.upgradeStatus(url, { origin: 'http://dev.box.lan:9530' })).toBe(403)
    expect(await ChatTestClient.upgradeStatus(url, { origin: 'http://localhost:9530' })).not.toBe(403)
    const cors = await fetch(`http://127.0.0.1:${ports.media}/api/v1/files/file_sunset`, {
      headers: { origin: 'https://cors.example' },
    })
    expect(cors.headers.get('access-control-allow-origin')).toBeNull()
    await waitFor(() => output.includes('https://cors.example refused by media'))
    expect(output).toMatch(
      /Origin http:\/\/dev\.box\.lan:9530 refused by chat.*MOCKS_EXTRA_ORIGINS=http:\/\/dev\.box\.lan:9530/,
    )
  })

  it('drives the running mocks: scenario, faults, journal, users', async () => {
    expect((await run(['scenarios'])).stdout).toMatch(/chat-down\s+chat-service down/)
    const sw = await run(['scenario', 'chat-rest-500'])
    expect(sw.code).toBe(0)
    expect(JSON.parse(sw.stdout).scenario).toBe('chat-rest-500')
    const added = await run(['fault', 'add', '{"service":"v01t","effect":{"type":"status","status":500}}'])
    expect(added.code).toBe(0)
    const id = JSON.parse(added.stdout).id as string
    expect((await fetch(`http://127.0.0.1:${ports.v01t}/trace/flight-path/artefact/`)).status).toBe(500)
    expect((await run(['faults'])).stdout).toContain(id)
    expect((await run(['fault', 'rm', id])).code).toBe(0)
    expect((await fetch(`http://127.0.0.1:${ports.v01t}/trace/flight-path/artefact/`)).status).toBe(200)
    expect((await run(['journal', '--service', 'v01t'])).stdout).toMatch(
      /v01t GET \/trace\/flight-path\/artefact\/ 200/,
    )
    const bad = await run(['fault', 'add', '{"service":"v01t","effect":{"type":"nope"}}'])
    expect(bad.code).toBe(1)
    expect(bad.stderr).toMatch(/Invalid fault/)
    expect(bad.stderr).not.toMatch(/at .*\.ts:\d+/)
    expect((await run(['reset'])).code).toBe(0)
    expect(JSON.parse((await run(['users'])).stdout)).toHaveLength(6)
    await run(['scenario', 'default'])
  }, 120_000) // a dozen CLI processes, each compiling the CLI with tsx: slow on a loaded machine

  it('re-applies an edited scenario file; a broken edit is reported and the last good one stays', async () => {
    const file = join(scenariosDir, 'default.yaml')
    const original = readFileSync(file, 'utf8')
    writeFileSync(
      file,
      original.replace('faults: []', 'faults:\n  - { service: v01t, effect: { type: status, status: 503 } }'),
    )
    await waitFor(
      async () => (await fetch(`http://127.0.0.1:${ports.v01t}/trace/flight-path/artefact/`)).status === 503,
    )
    writeFileSync(file, `${original}\nbogus: [unclosed\n`)
    await waitFor(() => output.includes('scenario edit rejected'))
    // Still the last good version: the fault from the previous edit is in force.
    expect((await fetch(`http://127.0.0.1:${ports.v01t}/trace/flight-path/artefact/`)).status).toBe(503)
    writeFileSync(file, original)
    await waitFor(
      async () => (await fetch(`http://127.0.0.1:${ports.v01t}/trace/flight-path/artefact/`)).status === 200,
    )
  }, 30_000)

  it('says plainly when the mocks are not running, naming the URL and the variables it came from', async () => {
    const res = await run(['health'], { MOCKS_CONTROL_URL: 'http://127.0.0.1:9' })
    expect(res.code).toBe(1)
    expect(res.stderr).toMatch(
      /not answering at http:\/\/127\.0\.0\.1:9 .*MOCKS_CONTROL_URL=.*pnpm dev:mocks/,
    )
    const closed = await freePort()
    const byPort = await run(['health'], { MOCKS_CONTROL_PORT: String(closed) })
    expect(byPort.code).toBe(1)
    expect(byPort.stderr).toContain(
      `not answering at http://127.0.0.1:${closed} (ECONNREFUSED); that URL comes from MOCKS_CONTROL_PORT=${closed}`,
    )
  }, 60_000)

  it('Ctrl-C (SIGINT to the whole foreground group) stops everything, frees the ports and exits 0', async () => {
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
    process.kill(-(child.pid as number), 'SIGINT')
    expect(await exited).toBe(0)
    expect(output).not.toMatch(/ELIFECYCLE|exit code 130/)
    for (const port of Object.values(ports))
      expect(await connectResult(`http://127.0.0.1:${port}`)).toBe('ECONNREFUSED')
  }, 20_000)
})
