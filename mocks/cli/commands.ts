import { watch } from 'node:fs'
import { parseArgs } from 'node:util'
import { createControlClient } from '../client/index.ts'
import { createLogger } from '../core/logger.ts'
import { markStartup, startupTiming } from '../core/startup.ts'
import type { FakeDescriptor } from '../fake/descriptor.ts'
import { usersForControl } from '../fake/seeded.ts'
import { FAKES } from '../registry.ts'
import { ConfigError, type Env, loadConfig, type MocksConfig, type ServiceName } from '../runtime/config.ts'
import { frontendEnvOf, frontendUrl } from '../runtime/frontend-env.ts'
import { type Mocks, startMocks } from '../runtime/runtime.ts'

// `pnpm mocks <command>`: start the fakes, or drive running ones through the control API.

const HELP = `Usage: pnpm mocks <command> [options]

  start [--only chat,auth] [--scenario name]   run the fakes (all by default) and the control plane
  scenarios                                    list scenarios
  scenario <name>                              switch every fake to a scenario
  reset                                        back to the scenario's first state
  faults                                       list installed faults
  fault add '<json>'                           add a fault, e.g. '{"service":"chat","effect":{"type":"status","status":500}}'
  fault rm <id>                                remove one fault
  fault clear                                  remove every fault
  journal [--service chat] [--method GET] [--path /api/v1/messages]
  tail                                         follow the journal live
  verdicts [--since seq|iso]                   the matrix's rules judged from the journal; exit 1 on a failure
  tenants                                      live tenants (each test's own world)

  --tenant <id>                                act on that tenant (every command but start)
  users                                        seeded users with passwords and cookies
  health                                       what is running where
  parity --auth <url> --email e --password p   compare the fake auth with a running better-auth
`

function out(value: unknown) {
  process.stdout.write(`${typeof value === 'string' ? value : JSON.stringify(value, null, 2)}\n`)
}

/**
 * The AUTH_SERVICE_URL chat and media validate against, as a browser or family-hub reaches it:
 * the one set in env (a real better-auth), else the fake auth's own URL. Null when neither.
 */
export function authServiceUrlInForce(config: MocksConfig, fakeAuthUrl: string | undefined): string | null {
  if (config.explicit.authServiceUrl) return config.authServiceUrl
  return fakeAuthUrl ?? null
}

/** How browser origins are configured (CORS and WebSocket Origin), for the banner. */
export function originBanner(config: Mocks['config']): string {
  const { replaced, extra } = config.originSettings
  if (replaced) {
    return `Browser origins: MOCKS_ALLOWED_ORIGINS=${replaced.join(',')} (replaces the defaults) + the demo's; refused origins are logged`
  }
  const added = extra.length ? ` + MOCKS_EXTRA_ORIGINS=${extra.join(',')}` : ''
  return `Browser origins: https://casa.devarno.cloud, https://*.devarno.cloud, http://localhost:<any port>, http://127.0.0.1:<any port>${added}\n  (MOCKS_EXTRA_ORIGINS adds more, MOCKS_ALLOWED_ORIGINS replaces the list; refused origins are logged)`
}

