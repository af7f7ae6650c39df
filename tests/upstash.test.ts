import { upstashClientSuite } from './upstash-suite.ts'

// The embedded Redis (ioredis-mock) behind the Upstash fake.
upstashClientSuite('embedded Redis', () => ({}))
