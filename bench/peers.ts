import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { answers200, type Captured, freePorts, sleep } from './net.ts'

// Peers: other mock servers serving the same captured bytes, each in its own process (WireMock
// from the npm `wiremock` package's standalone jar on the machine's Java; Mockoon's CLI from
// npm). A missing peer is reported, never fatal: `pnpm bench` goes on without it.

export type PeerName = 'wiremock' | 'mockoon'

export interface Peer {
  name: PeerName
  /** How it runs, for the report. */
  description: string
  url: string
  /** Process CPU time so far (user + system, all threads), µs, from /proc (10 ms ticks). */
  cpu(): number
  close(): Promise<void>
}

export type PeerStart = { ok: true; peer: Peer } | { ok: false; name: PeerName; why: string }

const require = createRequire(import.meta.url)
const TICKS_PER_SECOND = 100

/** user + system CPU of a whole process (every thread), µs; NaN where /proc is unavailable. */
export function processCpuUs(pid: number): number {
  try {
    // Fields after the command (which may hold spaces) start at state: utime, stime are 12 and 13 after it.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return ((Number(rest[11]) + Number(rest[12])) / TICKS_PER_SECOND) * 1e6
  } catch {
    return Number.NaN
  }
}

/** Headers a server computes itself for the bytes it sends. */
const COMPUTED = new Set(['content-length'])
const servedHeaders = (captured: Captured) =>
  Object.entries(captured.headers).filter(([k]) => !COMPUTED.has(k.toLowerCase()))

async function waitFor(url: string, child: ChildProcess, output: () => string, timeoutMs: number) {
  const deadline = performance.now() + timeoutMs
  let exited: number | null = null
  child.once('exit', (code) => {
    exited = code ?? -1
  })
  while (performance.now() < deadline) {
    if (exited !== null) throw new Error(`exited (code ${exited}) before answering: ${output().slice(-600)}`)
    if (await answers200(url)) return
    await sleep(50)
  }
  throw new Error(`no 200 from ${url} within ${timeoutMs / 1000} s: ${output().slice(-600)}`)
}

function stopper(child: ChildProcess, dir: string) {
  return async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()))
      child.kill('SIGTERM')
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000)
      await gone
      clearTimeout(timer)
    }
    await rm(dir, { recursive: true, force: true })
  }
}

function collect(child: ChildProcess): () => string {
  let out = ''
  const keep = (d: Buffer) => {
    out = (out + d.toString()).slice(-4000)
  }
  child.stdout?.on('data', keep)
  child.stderr?.on('data', keep)
  return () => out
}

/** Java on PATH (`java -version` runs), or why not. */
export function javaVersion(): { ok: true; version: string } | { ok: false; why: string } {
  const r = spawnSync('java', ['-version'], { encoding: 'utf8', timeout: 20_000 })
  if (r.error || r.status !== 0) {
    return {
      ok: false,
      why: `Java not found (${r.error?.message ?? `java -version exited ${r.status}`}); on Debian: apt-get install -y default-jre-headless`,
    }
  }
  return { ok: true, version: (r.stderr || r.stdout).split('\n')[0]?.trim() ?? 'java' }
}

/**
 * WireMock standalone: one stub mapping (exact URL) answering the captured status, headers and
 * body; its request journal capped at the fake's own journal size (5,000), banner off.
 */
/** A started peer once it answers `pathAndQuery`; stopped and reported when it does not. */
async function running(
  child: ChildProcess,
  dir: string,
  o: {
    name: PeerName
    label: string
    port: number | undefined
    pathAndQuery: string
    timeoutMs: number
    description: string
  },
): Promise<PeerStart> {
  const output = collect(child)
  const close = stopper(child, dir)
  const url = `http://127.0.0.1:${o.port}`
  try {
    await waitFor(url + o.pathAndQuery, child, output, o.timeoutMs)
  } catch (err) {
    await close()
    return { ok: false, name: o.name, why: `${o.label} did not start: ${(err as Error).message}` }
  }
  return {
    ok: true,
    peer: { name: o.name, description: o.description, url, cpu: () => processCpuUs(child.pid!), close },
  }
}