/** The start-up banner: each service's URL, the env block for a frontend, the seeded users. */
export function banner(mocks: Mocks, env: Env = process.env): string {
  // Every URL with one host form, localhost (frontendUrl says why); health gives the same.
  const url = (s: ServiceName) => {
    const u = mocks.url(s)
    return u && frontendUrl(u)
  }
  const control = mocks.control && frontendUrl(mocks.control.url)
  const running = mocks.fakes.filter((f) => mocks.url(f.name))
  const lines: string[] = ['', `devarno-mocks running scenario "${mocks.scenario.name}"`, '']
  for (const f of running) lines.push(`  ${f.name.padEnd(8)} ${url(f.name)}  (${f.title})`)
  if (control) lines.push(`  control  ${control}  (dashboard and /__mocks API)`)
  lines.push('', originBanner(mocks.config))
  lines.push('', '# paste into family-hub .env.local / devarno-landing .env.local')
  for (const f of running) {
    for (const [name, value] of Object.entries(frontendEnvOf(f, url(f.name) ?? '', env, mocks.scenario)))
      lines.push(`${name}=${value}`)
  }
  // AUTH_SERVICE_URL as chat and media use it: one set in env (a real better-auth) wins.
  const authUrl = authServiceUrlInForce(mocks.config, url('auth'))
  const at = lines.findIndex((l) => l.startsWith('AUTH_SERVICE_URL='))
  if (authUrl && at >= 0) lines[at] = `AUTH_SERVICE_URL=${authUrl}`
  else if (authUrl) lines.push(`AUTH_SERVICE_URL=${authUrl}`)
  lines.push(`BETTER_AUTH_SECRET=${mocks.config.betterAuthSecret}`)
  // Signs the ephemeral WS tokens (POST /api/auth/ws-token); chat checks them with it.
  lines.push(`WS_TOKEN_SECRET=${mocks.config.wsTokenSecret}`)
  if (control) lines.push(`MOCKS_CONTROL_URL=${control}`)
  const users = usersForControl(mocks.scenario, mocks.config.betterAuthSecret)
  if (users.length) lines.push('', 'Seeded users (email / password / role):')
  for (const u of users) {
    lines.push(`  ${u.email.padEnd(28)} ${u.password.padEnd(20)} ${u.role}${u.banned ? ' (banned)' : ''}`)
  }
  lines.push('', 'Ctrl-C stops everything.', '')
  return lines.join('\n')
}

export interface CliOptions {
  /** The fakes known (default the registry): `--only` picks among them. */
  fakes?: readonly FakeDescriptor[]
  env?: Env
  /** Where the banner goes (default stdout). */
  write?: (text: string) => void
}

export interface StartedCli {
  mocks: Mocks
  /** Stop watching scenario files and close every server. */
  stop(): Promise<void>
}

/** `start [--only a,b] [--scenario name]`: runs the fakes and the control plane, prints the banner. */
export async function start(args: string[], opts: CliOptions = {}): Promise<StartedCli> {
  const fakes = opts.fakes ?? FAKES
  const known = fakes.map((f) => f.name)
  const { values } = parseArgs({ args, options: { only: { type: 'string' }, scenario: { type: 'string' } } })
  const only = values.only
    ? values.only
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean)
    : undefined
  for (const s of only ?? []) {
    if (!known.includes(s))
      throw new ConfigError(`--only: unknown service "${s}" (known: ${known.join(', ')})`)
  }
  const env = {
    ...(opts.env ?? process.env),
    ...(values.scenario ? { MOCKS_SCENARIO: values.scenario } : {}),
  }
  const config = loadConfig(env, only?.length === 1 ? only[0] : undefined, fakes)
  const logger = createLogger('cli')
  markStartup('config')
  const mocks = await startMocks({ config, fakes, ...(only ? { only } : {}), control: !only })
  ;(opts.write ?? ((text: string) => process.stdout.write(text)))(banner(mocks, env))
  markStartup('banner')

  // Re-apply the scenario file when it (or one it extends) changes; keep the last good one.
  let timer: ReturnType<typeof setTimeout> | undefined
  const watcher = watch(config.scenariosDir, (_event, file) => {
    if (!file?.endsWith('.yaml')) return
    clearTimeout(timer)
    timer = setTimeout(() => {
      const name = mocks.scenario.name
      mocks.switchScenario({ name }).then(
        () => logger.info({ scenario: name, file }, 'scenario file changed: re-applied'),
        (err) =>
          logger.error(
            { file, error: (err as Error).message },
            'scenario edit rejected; the last good version stays in force',
          ),
      )
    }, 150)
  })
  markStartup('ready')
  // Where start-up time went (bench/coldstart.ts reads this line): MOCKS_LOG_LEVEL=debug.
  logger.debug({ startup: startupTiming() }, 'start-up timing')
  return {
    mocks,
    async stop() {
      clearTimeout(timer)
      watcher.close()
      await mocks.close()
    },
  }
}

