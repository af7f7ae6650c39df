import { createRequire } from 'node:module'
import pino, { type DestinationStream, type Logger } from 'pino'

export type { Logger }

// One root logger for the process; each service gets a child tagged with its name so
// interleaved output from four fakes stays readable. On a terminal the lines are
// pretty-printed (pino-pretty, a dev dependency); elsewhere, and with MOCKS_LOG_FORMAT=json,
// they are JSON.
let root: Logger | undefined

function prettyStream(): DestinationStream | undefined {
  if (!process.stdout.isTTY || process.env.MOCKS_LOG_FORMAT === 'json') return undefined
  try {
    const pretty = createRequire(import.meta.url)('pino-pretty') as (opts: object) => DestinationStream
    return pretty({
      colorize: true,
      translateTime: 'HH:MM:ss.l',
      ignore: 'pid,hostname,service',
      messageFormat: '[{service}] {msg}',
      hideObject: false,
    })
  } catch {
    return undefined // production image: no dev dependencies
  }
}

function rootLogger(): Logger {
  if (!root) {
    const level =
      process.env.MOCKS_LOG_LEVEL || process.env.LOG_LEVEL || (process.env.VITEST ? 'silent' : 'info')
    const options = { level, base: undefined, timestamp: pino.stdTimeFunctions.isoTime }
    const stream = prettyStream()
    root = stream ? pino(options, stream) : pino(options)
  }
  return root
}

export function createLogger(service: string): Logger {
  return rootLogger().child({ service })
}
