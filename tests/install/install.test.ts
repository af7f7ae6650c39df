import { execFile } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { PORT_ENV } from '../../mocks/runtime/config.ts'
import { commandsOf, readmeBlocks } from '../../scripts/readme-blocks.ts'
import { connectResult } from '../helpers.ts'
import { freePorts } from '../ports.ts'
import { cleanEnv, type GroupProcess, spawnGroup } from './process-group.ts'

// The documented install, as a new user does it from another repository: `pnpm pack` here,
// then the README's own install command in a scratch pnpm project and a scratch npm project
// (with the README's pnpm-workspace.yaml), the README's Playwright and msw files written there
// verbatim, and in each: one copy of msw and @playwright/test, a strict `tsc --noEmit`, the
// vitest+msw example, the `devarno-mocks` bin (start, a command, Ctrl-C) and the Playwright
// example in Debian's Chromium. Slow (a few minutes): its own vitest config, `pnpm test:install`,
// run by .ci/run.

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const README = readFileSync(join(ROOT, 'README.md'), 'utf8')
const BLOCKS = readmeBlocks(README)
const TARBALL_PLACEHOLDER = '/path/to/devarno-mocks-0.1.0.tgz'
/** The consumer's own compiler, for its strict `tsc --noEmit` (DESIGN §7's versions). */
const CONSUMER_TOOLS = ['typescript@7.0.2', '@types/node@^20']
const CHROMIUM = '/usr/bin/chromium'

function readmeFile(path: string): string {
  const block = BLOCKS.find((b) => b.file === path)
  if (!block) throw new Error(`README.md has no \`${path}\` block (a fenced block whose first line names it)`)
  return block.code
}

function readmeCommand(prefix: string): string {
  const command = BLOCKS.filter((b) => b.lang === 'sh' || b.lang === 'bash')
    .flatMap(commandsOf)
    .find((c) => c.startsWith(prefix))
  if (!command) throw new Error(`README.md has no \`${prefix}...\` command`)
  return command
}

interface Run {
  code: number
  out: string
}
function sh(command: string, cwd: string, env = cleanEnv(), timeout = 180_000): Promise<Run> {
  return new Promise((resolve) => {
    execFile('bash', ['-c', command], { cwd, env, timeout, maxBuffer: 64 << 20 }, (err, stdout, stderr) =>
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, out: `${stdout}${stderr}` }),
    )
  })
}

async function portsEnv(): Promise<Record<string, string>> {
  // A free port for every registered fake and the control plane (PORT_ENV follows the registry).
  const names = Object.values(PORT_ENV)
  const ports = await freePorts(names.length + 1)
  return {
    ...Object.fromEntries(names.map((name, i) => [name, String(ports[i])])),
    APP_URL: `http://localhost:${ports[names.length]}`,
  }
}

/** `npx devarno-mocks start` as a terminal's foreground job (its own process group), once its banner is out. */
async function startBin(app: string, env: NodeJS.ProcessEnv): Promise<GroupProcess> {
  const run = spawnGroup('npx', ['devarno-mocks', 'start'], { cwd: app, env })
  const until = Date.now() + 30_000
  while (
    !run.output().includes('Ctrl-C stops everything') &&
    Date.now() < until &&
    run.child.exitCode === null
  )
    await new Promise((r) => setTimeout(r, 100))
  expect(run.output()).toContain('Ctrl-C stops everything')
  return run
}

/** Every port of the mocks (from portsEnv) refuses connections: nothing listens any more. */
async function expectPortsFree(ports: Record<string, string>) {
  for (const name of Object.values(PORT_ENV))
    expect(await connectResult(`http://127.0.0.1:${ports[name]}`), `${name}=${ports[name]}`).toBe(
      'ECONNREFUSED',
    )
}

/** Real package.json files of a package under node_modules (symlinks not followed: pnpm's are links). */
function copiesOf(nodeModules: string, name: string): string[] {
  const found: string[] = []
  const walk = (dir: string, depth: number) => {
    if (depth > 8) return
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (!entry.isDirectory()) continue
      const full = join(dir, entry.name)
      if (full.endsWith(`node_modules/${name}`) && existsSync(join(full, 'package.json'))) found.push(full)
      walk(full, depth + 1)
    }
  }
  walk(nodeModules, 0)
  return found
}

// ---- files of the scratch projects that are not the README's (the app, the harness) ----

/** A stand-in frontend: one page that reads chat history from the mocks in the browser. */
const APP = `import { createServer } from 'node:http'
const chat = \`http://localhost:\${process.env.MOCKS_CHAT_PORT ?? 8082}\`
const port = Number(new URL(process.env.APP_URL ?? 'http://localhost:3000').port)
const page = \`<!doctype html><title>app</title><p id="out">loading</p><script>
fetch(\${JSON.stringify(chat)} + '/api/v1/messages?channel=general', { credentials: 'include' })
  .then(async (r) => { out.textContent = r.ok ? (await r.json()).length + ' messages' : 'chat unavailable (' + r.status + ')' })
  .catch((e) => { out.textContent = 'chat unreachable: ' + e.message })
</script>\`
createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end(page)).listen(port, '127.0.0.1')
`