/**
 * Started by a package runner (npx, npm / pnpm / yarn scripts: they set npm_lifecycle_event),
 * the bin runs under the runner's `sh -c`. A SIGTERM to the runner alone (a test harness's
 * `child.kill()`) is forwarded to that shell, which dies of it without passing it on: the bin
 * would live on as an orphan holding every port. So there it stops when its parent goes away
 * (polled: Node has no parent-death signal). Started otherwise (a shell's `&`, nohup, a
 * container's CMD), it outlives its parent as before.
 */
function stopWithParent(env: Env, stop: () => void, intervalMs = 500): void {
  if (!env.npm_lifecycle_event) return
  const parent = process.ppid
  const timer = setInterval(() => {
    if (process.ppid === parent) return
    clearInterval(timer)
    stop()
  }, intervalMs)
  timer.unref()
}

/**
 * A signal delivered twice is one request to stop, not two: a process-group kill reaches the
 * bin and the wrapper it runs under, and the wrapper forwards its copy (pnpm at once, tsx after
 * 30 ms). Playwright stops its webServer that way. Only a signal more than `repeatMs` after the
 * first is a second Ctrl-C, which exits without waiting (a stop that hangs can always be cut).
 */
export function stopSignals(repeatMs = 1000, now: () => number = () => performance.now()) {
  let first: number | undefined
  return (signal: string): 'first' | 'repeat' | 'again' => {
    const at = now()
    if (first === undefined) {
      first = at
      return 'first'
    }
    // Only a person's second Ctrl-C hurries a stop: never the parent going away (a group
    // SIGTERM often takes the parent too) while the servers close.
    return at - first < repeatMs || signal === PARENT_EXITED ? 'repeat' : 'again'
  }
}

/** What `stop` is told when the bin's parent went away (stopWithParent). */
export const PARENT_EXITED = 'parent exited'

/**
 * Ctrl-C is how a developer stops the mocks: it closes every server and exits 0 (a signal death
 * makes pnpm report `ELIFECYCLE ... exit code 130`). The handlers go in before the servers
 * start, so a Ctrl-C during start-up is clean too; a second one (not the same one delivered twice: stopSignals) exits at once. Under npx, npx
 * itself still ends by the SIGINT (its `sh -c` re-raises it once the bin has exited, as for any
 * bin: a shell shows 130), after every port is closed.
 */
async function startUntilSignal(args: string[], opts: CliOptions) {
  const logger = createLogger('cli')
  let started: StartedCli | undefined
  const stopping = stopSignals()
  let starting: Promise<StartedCli> | undefined
  const stop = async (signal: string) => {
    const seen = stopping(signal)
    if (seen === 'repeat') return
    if (seen === 'again') {
      process.stderr.write(`\n${signal} again: exiting without waiting for the servers to close\n`)
      process.exit(0)
    }
    logger.info({ signal }, 'stopping')
    setTimeout(() => {
      process.stderr.write('servers did not close within 5 s; exiting anyway\n')
      process.exit(0)
    }, 5000).unref()
    // Stopped while starting: the start is let finish, then everything it opened is closed.
    const running = started ?? (await starting?.catch(() => undefined))
    await running?.stop()
    logger.info({ signal }, 'stopped: every server closed')
    process.exit(0)
  }
  process.on('SIGINT', () => void stop('SIGINT'))
  process.on('SIGTERM', () => void stop('SIGTERM'))
  stopWithParent(opts.env ?? process.env, () => void stop(PARENT_EXITED))
  starting = start(args, opts)
  started = await starting
}

/** Runs one CLI command (`pnpm mocks <command>`). */
/** Replicated mode: which replica answered, at the end of a journal line (nothing otherwise). */
export const answeredBy = (e: { replica?: string | undefined }): string => (e.replica ? ` @${e.replica}` : '')

