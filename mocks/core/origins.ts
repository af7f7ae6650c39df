// Origin allow-lists as better-auth's trustedOrigins spell them: exact origins, or a `*`
// standing for one or more subdomain labels (`https://*.devarno.cloud`).

export type OriginMatcher = (origin: string | undefined | null) => boolean

function escapeRegExp(s: string): string {
  return s.replace(/[.+?^${}()|[\]\\]/g, '\\$&')
}

export function createOriginMatcher(patterns: readonly string[]): OriginMatcher {
  const exact = new Set<string>()
  const wild: RegExp[] = []
  for (const pattern of patterns) {
    if (pattern.includes('*')) {
      const body = pattern.split('*').map(escapeRegExp).join('[a-z0-9-]+(?:\\.[a-z0-9-]+)*')
      wild.push(new RegExp(`^${body}$`, 'i'))
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
