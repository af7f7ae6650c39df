import { createServer } from 'node:net'

// Ports for processes a test starts (a CLI, redis-server, postgres, replicas), which bind them
// a while after the test chose them. A port-0 pick is taken from the kernel's ephemeral range
// (32768 and up), and can meanwhile be handed to any other test's port-0 listener or outgoing
// connection: under a full parallel suite, that happens. So ports come from below that range,
// each vitest worker from a slice of its own (two workers never pick the same port), and a
// worker never hands the same port out twice. Slices for up to 64 workers fit below 32768.

const BASE = 20_000
const SLICE = 180
const WORKERS = 64

const pool = Number(process.env.VITEST_POOL_ID ?? 0) % WORKERS
const start = BASE + pool * SLICE
let next = Math.floor(Math.random() * SLICE)
const given = new Set<number>()

function canBind(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer()
    srv.once('error', () => resolve(false))
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)))
  })
}

/** A port on 127.0.0.1 that is free now, for a process to bind soon. */
export async function freePort(): Promise<number> {
  for (let tried = 0; tried < SLICE; tried++) {
    const candidate = start + (next++ % SLICE)
    if (given.has(candidate)) continue
    if (await canBind(candidate)) {
      given.add(candidate)
      return candidate
    }
  }
  throw new Error(`no free port left in ${start}-${start + SLICE - 1}`)
}

/** `n` distinct free ports. */
export async function freePorts(n: number): Promise<number[]> {
  const out: number[] = []
  for (let i = 0; i < n; i++) out.push(await freePort())
  return out
}
