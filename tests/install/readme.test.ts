import { type ChildProcess, execFile, spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parse } from 'yaml'
import { FAKES } from '../../mocks/registry.ts'
import { PORT_ENV } from '../../mocks/runtime/config.ts'
import { ScenarioLoader } from '../../mocks/runtime/scenario-loader.ts'
import { commandsOf, type ReadmeBlock, readmeBlocks } from '../../scripts/readme-blocks.ts'
import { freePorts } from '../ports.ts'
import { cleanEnv, spawnGroup } from './process-group.ts'

// Every command and TypeScript (and YAML) block of the README runs somewhere, so the README
// cannot drift from the code. Blocks are found by their language tag, commands one by one:
// - run here: the quick start (setup, then `pnpm dev:mocks` started, asked for health, stopped
//   with Ctrl-C), the curl calls and every `pnpm mocks` command against running mocks (their
//   documented port 8090 replaced by the free port the mocks got), a scenario block loaded by
//   the scenario loader;
// - run by tests/install/install.test.ts: the install commands and the files it writes into
//   the scratch projects (blocks naming their path on the first line);
// - SKIPPED below, each with its reason. Anything else fails this test: a new README block
//   must be run, or listed here.

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const BLOCKS = readmeBlocks(readFileSync(join(ROOT, 'README.md'), 'utf8'))

/** The only README content not run in CI, and why. */
const SKIPPED: { match: RegExp; reason: string }[] = [
  {
    match: /^npm run setup && pnpm test$/,
    reason: 'it is CI itself: .ci/run runs scripts/setup.sh, then pnpm test',
  },
  {
    match: /docker compose/,
    reason: 'no container engine runs here; pnpm check:compose validates the compose file (CI runs it)',
  },
  {
    match: /startMocksContainer/,
    reason:
      'needs a container runtime; tests/containers.test.ts runs it where there is one and reports itself skipped, with the reason, where there is none',
  },
  {
    match: /^pnpm bench(\s|$)/,
    reason: 'the full bench takes about 5 minutes; bench/*.test.ts smoke-tests its harness',
  },
]

/** Commands and files tests/install/install.test.ts runs (it fails if they leave the README). */
const INSTALL_COMMANDS = [/^pnpm pack$/, /^pnpm add -D \/path\/to\//, /^npm install -D \/path\/to\//]
const INSTALL_FILES = [
  'pnpm-workspace.yaml',
  'playwright.config.ts',
  'tests/chat.spec.ts',
  'vitest.config.ts',
  'test/setup.ts',
]

const skipReason = (text: string) => SKIPPED.find((s) => s.match.test(text))?.reason
const isShell = (b: ReadmeBlock) => b.lang === 'sh' || b.lang === 'bash'

function sh(command: string, env: NodeJS.ProcessEnv, timeout = 90_000) {
  return new Promise<{ code: number; out: string }>((resolve) => {
    execFile(
      'bash',
      ['-c', command],
      { cwd: ROOT, env, timeout, maxBuffer: 16 << 20 },
      (err, stdout, stderr) =>
        resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, out: `${stdout}${stderr}` }),
    )
  })
}

/** A long-running command: started in its own process group, it counts as run once `ready` holds; Ctrl-C must end it with 0. */
async function runLongRunning(
  command: string,
  env: NodeJS.ProcessEnv,
  ready: (out: string) => Promise<boolean>,
) {
  const run = spawnGroup('bash', ['-c', command], { cwd: ROOT, env })
  try {
    const until = Date.now() + 60_000
    let ok = false
    while (!ok && Date.now() < until && run.child.exitCode === null) {
      ok = await ready(run.output()).catch(() => false)
      if (!ok) await new Promise((r) => setTimeout(r, 200))
    }
    expect(ok, `${command} did not become ready:\n${run.output()}`).toBe(true)
  } finally {
    run.interrupt()
  }
  const code = await run.exited
  const out = run.output()
  expect(code, `${command} after Ctrl-C:\n${out}`).toBe(0)
  expect(out).not.toMatch(/ELIFECYCLE/)
  return out
}

const healthy = async (url: string) => (await fetch(url)).status === 200