export async function startWireMock(
  pathAndQuery: string,
  captured: Captured,
  timeoutMs = 60_000,
): Promise<PeerStart> {
  const name = 'wiremock'
  const java = javaVersion()
  if (!java.ok) return { ok: false, name, why: java.why }
  let jar: string
  try {
    const pkg = path.dirname(require.resolve('wiremock/package.json'))
    const version = (require('wiremock/package.json') as { version: string }).version
    jar = path.join(pkg, 'build', `wiremock-standalone-${version}.jar`)
    readFileSync(jar, { flag: 'r' }).subarray(0, 0)
  } catch (err) {
    return { ok: false, name, why: `the npm wiremock package's jar is missing (${(err as Error).message})` }
  }
  const dir = await mkdtemp(path.join(tmpdir(), 'bench-wiremock-'))
  await mkdir(path.join(dir, 'mappings'))
  await writeFile(
    path.join(dir, 'mappings', 'bench.json'),
    JSON.stringify({
      request: { method: 'GET', url: pathAndQuery },
      response: {
        status: captured.status,
        headers: Object.fromEntries(servedHeaders(captured)),
        base64Body: captured.body.toString('base64'),
      },
    }),
  )
  const [port] = await freePorts(1)
  const child = spawn(
    'java',
    [
      '-jar',
      jar,
      '--port',
      String(port),
      '--bind-address',
      '127.0.0.1',
      '--root-dir',
      dir,
      '--disable-banner',
      '--max-request-journal-entries',
      '5000',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  )
  return running(child, dir, {
    name,
    label: 'WireMock',
    port,
    pathAndQuery,
    timeoutMs,
    description: `WireMock ${path.basename(jar, '.jar').replace('wiremock-standalone-', '')} (standalone jar, ${java.version})`,
  })
}

/**
 * Mockoon's CLI: an environment (built with @mockoon/commons) with one GET route answering the
 * captured status, headers and body, templating off, CORS off (the captured headers carry
 * the fake's own), logging to stdout only (discarded).
 */
export async function startMockoon(
  pathAndQuery: string,
  captured: Captured,
  timeoutMs = 60_000,
): Promise<PeerStart> {
  const name = 'mockoon'
  let bin: string
  let version: string
  let commons: typeof import('@mockoon/commons')
  try {
    const pkg = require('@mockoon/cli/package.json') as { version: string; bin: Record<string, string> }
    version = pkg.version
    bin = path.join(path.dirname(require.resolve('@mockoon/cli/package.json')), pkg.bin['mockoon-cli']!)
    commons = await import('@mockoon/commons')
  } catch (err) {
    return { ok: false, name, why: `@mockoon/cli is not installed (${(err as Error).message})` }
  }
  const [port] = await freePorts(1)
  const env = commons.BuildEnvironment({
    hasDefaultRoute: false,
    hasContentTypeHeader: false,
    hasCorsHeaders: false,
    port: port!,
  })
  env.name = 'bench'
  env.cors = false
  const endpoint = new URL(pathAndQuery, 'http://x').pathname.replace(/^\//, '')
  const route = commons.BuildHTTPRoute(true, { endpoint, body: captured.body.toString('utf8') })
  const response = route.responses[0]!
  response.statusCode = captured.status
  response.disableTemplating = true
  response.headers = servedHeaders(captured).map(([key, value]) => commons.BuildHeader(key, value))
  env.routes = [route]
  env.rootChildren = [{ type: 'route', uuid: route.uuid }]
  const dir = await mkdtemp(path.join(tmpdir(), 'bench-mockoon-'))
  const file = path.join(dir, 'environment.json')
  await writeFile(file, JSON.stringify(env))
  const child = spawn(
    process.execPath,
    [
      bin,
      'start',
      '--data',
      file,
      '--port',
      String(port),
      '--hostname',
      '127.0.0.1',
      '--disable-log-to-file',
    ],
    // Its per-request log lines go to stdout: drained (not kept) so it never blocks on a full pipe.
    { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NODE_ENV: 'production' } },
  )
  return running(child, dir, {
    name,
    label: "Mockoon's CLI",
    port,
    pathAndQuery,
    timeoutMs,
    description: `Mockoon CLI ${version} (node ${process.version})`,
  })
}

export function startPeer(name: PeerName, pathAndQuery: string, captured: Captured): Promise<PeerStart> {
  return name === 'wiremock' ? startWireMock(pathAndQuery, captured) : startMockoon(pathAndQuery, captured)
}
