import { execFileSync, spawnSync } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { parse } from 'yaml'
import { DEFAULT_PORTS } from '../mocks/runtime/config.ts'

// compose/docker-compose.scale.yml and compose/haproxy.cfg are written by hand: the balancer
// publishes every service's port, the replicas share one Redis and are named apart, and the
// haproxy.cfg is valid with the values compose gives it (haproxy -c), and refused when broken.

const root = fileURLToPath(new URL('../', import.meta.url))
const read = (file: string) => readFileSync(path.join(root, file), 'utf8')

interface Service {
  environment?: Record<string, string>
  ports?: string[]
  volumes?: string[]
  image?: string
}
const scale = parse(read('compose/docker-compose.scale.yml'), { merge: true }) as {
  services: Record<string, Service>
}
const replicas = Object.entries(scale.services).filter(([name]) => name.startsWith('replica'))
const lb = scale.services.lb!

function hasHaproxy(): boolean {
  try {
    execFileSync('haproxy', ['-v'], { stdio: 'ignore' })
    return true
  } catch {
    if (process.env.CI) throw new Error('haproxy is not installed (apt-get install -y haproxy)')
    console.warn('haproxy is not installed: haproxy.cfg NOT checked')
    return false
  }
}

/** `haproxy -c` on a config file with the balancer's environment from compose. */
function haproxyCheck(file: string) {
  return spawnSync('haproxy', ['-c', '-f', file], {
    env: { ...process.env, ...lb.environment, REPLICA1: '127.0.0.2', REPLICA2: '127.0.0.3' },
    encoding: 'utf8',
  })
}

describe('the replicated cluster in compose', () => {
  it('has two or more replicas on one Redis, each named, and the balancer on every port', () => {
    expect(replicas.length).toBeGreaterThanOrEqual(2)
    const urls = new Set(replicas.map(([, s]) => s.environment?.MOCKS_REDIS_URL))
    expect(urls.size).toBe(1)
    expect([...urls][0]).toMatch(/^redis:\/\/redis:/)
    const names = replicas.map(([, s]) => s.environment?.MOCKS_REPLICA)
    expect(new Set(names).size).toBe(replicas.length)
    // The replica holding the database is reached by its service name (mocks/db/README.md).
    for (const [name, s] of replicas) expect(s.environment?.MOCKS_DB_PEER_HOST).toBe(name)
    expect(scale.services.redis?.environment).toBeUndefined()
    const published = (lb.ports ?? []).map((p) => Number(p.split(':').at(-1)?.split(' ')[0]))
    expect(published.sort((a, b) => a - b)).toEqual(Object.values(DEFAULT_PORTS).sort((a, b) => a - b))
    expect(lb.image).toMatch(/^haproxy:/)
    expect(lb.volumes).toContain('./haproxy.cfg:/usr/local/etc/haproxy/haproxy.cfg:ro')
  })

  it.runIf(hasHaproxy())(
    'haproxy -c accepts compose/haproxy.cfg with compose values, and refuses a broken one',
    () => {
      const ok = haproxyCheck(path.join(root, 'compose/haproxy.cfg'))
      expect(ok.status, ok.stderr).toBe(0)
      // Every published port has a frontend bound to it.
      for (const name of Object.keys(lb.environment ?? {}))
        if (name.endsWith('_PORT')) expect(read('compose/haproxy.cfg')).toContain(`"\${LB_HOST}:\${${name}}"`)
      const broken = path.join(tmpdir(), `haproxy-broken-${process.pid}.cfg`)
      writeFileSync(broken, read('compose/haproxy.cfg').replace('balance roundrobin', 'balance nowhere'))
      expect(haproxyCheck(broken).status).not.toBe(0)
    },
  )
})