describe('README blocks', () => {
  it('every command and code block is run here, by tests/install, or listed in SKIPPED', () => {
    const unhandled: string[] = []
    for (const b of BLOCKS) {
      if (isShell(b)) {
        for (const c of commandsOf(b)) {
          const known =
            skipReason(c) ||
            INSTALL_COMMANDS.some((re) => re.test(c)) ||
            /^npm run setup && pnpm dev:mocks$/.test(c) ||
            c.startsWith('curl ') ||
            c.startsWith('pnpm mocks ')
          if (!known) unhandled.push(`line ${b.line}: ${c}`)
        }
      } else if (b.lang === 'ts' || b.lang === 'yaml' || b.lang === 'typescript') {
        const known =
          (b.file && INSTALL_FILES.includes(b.file)) ||
          skipReason(b.code) ||
          (b.lang === 'yaml' && /^name:/m.test(b.code))
        if (!known) unhandled.push(`line ${b.line}: ${b.lang} block ${b.code.split('\n')[0]}`)
      }
    }
    expect(
      unhandled,
      'README blocks that no test runs (run them, or add them to SKIPPED with the reason)',
    ).toEqual([])
    // The install test still finds what it runs.
    for (const f of INSTALL_FILES)
      expect(
        BLOCKS.some((b) => b.file === f),
        f,
      ).toBe(true)
  })

  it('a scenario block is a valid scenario', () => {
    const loader = new ScenarioLoader(join(ROOT, 'scenarios'))
    const scenarios = BLOCKS.filter((b) => b.lang === 'yaml' && /^name:/m.test(b.code))
    expect(scenarios.length).toBeGreaterThan(0)
    for (const b of scenarios)
      expect(() => loader.resolveInline(parse(b.code)), `line ${b.line}`).not.toThrow()
  })

  describe('against running mocks', () => {
    let env: NodeJS.ProcessEnv
    let control: number
    let mocks: ChildProcess | undefined

    beforeAll(async () => {
      // A free port for every registered fake and the control plane (PORT_ENV follows the registry).
      const names = Object.values(PORT_ENV)
      const ports = await freePorts(names.length)
      env = cleanEnv({
        MOCKS_LOG_FORMAT: 'json',
        ...Object.fromEntries(names.map((name, i) => [name, String(ports[i])])),
      })
      control = Number(env[PORT_ENV.control])
    })
    afterAll(() => {
      if (mocks?.exitCode === null) process.kill(-(mocks.pid as number), 'SIGKILL')
    })

    it('quick start: npm run setup && pnpm dev:mocks starts, answers health, stops on Ctrl-C', async () => {
      const command = BLOCKS.filter(isShell)
        .flatMap(commandsOf)
        .find((c) => c === 'npm run setup && pnpm dev:mocks')
      expect(command).toBeDefined()
      await runLongRunning(command as string, env, () =>
        healthy(`http://127.0.0.1:${control}/__mocks/health`),
      )
    }, 180_000)

    it('the curl calls and the pnpm mocks commands, in order', async () => {
      mocks = spawn('pnpm', ['dev:mocks'], { cwd: ROOT, env, detached: true, stdio: 'ignore' })
      const until = Date.now() + 60_000
      while (!(await healthy(`http://127.0.0.1:${control}/__mocks/health`).catch(() => false))) {
        if (Date.now() > until) throw new Error('the mocks did not start')
        await new Promise((r) => setTimeout(r, 200))
      }
      const commands = BLOCKS.filter(isShell)
        .flatMap(commandsOf)
        .filter((c) => c.startsWith('curl ') || c.startsWith('pnpm mocks '))
      expect(commands.length).toBeGreaterThan(10)
      for (const raw of commands) {
        // The documented default ports (control and every fake's), moved to this run's.
        let command = raw.replaceAll('localhost:8090', `localhost:${control}`)
        for (const f of FAKES)
          command = command.replaceAll(`localhost:${f.port}/`, `localhost:${env[f.portEnv]}/`)
        if (/^pnpm mocks start\b/.test(command)) {
          // --only: no control plane; each fake answers its own /__mocks/health. Other ports, as
          // the full set is running.
          const [a, c] = await freePorts(2)
          const alone = { ...env, MOCKS_AUTH_PORT: String(a), MOCKS_CHAT_PORT: String(c) }
          await runLongRunning(
            command,
            alone,
            async () =>
              (await healthy(`http://127.0.0.1:${a}/__mocks/health`)) &&
              healthy(`http://127.0.0.1:${c}/__mocks/health`),
          )
          continue
        }
        if (command === 'pnpm mocks tail') {
          await runLongRunning(command, env, async (out) => {
            await fetch(`http://127.0.0.1:${env.MOCKS_V01T_PORT}/trace/devarno-ecosystem/node/`)
            return out.includes('v01t')
          })
          continue
        }
        const r = await sh(command, env)
        expect(r.code, `${raw}\n${r.out}`).toBe(0)
        // JSON, or nothing (a 204).
        if (command.startsWith('curl ') && r.out.trim())
          expect(() => JSON.parse(r.out), `${raw}: ${r.out}`).not.toThrow()
      }
    }, 240_000)
  })
})
