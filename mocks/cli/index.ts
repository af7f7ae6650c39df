import { markStartup } from '../core/startup.ts'

// `pnpm mocks <command>` (and the production bundle's entry): the commands are in commands.ts,
// which tests call with their own registry of fakes. Everything else is imported after the
// first mark, so the start-up timing tells Node's own start from loading the module graph.

markStartup('entry')
const [{ main }, { ControlApiError, MocksNotRunningError }, { ConfigError }, { ScenarioError }] =
  await Promise.all([
    import('./commands.ts'),
    import('../client/index.ts'),
    import('../core/config.ts'),
    import('../runtime/scenario-loader.ts'),
  ])
markStartup('modules')

main(process.argv.slice(2)).catch((err: unknown) => {
  const known =
    err instanceof ConfigError ||
    err instanceof ScenarioError ||
    err instanceof MocksNotRunningError ||
    err instanceof ControlApiError
  process.stderr.write(`${known ? (err as Error).message : ((err as Error).stack ?? String(err))}\n`)
  process.exit(1)
})
