import { type ChildProcess, spawn } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { builtinModules } from 'node:module'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { PORT_ENV } from '../mocks/runtime/config.ts'
import { buildBundle } from './build.ts'

// The production bundle (what the image runs): built into a temp folder under dist/ (so its
// packages resolve from node_modules, as in the image), started with plain node from another
// working directory on ephemeral ports, asked for health, stopped.

const root = fileURLToPath(new URL('../', import.meta.url))
mkdirSync(path.join(root, 'dist'), { recursive: true })
const dir = mkdtempSync(path.join(root, 'dist', '.test-bundle-'))
let built: Awaited<ReturnType<typeof buildBundle>>

beforeAll(async () => {
  // Three levels deep, unlike the sources (two): a path resolved from the bundle's own URL
  // instead of its source file's would miss scenarios/ and fixtures/.
  built = await buildBundle({ outfile: path.join(dir, 'nested', 'mocks.mjs') })
}, 60_000)
afterAll(() => rmSync(dir, { recursive: true, force: true }))

/** `@scope/name/sub` -> `@scope/name`; `name/sub` -> `name`. */
const packageOf = (specifier: string) =>
  specifier
    .split('/')
    .slice(0, specifier.startsWith('@') ? 2 : 1)
    .join('/')

describe('dist/mocks.mjs', () => {
  it('imports only Node built-ins and production dependencies (the image installs no others)', () => {
    const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as {
      dependencies: Record<string, string>
    }
    const output = Object.values(built.metafile.outputs).find((o) => o.entryPoint)
    const external = (output?.imports ?? []).filter((i) => i.external).map((i) => i.path)
    expect(external.length).toBeGreaterThan(0)
    const builtins = new Set(builtinModules)
    for (const specifier of external) {
      if (specifier.startsWith('node:') || builtins.has(specifier)) continue
      expect(Object.keys(pkg.dependencies), `bundle imports ${specifier}`).toContain(packageOf(specifier))
    }
    // sharp has native parts: it must stay a package, never inlined.
    expect(external).toContain('sharp')
    // It is the package's bin: runnable by npx / a node_modules/.bin link.
    expect(readFileSync(built.outfile, 'utf8').startsWith('#!/usr/bin/env node\n')).toBe(true)
  })

  it('starts with plain node from any working directory and answers health', async () => {
    const ports = Object.fromEntries(Object.values(PORT_ENV).map((name) => [name, '0']))
    const child: ChildProcess = spawn(process.execPath, [built.outfile, 'start'], {
      cwd: tmpdir(),
      env: { ...process.env, ...ports, MOCKS_LOG_LEVEL: 'warn', MOCKS_SCENARIOS_DIR: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    child.stdout?.on('data', (d) => {
      stdout += d
    })
    child.stderr?.on('data', (d) => {
      stderr += d
    })
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
    try {
      const controlUrl = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no banner in 15 s\n${stdout}\n${stderr}`)), 15_000)
        const look = () => {
          const m = /^ {2}control +(http:\/\/\S+)/m.exec(stdout)
          if (m?.[1]) {
            clearTimeout(timer)
            resolve(m[1])
          }
        }
        child.stdout?.on('data', look)
        void exited.then((code) => reject(new Error(`exited with ${code}\n${stdout}\n${stderr}`)))
      })
      const res = await fetch(`${controlUrl}/__mocks/health`)
      expect(res.status).toBe(200)
      const health = (await res.json()) as { scenario: string; services: Record<string, { state: string }> }
      expect(health.scenario).toBe('default')
      expect(Object.keys(health.services).sort()).toEqual(['auth', 'chat', 'media', 'upstash', 'v01t'])
      for (const s of Object.values(health.services)) expect(s.state).toBe('up')
    } finally {
      child.kill('SIGTERM')
    }
    expect(await exited).toBe(0)
    expect(stderr).toBe('')
  }, 30_000)
})
