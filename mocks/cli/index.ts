import { watch } from 'node:fs'
import { parseArgs } from 'node:util'
import { ControlApiError, createControlClient, MocksNotRunningError } from '../client/index.ts'
import { ConfigError, loadConfig, SERVICE_NAMES, type ServiceName } from '../core/config.ts'
import { createLogger } from '../core/logger.ts'
import { type Mocks, startMocks } from '../core/runtime.ts'
import { ScenarioError } from '../core/scenario/loader.ts'
import { usersForControl } from '../core/seeded.ts'
import { FAKES } from '../registry.ts'

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
  users                                        seeded users with passwords and cookies
  health                                       what is running where
`

function out(value: unknown) {
  process.stdout.write(`${typeof value === 'string' ? value : JSON.stringify(value, null, 2)}\n`)
}

function printBanner(mocks: Mocks) {
  // Browsers and family-hub reach the fakes by localhost, whatever the bind address.
  const url = (s: ServiceName) => mocks.url(s)?.replace(/\/\/(127\.0\.0\.1|0\.0\.0\.0|\[::\])/, '//localhost')
  const lines: string[] = ['', `devarno-mocks running scenario "${mocks.scenario.name}"`, '']
  for (const s of SERVICE_NAMES) if (mocks.url(s)) lines.push(`  ${s.padEnd(8)} ${url(s)}`)
  if (mocks.control) lines.push(`  control  ${mocks.control.url}  (dashboard and /__mocks API)`)
  lines.push('', '# paste into family-hub .env.local / devarno-landing .env.local')
  if (mocks.url('chat')) {
    lines.push(
      `CHAT_SERVICE_URL=${url('chat')}`,
      `NEXT_PUBLIC_CHAT_WS_URL=${url('chat')?.replace('http://', 'ws://')}`,
    )
  }
  if (mocks.url('media')) lines.push(`MEDIA_SERVICE_URL=${url('media')}`)
  if (mocks.url('auth')) lines.push(`AUTH_SERVICE_URL=${url('auth')}`)
  lines.push(`BETTER_AUTH_SECRET=${mocks.config.betterAuthSecret}`)
  if (mocks.url('v01t')) lines.push(`V01T_API_URL=${url('v01t')}`, `NEXT_PUBLIC_V01T_API_URL=${url('v01t')}`)
  if (mocks.control) lines.push(`MOCKS_CONTROL_URL=${mocks.control.url}`)
  lines.push('', 'Seeded users (email / password / role):')
  for (const u of usersForControl(mocks.scenario, mocks.config.betterAuthSecret)) {
    lines.push(`  ${u.email.padEnd(28)} ${u.password.padEnd(20)} ${u.role}${u.banned ? ' (banned)' : ''}`)
  }
  lines.push('', 'Ctrl-C stops everything.', '')
  process.stdout.write(lines.join('\n'))
}

async function start(args: string[]) {
  const { values } = parseArgs({ args, options: { only: { type: 'string' }, scenario: { type: 'string' } } })
  const only = values.only ? (values.only.split(',').map((s) => s.trim()) as ServiceName[]) : undefined
  for (const s of only ?? []) {
    if (!SERVICE_NAMES.includes(s))
      throw new ConfigError(`--only: unknown service "${s}" (known: ${SERVICE_NAMES.join(', ')})`)
  }
  const env = { ...process.env, ...(values.scenario ? { MOCKS_SCENARIO: values.scenario } : {}) }
  const config = loadConfig(env, only?.length === 1 ? only[0] : undefined)
  const fakes = Object.fromEntries(
    Object.entries(FAKES).filter(([name]) => !only || only.includes(name as ServiceName)),
  )
  const missing = (only ?? []).filter((s) => !FAKES[s])
  if (missing.length) throw new ConfigError(`--only: ${missing.join(', ')} not available yet`)
  const logger = createLogger('cli')
  const mocks = await startMocks({ config, fakes, control: !only })
  printBanner(mocks)

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

  let stopping = false
  const stop = async (signal: string) => {
    if (stopping) return
    stopping = true
    logger.info({ signal }, 'stopping')
    watcher.close()
    await mocks.close()
    process.exit(0)
  }
  process.on('SIGINT', () => void stop('SIGINT'))
  process.on('SIGTERM', () => void stop('SIGTERM'))
}

async function main(argv: string[]) {
  const [command, ...rest] = argv
  const client = createControlClient()
  switch (command) {
    case 'start':
      return start(rest)
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
        out(`${e.seq} ${e.service} ${e.method} ${e.path} ${e.status ?? ''}`)
      return
    }
    case 'tail':
      await client.health()
      client.tail((e) =>
        out(
          `${e.time} ${e.service} ${e.kind} ${e.method} ${e.path} ${e.status ?? ''}${e.fault ? ` [${(e.fault as { type: string }).type}]` : ''}`,
        ),
      )
      return new Promise(() => undefined)
    case 'users':
      return out((await client.users()).users)
    case 'health':
      return out(await client.health())
    case undefined:
    case 'help':
    case '--help':
      return out(HELP)
    default:
      throw new ConfigError(`unknown command "${command}"\n\n${HELP}`)
  }
}

main(process.argv.slice(2)).catch((err: unknown) => {
  const known =
    err instanceof ConfigError ||
    err instanceof ScenarioError ||
    err instanceof MocksNotRunningError ||
    err instanceof ControlApiError
  process.stderr.write(`${known ? (err as Error).message : ((err as Error).stack ?? String(err))}\n`)
  process.exit(1)
})
