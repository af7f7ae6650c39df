import type { ReplicationSettings } from '../core/config.ts'
import type { Logger } from '../core/logger.ts'
import { RedisLog } from './log.ts'

// Replicated mode's entry (README "Replicas"): loaded by the runtime only when MOCKS_REDIS_URL
// is set, so one process never loads ioredis for it.

export { compareIds, RedisLog } from './log.ts'

export function createReplica(settings: ReplicationSettings, logger: Logger): RedisLog {
  return new RedisLog(settings, logger)
}
