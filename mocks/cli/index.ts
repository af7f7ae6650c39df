import { ControlApiError, MocksNotRunningError } from '../client/index.ts'
import { ConfigError } from '../core/config.ts'
import { ScenarioError } from '../runtime/scenario-loader.ts'
import { main } from './commands.ts'

// `pnpm mocks <command>` (and the production bundle's entry): the commands are in commands.ts,
// which tests call with their own registry of fakes.

main(process.argv.slice(2)).catch((err: unknown) => {
  const known =
    err instanceof ConfigError ||
    err instanceof ScenarioError ||
    err instanceof MocksNotRunningError ||
    err instanceof ControlApiError
  process.stderr.write(`${known ? (err as Error).message : ((err as Error).stack ?? String(err))}\n`)
  process.exit(1)
})
