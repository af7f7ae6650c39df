import pino, { type Logger } from 'pino'

export type { Logger }

// One root logger for the process; each service gets a child tagged with its name so
// interleaved output from four fakes stays readable.
let root: Logger | undefined

function rootLogger(): Logger {
  if (!root) {
    const level =
      process.env.MOCKS_LOG_LEVEL || process.env.LOG_LEVEL || (process.env.VITEST ? 'silent' : 'info')
    root = pino({ level, base: undefined, timestamp: pino.stdTimeFunctions.isoTime })
  }
  return root
}

export function createLogger(service: string): Logger {
  return rootLogger().child({ service })
}
