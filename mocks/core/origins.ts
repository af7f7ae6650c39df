import type { MocksConfig } from './config.ts'
import type { Logger } from './logger.ts'

// Origin allow-lists as better-auth's trustedOrigins spell them: exact origins, or a `*`
// standing for one or more subdomain labels (`https://*.devarno.cloud`). A trailing `:*`
// stands for any port (`http://localhost:*`: a frontend's dev server and the demo, whatever
// their ports).

export type OriginMatcher = (origin: string | undefined | null) => boolean

function escapeRegExp(s: string): string {
  return s.replace(/[.+?^${}()|[\]\\]/g, '\\$&')
}

export function createOriginMatcher(patterns: readonly string[]): OriginMatcher {
  const exact = new Set<string>()
  const wild: RegExp[] = []
  for (const pattern of patterns) {
    if (pattern.includes('*')) {
      const anyPort = pattern.endsWith(':*')
      const head = anyPort ? pattern.slice(0, -2) : pattern
      const body = head.split('*').map(escapeRegExp).join('[a-z0-9-]+(?:\\.[a-z0-9-]+)*')
      wild.push(new RegExp(`^${body}${anyPort ? ':\\d{1,5}' : ''}$`, 'i'))
    } else {
      exact.add(pattern.toLowerCase())
    }
  }
  return (origin) => {
    if (!origin) return false
    const o = origin.toLowerCase()
    return exact.has(o) || wild.some((re) => re.test(o))
  }
}

/** The env name a developer sets to allow one more origin, given how the list was configured. */
export function originEnvHint(config: Pick<MocksConfig, 'originSettings'>, origin: string): string {
  return config.originSettings.replaced
    ? `add it to MOCKS_ALLOWED_ORIGINS (set, so it replaces the defaults), e.g. MOCKS_ALLOWED_ORIGINS=${[...config.originSettings.replaced, origin].join(',')}`
    : `set MOCKS_EXTRA_ORIGINS=${origin} (comma-separated; adds to the defaults)`
}

/**
 * The allow-list of a fake, from its config (read on each call, so origins derived from ports
 * chosen at start-up count), logging each refused Origin once per fake at `warn` (the default
 * level shows it) with the env setting that would allow it; repeats go to `debug`.
 */
export function configOriginMatcher(
  config: Pick<MocksConfig, 'allowedOrigins' | 'originSettings'>,
  logger: Pick<Logger, 'warn' | 'debug'>,
  what: string,
): OriginMatcher {
  let list: readonly string[] | undefined
  let match: OriginMatcher = () => false
  const reported = new Set<string>()
  return (origin) => {
    if (list !== config.allowedOrigins) {
      list = config.allowedOrigins
      match = createOriginMatcher(list)
    }
    if (match(origin)) return true
    if (origin) {
      const first = !reported.has(origin)
      if (first && reported.size < 1000) reported.add(origin)
      const log = first ? logger.warn.bind(logger) : logger.debug.bind(logger)
      log({ origin }, `Origin ${origin} refused by ${what}: ${originEnvHint(config, origin)}`)
    }
    return false
  }
}