export async function main(argv: string[], opts: CliOptions = {}): Promise<void> {
  // `--tenant <id>` anywhere: every control call acts on that tenant (X-Mocks-Tenant).
  const at = argv.indexOf('--tenant')
  const tenant = at >= 0 && argv[0] !== 'start' ? argv[at + 1] : undefined
  if (at >= 0 && argv[0] !== 'start' && !tenant) throw new ConfigError('--tenant needs an id')
  const args = tenant !== undefined ? [...argv.slice(0, at), ...argv.slice(at + 2)] : argv
  const [command, ...rest] = args
  const client = createControlClient(tenant !== undefined ? { tenant } : {})
  switch (command) {
    case 'start':
      return startUntilSignal(rest, opts)
    case 'scenarios':
      for (const s of (await client.scenarios()).scenarios) out(`${s.name.padEnd(22)} ${s.description}`)
      return
    case 'scenario':
      if (!rest[0]) throw new ConfigError('scenario needs a name: pnpm mocks scenario chat-down')
      return out(await client.useScenario(rest[0]))
    case 'reset':
      return out(await client.reset())
    case 'faults':
      return out(await client.faults())
    case 'fault': {
      const [sub, arg] = rest
      if (sub === 'add' && arg) return out(await client.addFault(JSON.parse(arg)))
      if (sub === 'rm' && arg) return out((await client.removeFault(arg)) ?? `removed ${arg}`)
      if (sub === 'clear') return out((await client.clearFaults()) ?? 'all faults removed')
      throw new ConfigError("fault needs: add '<json>' | rm <id> | clear")
    }
    case 'journal': {
      const { values } = parseArgs({
        args: rest,
        options: { service: { type: 'string' }, method: { type: 'string' }, path: { type: 'string' } },
      })
      for (const e of (await client.journal(values)).entries)
        out(`${e.seq} ${e.service} ${e.method} ${e.path} ${e.status ?? ''}${answeredBy(e)}`)
      return
    }
    case 'tail':
      await client.health()
      // Followed until Ctrl-C, which ends it normally (exit 0).
      for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => process.exit(0))
      client.tail((e) =>
        out(
          `${e.time} ${e.service} ${e.kind} ${e.method} ${e.path} ${e.status ?? ''}${e.fault ? ` [${e.fault.type}]` : ''}${answeredBy(e)}`,
        ),
      )
      return new Promise(() => undefined)
    case 'tenants':
      for (const t of (await client.tenants()).tenants)
        out(`${t.id.padEnd(24)} ${String(t.scenario).padEnd(22)} faults ${t.faults}, journal ${t.journal}`)
      return
    case 'verdicts': {
      const { values } = parseArgs({ args: rest, options: { since: { type: 'string' } } })
      const report = await client.verdicts({ ...values, ...(tenant ? { tenant } : {}) })
      const mark = { pass: 'PASS', fail: 'FAIL', 'not-exercised': '----' } as const
      for (const v of report.verdicts) out(`${mark[v.status]}  ${v.rule.padEnd(24)} ${v.detail}`)
      const { pass, fail, notExercised } = report.summary
      out(`${pass} passed, ${fail} failed, ${notExercised} not exercised (tenant ${report.tenant})`)
      if (fail > 0) process.exitCode = 1
      return
    }
    case 'users':
      return out((await client.users()).users)
    case 'health':
      return out(await client.health())
    case 'parity': {
      // Loaded on demand: the other commands do not pay for it.
      const { parityCommand } = await import('./parity.ts')
      const result = await parityCommand(rest)
      out(result.text)
      if (result.failed) process.exitCode = 1
      return
    }
    case undefined:
    case 'help':
    case '--help':
      return out(HELP)
    default:
      throw new ConfigError(`unknown command "${command}"\n\n${HELP}`)
  }
}