/**
 * The README's config, run in Debian's Chromium (never \`playwright install\`), on 3 workers: the
 * example is a parallel suite (Playwright's default would be 1 worker on a 2-core machine).
 */
const PLAYWRIGHT_CI_CONFIG = `import base from './playwright.config.ts'
export default {
  ...base,
  workers: 3,
  reporter: 'line',
  use: {
    ...base.use,
    launchOptions: {
      executablePath: ${JSON.stringify(CHROMIUM)},
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    },
  },
}
`

/** Tests using the README's test/setup.ts (REST, the chat WebSocket through ws.link, a fault). */
const MSW_TEST = `import { expect, test } from 'vitest'
import { fakes } from './setup.js'

test('REST through msw: a seeded session reads chat history', async () => {
  const res = await fetch('http://localhost:8082/api/v1/messages?channel=general', {
    headers: { cookie: fakes.cookieFor('member') },
  })
  expect(res.status).toBe(200)
  expect((await fetch('http://localhost:8082/api/v1/messages?channel=general')).status).toBe(401)
})

test('the chat WebSocket through ws.link (one copy of msw)', async () => {
  const ws = new WebSocket(\`ws://localhost:8082/ws?token=\${encodeURIComponent(fakes.tokenFor('member'))}\`)
  await new Promise<void>((resolve, reject) => {
    ws.addEventListener('open', () => resolve(), { once: true })
    ws.addEventListener('close', (e) => reject(new Error(\`closed \${e.code}\`)), { once: true })
  })
  expect(ws.readyState).toBe(WebSocket.OPEN)
  ws.close()
})

test('faults apply in-process', async () => {
  await fakes.mocks.faults.add({ service: 'chat', effect: { type: 'status', status: 503 } })
  const res = await fetch('http://localhost:8082/api/v1/messages?channel=general', {
    headers: { cookie: fakes.cookieFor('member') },
  })
  expect(res.status).toBe(503)
})
`

/** A strict consumer tsconfig with no option for devarno-mocks' sake. */
const TSCONFIG = `${JSON.stringify(
  {
    compilerOptions: {
      target: 'ES2022',
      module: 'NodeNext',
      moduleResolution: 'NodeNext',
      strict: true,
      noEmit: true,
      types: ['node'],
    },
    include: ['**/*.ts'],
    exclude: ['node_modules'],
  },
  null,
  2,
)}\n`

// ---- the run ----

/** A scratch project of one kind, installed as the README says, with the README's files. */
async function prepare(pm: 'pnpm' | 'npm'): Promise<{ app: string; typecheck: Promise<Run> }> {
  const app = join(work, `${pm}-app`)
  mkdirSync(app, { recursive: true })
  writeFileSync(
    join(app, 'package.json'),
    `${JSON.stringify({ name: `scratch-${pm}`, private: true, type: 'module', scripts: { dev: 'node app.mjs' } }, null, 2)}\n`,
  )
  if (pm === 'pnpm') writeFileSync(join(app, 'pnpm-workspace.yaml'), readmeFile('pnpm-workspace.yaml'))
  const line = readmeCommand(pm === 'pnpm' ? 'pnpm add -D ' : 'npm install -D ')
  expect(line).toContain(TARBALL_PLACEHOLDER)
  const install = await sh(
    `${line.replace(TARBALL_PLACEHOLDER, tarball)} ${CONSUMER_TOOLS.join(' ')}${pm === 'npm' ? ' --no-audit --no-fund' : ''}`,
    app,
  )
  expect(install.code, install.out).toBe(0)
  for (const path of ['playwright.config.ts', 'tests/chat.spec.ts', 'vitest.config.ts', 'test/setup.ts']) {
    mkdirSync(dirname(join(app, path)), { recursive: true })
    writeFileSync(join(app, path), readmeFile(path))
  }
  writeFileSync(join(app, 'app.mjs'), APP)
  writeFileSync(join(app, 'playwright.ci.config.mjs'), PLAYWRIGHT_CI_CONFIG)
  writeFileSync(join(app, 'test', 'chat.test.ts'), MSW_TEST)
  writeFileSync(join(app, 'tsconfig.json'), TSCONFIG)
  // Started now, awaited by its test: it overlaps the others (the whole run stays short).
  const typecheck = sh('node_modules/.bin/tsc --noEmit -p .', app)
  return { app, typecheck }
}

