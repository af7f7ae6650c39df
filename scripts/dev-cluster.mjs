// @ts-check
// `pnpm dev:cluster`: the mocks as a replicated cluster on one machine (README "Replicas"):
// Debian's redis-server (appendonly, fsync always, in a fresh temp folder), two replicas sharing
// it through MOCKS_REDIS_URL, and Debian's haproxy in front of them on the usual ports
// (compose/haproxy.cfg). concurrently prefixes and colours each one's output and stops them all
// together on Ctrl-C (or when any of them exits).
//
// The replicas listen on their own loopback addresses (127.0.0.2, 127.0.0.3: Linux routes all of
// 127/8 to loopback) with the usual port numbers, so one haproxy.cfg serves here and in compose.
// Ports follow the usual env names (MOCKS_V01T_PORT, ...); Redis's is MOCKS_CLUSTER_REDIS_PORT.

import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { concurrently } from 'concurrently'
import { freshBundle } from './dev.mjs'

const ROOT = fileURLToPath(new URL('../', import.meta.url))

/** @param {string} bin @param {string[]} args */
function has(bin, args) {
  try {
    execFileSync(bin, args, { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
}

const missing = [
  has('redis-server', ['--version']) ? undefined : 'redis-server (apt-get install -y redis-server)',
  has('haproxy', ['-v']) ? undefined : 'haproxy (apt-get install -y haproxy)',
].filter(Boolean)
if (missing.length) {
  process.stderr.write(
    `dev:cluster needs ${missing.join(' and ')}.\n` +
      'Without them: docker compose -f compose/docker-compose.scale.yml up (Redis, replicas and haproxy in containers).\n',
  )
  process.exit(1)
}

const env = process.env
/** @param {string} name @param {number} fallback */
const port = (name, fallback) => String(env[name] || fallback)
const ports = {
  V01T_PORT: port('MOCKS_V01T_PORT', 8000),
  MEDIA_PORT: port('MOCKS_MEDIA_PORT', 8081),
  CHAT_PORT: port('MOCKS_CHAT_PORT', 8082),
  AUTH_PORT: port('MOCKS_AUTH_PORT', 8083),
  UPSTASH_PORT: port('MOCKS_UPSTASH_PORT', 8084),
  DB_PORT: port('MOCKS_DB_PORT', 5433),
  CONTROL_PORT: port('MOCKS_CONTROL_PORT', 8090),
}
const redisPort = port('MOCKS_CLUSTER_REDIS_PORT', 6380)
const redisUrl = `redis://127.0.0.1:${redisPort}`
const replicas = ['127.0.0.2', '127.0.0.3']

// Built once here: two replicas rebuilding a stale bundle at once would race on dist/.
const bundle = await freshBundle()
const data = mkdtempSync(path.join(tmpdir(), 'devarno-mocks-cluster-'))

/** @param {string} host @param {number} i */
const replica = (host, i) => ({
  name: `r${i + 1}`,
  command: `node --enable-source-maps ${JSON.stringify(bundle)} start`,
  cwd: ROOT,
  prefixColor: i === 0 ? 'blue' : 'magenta',
  env: {
    // Also where the other replica reaches this one's database when it holds it (mocks/db/README.md).
    MOCKS_HOST: host,
    MOCKS_REDIS_URL: redisUrl,
    MOCKS_REDIS_PREFIX: env.MOCKS_REDIS_PREFIX || 'devarno-mocks:',
    MOCKS_REPLICA: `r${i + 1}`,
    // Upstash keys live in the same Redis (their own prefix): one keyspace for every replica.
    MOCKS_UPSTASH_REDIS_URL: redisUrl,
    MOCKS_V01T_PORT: ports.V01T_PORT,
    MOCKS_MEDIA_PORT: ports.MEDIA_PORT,
    MOCKS_CHAT_PORT: ports.CHAT_PORT,
    MOCKS_AUTH_PORT: ports.AUTH_PORT,
    MOCKS_UPSTASH_PORT: ports.UPSTASH_PORT,
    MOCKS_DB_PORT: ports.DB_PORT,
    MOCKS_CONTROL_PORT: ports.CONTROL_PORT,
    // One storage folder for both (uploads' bytes; their records go through the log).
    STORAGE_PATH: env.STORAGE_PATH || path.join(data, 'storage'),
    // Chat and media validate sessions through the balancer (any replica knows every session).
    AUTH_SERVICE_URL: env.AUTH_SERVICE_URL || `http://127.0.0.1:${ports.AUTH_PORT}`,
  },
})

const { result } = concurrently(
  [
    {
      name: 'redis',
      command: `redis-server --port ${redisPort} --bind 127.0.0.1 --save '' --appendonly yes --appendfsync always --dir ${JSON.stringify(data)}`,
      prefixColor: 'red',
    },
    ...replicas.map(replica),
    {
      name: 'haproxy',
      command: `haproxy -db -f ${JSON.stringify(path.join(ROOT, 'compose/haproxy.cfg'))}`,
      prefixColor: 'green',
      env: { LB_HOST: '127.0.0.1', REPLICA1: replicas[0], REPLICA2: replicas[1], ...ports },
    },
  ],
  { killOthersOn: ['failure', 'success'], prefix: 'name', handleInput: false },
)

// Ctrl-C (concurrently passes it to every process) is how the cluster is stopped: exit 0. A
// process that fails by itself (a port in use, Redis refusing its folder) stops the rest: exit 1.
let interrupted = false
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => (interrupted = true))
const done = (/** @type {boolean} */ ok) => {
  rmSync(data, { recursive: true, force: true })
  process.exit(ok || interrupted ? 0 : 1)
}
result.then(
  () => done(true),
  () => done(false),
)
