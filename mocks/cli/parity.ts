import { parseArgs } from 'node:util'
import { createAuthFake } from '../auth/index.ts'
import { formatDifferences, type ParityReport, runParity } from '../auth/parity.ts'
import { Journal } from '../core/journal.ts'
import { createLogger } from '../core/logger.ts'
import type { FakeDeps } from '../fake/descriptor.ts'
import { FaultEngine } from '../faults/engine.ts'
import { ConfigError, loadConfig } from '../runtime/config.ts'
import { faultHost } from '../runtime/fault-host.ts'
import { ScenarioLoader } from '../runtime/scenario-loader.ts'
import { startServer } from '../runtime/server.ts'

// `pnpm mocks parity --auth <url> --email <e> --password <p>`: the parity suite's comparison
// against any running better-auth (family-hub's dev server with its own plugins, a staging
// instance). The fake runs in this process on a free port, in better-auth's 200-null mode,
// seeded with the same account. Users are created on the real server only with
// --create-users: never by default, it may be a team's database.

export const PARITY_HELP = `Usage: pnpm mocks parity --auth <url> --email <email> --password <password> [options]

  --auth <url>        the running better-auth (its /api/auth routes), e.g. http://localhost:3000
  --email, --password an existing account on it (the fake gets the same one)
  --name <name>       that account's name (default: the email's local part)
  --origin <origin>   an origin it trusts (default http://localhost:3000)
  --create-users      also run the cases that sign up new users (never on by default)
  --no-admin-plugin   the server runs without better-auth's admin plugin
  --all               print allowed differences too

Exit code 1 when a difference is not in mocks/auth/parity-allowed.ts.`

export interface ParityCommandResult {
  report: ParityReport
  text: string
  failed: boolean
}

export async function parityCommand(args: string[], env = process.env): Promise<ParityCommandResult> {
  const { values } = parseArgs({
    args,
    options: {
      auth: { type: 'string' },
      email: { type: 'string' },
      password: { type: 'string' },
      name: { type: 'string' },
      origin: { type: 'string', default: 'http://localhost:3000' },
      'create-users': { type: 'boolean', default: false },
      'no-admin-plugin': { type: 'boolean', default: false },
      all: { type: 'boolean', default: false },
    },
  })
  if (!values.auth || !values.email || !values.password) throw new ConfigError(PARITY_HELP)
  const realUrl = values.auth.replace(/\/+$/, '').replace(/\/api\/auth$/, '')
  const account = {
    email: values.email,
    password: values.password,
    name: values.name ?? values.email.split('@')[0] ?? values.email,
  }
  const adminPlugin = !values['no-admin-plugin']

  // The fake: this process, a free port, trusting the same origin, 200 null as better-auth.
  const config = loadConfig({ ...env, MOCKS_AUTH_NO_SESSION: '200-null' })
  if (!config.allowedOrigins.includes(values.origin)) config.allowedOrigins.push(values.origin)
  const logger = createLogger('parity')
  const deps: FakeDeps = {
    config,
    logger,
    faults: new FaultEngine({ ...faultHost(config), journal: new Journal(100), logger }),
  }
  const fake = createAuthFake(deps)
  const scenario = new ScenarioLoader(config.scenariosDir).resolveInline({
    name: 'parity',
    auth: {
      adminPlugin,
      users: [
        {
          id: 'usr_parity',
          email: account.email,
          name: account.name,
          password: account.password,
          role: 'member',
          emailVerified: false,
          session: null,
        },
      ],
    },
  })
  await fake.applyScenario(scenario)
  const server = await startServer({ app: fake.app, port: 0, host: '127.0.0.1', logger })
  try {
    const report = await runParity(
      { url: server.url },
      { url: realUrl },
      {
        account,
        trustedOrigin: values.origin,
        createUsers: values['create-users'],
        adminPlugin,
      },
    )
    const unexpected = report.differences.filter((d) => !d.allowed)
    const shown = values.all ? report.differences : unexpected
    const lines = [
      `Compared the fake better-auth with ${realUrl}: ${report.ran.length} cases run, ${report.skipped.length} skipped.`,
      ...report.skipped.map((s) => `  skipped: ${s.case} (${s.reason})`),
      unexpected.length
        ? `${unexpected.length} difference(s) not in mocks/auth/parity-allowed.ts:`
        : 'No differences beyond mocks/auth/parity-allowed.ts.',
      ...(shown.length ? [formatDifferences(shown)] : []),
    ]
    return { report, text: lines.join('\n'), failed: unexpected.length > 0 }
  } finally {
    await server.close()
  }
}