let work: string
let tarball: string
const apps: Partial<Record<'pnpm' | 'npm', { app: string; typecheck: Promise<Run> }>> = {}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'devarno-install-'))
  // The README's `pnpm pack` (it builds dist/ through prepare), written outside the checkout.
  const pack = await sh(`${readmeCommand('pnpm pack')} --pack-destination ${JSON.stringify(work)}`, ROOT)
  expect(pack.code, pack.out).toBe(0)
  const file = readdirSync(work).find((f) => f.endsWith('.tgz'))
  if (!file) throw new Error(`pnpm pack wrote no tarball:\n${pack.out}`)
  tarball = join(work, file)
  if (!existsSync(CHROMIUM)) {
    const apt = await sh('apt-get install -y -qq chromium >/dev/null', ROOT)
    expect(apt.code, `Debian's chromium is needed at ${CHROMIUM}: ${apt.out}`).toBe(0)
  }
  // Both installs at once: mostly waiting on the registry and the disk.
  ;[apps.pnpm, apps.npm] = await Promise.all([prepare('pnpm'), prepare('npm')])
}, 240_000)

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true })
})

for (const pm of ['pnpm', 'npm'] as const) {
  describe.sequential(`installed with ${pm}`, () => {
    let app: string
    let typecheck: Promise<Run>
    beforeAll(() => {
      const prepared = apps[pm]
      if (!prepared) throw new Error(`the ${pm} project was not prepared`)
      ;({ app, typecheck } = prepared)
    })

    it('has one copy of msw and of @playwright/test (the peers are the app’s own)', () => {
      expect(copiesOf(join(app, 'node_modules'), 'msw')).toHaveLength(1)
      expect(copiesOf(join(app, 'node_modules'), '@playwright/test')).toHaveLength(1)
    })

    it('runs the vitest + msw example', async () => {
      const r = await sh('node_modules/.bin/vitest run', app)
      expect(r.code, r.out).toBe(0)
      expect(r.out).toMatch(/3 passed/)
    }, 120_000)

    // The bin is one file whatever installed it: checked once (npm's project), to keep the run short.
    if (pm === 'npm')
      it('runs `npx devarno-mocks start` from the package (no checkout), commands through npx; Ctrl-C frees every port', async () => {
        const ports = await portsEnv()
        const env = cleanEnv(ports)
        const run = await startBin(app, env)
        try {
          const health = await sh('npx devarno-mocks health', app, env, 30_000)
          expect(health.code, health.out).toBe(0)
          expect(JSON.parse(health.out)).toMatchObject({ scenario: 'default' })
          const scenarios = await sh('npx devarno-mocks scenarios', app, env, 30_000)
          expect(scenarios.out).toMatch(/chat-down\s+/)
          // The database: PGlite starts in the package's own worker file (dist/pglite-worker.mjs).
          const db = new pg.Client({
            connectionString: `postgres://postgres:postgres@127.0.0.1:${ports[PORT_ENV.db!]}/postgres`,
          })
          await db.connect()
          try {
            expect((await db.query<{ n: number }>('SELECT 41 + 1 AS n')).rows).toEqual([{ n: 42 }])
          } finally {
            await db.end()
          }
        } finally {
          run.interrupt()
        }
        const [code, signal] = await Promise.all([run.exited, run.signal])
        // The bin closes everything and exits 0; npx's `sh -c` (dash) then re-raises the SIGINT it
        // got, as it does for any command, so npx ends by it: a shell shows 130.
        expect(code === 0 || signal === 'SIGINT', `code ${code}, signal ${signal}:\n${run.output()}`).toBe(
          true,
        )
        expect(run.output()).toMatch(/stopping/)
        expect(run.output()).not.toMatch(/ELIFECYCLE|exit code 130|did not close within/)
        // Nothing left behind once npx has returned: no process, no port.
        expect(run.alive()).toEqual([])
        await expectPortsFree(ports)
      }, 60_000)

    if (pm === 'npm')
      it('a SIGTERM to npx alone (a harness’s child.kill()) leaves no orphan holding the ports', async () => {
        const ports = await portsEnv()
        const run = await startBin(app, cleanEnv(ports))
        try {
          // npm forwards it to its `sh -c`, which dies of it without passing it on: the bin
          // notices that its parent is gone and closes.
          run.child.kill('SIGTERM')
          await run.exited
          const until = Date.now() + 5_000
          while (run.alive().length && Date.now() < until) await new Promise((r) => setTimeout(r, 100))
          expect(run.alive(), run.output()).toEqual([])
          await expectPortsFree(ports)
          expect(run.output()).toMatch(/parent exited/)
        } finally {
          for (const pid of run.alive()) process.kill(pid, 'SIGKILL')
        }
      }, 60_000)

    it('runs the Playwright example against the bin, in Debian Chromium', async () => {
      const r = await sh(
        'node_modules/.bin/playwright test -c playwright.ci.config.mjs',
        app,
        cleanEnv(await portsEnv()),
      )
      expect(r.code, r.out).toBe(0)
      expect(r.out).toMatch(/3 passed/)
    }, 150_000)

    it('passes a strict tsc --noEmit over the README files and the tests using them', async () => {
      const r = await typecheck
      expect(r.code, r.out).toBe(0)
    }, 180_000)
  })
}
