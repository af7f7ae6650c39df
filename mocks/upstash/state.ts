import type { RedisBackend } from './backend.ts'
import type { KeySeed, UpstashSection } from './scenario.ts'

// What the Upstash fake serves from: the token a request must carry, the request size limit,
// and the Redis under the mocks' prefix. A scenario's `upstash.keys` are written through the
// same Redis commands a client would send, after every key under the prefix is deleted.

export interface UpstashState {
  readonly token: string
  /** A tenant's own token (`<token>@<tenant>`); absent for the default tenant. */
  readonly tenantToken?: string
  readonly maxRequestBytes: number
  readonly backend: RedisBackend
}

/** The commands that write one seeded key (then its expiry, if it has one). */
export function seedCommands(key: string, seed: KeySeed): string[][] {
  if (typeof seed === 'string') return [['SET', key, seed]]
  const out: string[][] = []
  if ('string' in seed) out.push(['SET', key, seed.string])
  else if ('hash' in seed) out.push(['HSET', key, ...Object.entries(seed.hash).flat()])
  else if ('set' in seed) out.push(['SADD', key, ...seed.set])
  else if ('zset' in seed)
    out.push(['ZADD', key, ...Object.entries(seed.zset).flatMap(([m, s]) => [String(s), m])])
  else if ('list' in seed) out.push(['RPUSH', key, ...seed.list])
  if (seed.ttlSeconds !== undefined) out.push(['EXPIRE', key, String(seed.ttlSeconds)])
  return out
}

export async function seedBackend(backend: RedisBackend, section: UpstashSection): Promise<void> {
  await backend.clear()
  for (const [key, seed] of Object.entries(section.keys)) {
    for (const cmd of seedCommands(key, seed)) await backend.command(cmd)
  }
}
