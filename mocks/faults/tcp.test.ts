import { describe, expect, it } from 'vitest'
import { Journal } from '../core/journal.ts'
import { createLogger } from '../core/logger.ts'
import { FaultEngine } from './engine.ts'
import { actOnTcp, type ChunkStage, type TcpConnection, type TcpDecide, type TcpFiring } from './tcp.ts'

// The engine's side of a raw-TCP service: which faults fire on a connection (only effects that
// act on `tcp`, with times and probability as for HTTP), and each effect's behaviour run on the
// connection through the TcpConnection interface alone.

function engine() {
  return new FaultEngine({
    services: { web: 'http', pg: 'tcp' },
    identify: () => undefined,
    errorBody: () => ({}),
    journal: new Journal(),
    logger: createLogger('faults'),
  })
}

/** In one process a decision is synchronous (a promise only in replicated mode). */
function sync(decide: TcpDecide): () => TcpFiring[] {
  return () => {
    const firing = decide()
    if (!Array.isArray(firing)) throw new Error('a decision without a cluster was asynchronous')
    return firing
  }
}

/** A connection that records what effects do to it. */
function recorder() {
  const did: string[] = []
  const stages: ChunkStage[] = []
  const conn: TcpConnection = {
    id: 1,
    client: undefined as never,
    upstream: undefined,
    toClient: (s) => {
      did.push('toClient')
      stages.push(s)
    },
    toServer: () => did.push('toServer'),
    hold: () => did.push('hold'),
    cut: (how) => did.push(`cut:${how}`),
    signal: new AbortController().signal,
    random: () => 0,
  }
  return { conn, did, stages }
}

describe('tcp faults', () => {
  it('fires only faults of that service, counting times', () => {
    const faults = engine()
    faults.add({ id: 'r', service: 'pg', times: 2, effect: { type: 'reset' } })
    faults.add({ id: 'w', service: 'web', effect: { type: 'reset' } })
    const decide = sync(faults.tcp('pg'))
    expect(decide().map((f) => f.id)).toEqual(['r'])
    expect(decide().map((f) => f.id)).toEqual(['r'])
    expect(decide()).toEqual([])
    expect(faults.list('pg')[0]).toMatchObject({ fired: 2, state: 'expired' })
  })

  it('probability draws are seeded: the same faults fire on every run', () => {
    const run = () => {
      const faults = engine()
      faults.install([{ service: 'pg', probability: 0.5, effect: { type: 'hang' } }], 7, 's')
      const decide = sync(faults.tcp('pg'))
      return Array.from({ length: 40 }, () => decide().length)
    }
    const first = run()
    expect(run()).toEqual(first)
    expect(first).toContain(0)
    expect(first).toContain(1)
  })

  it('each effect acts on the connection through its own tcp behaviour', async () => {
    const cases = [
      [{ type: 'reset' }, ['cut:reset']],
      [{ type: 'down' }, ['cut:close']],
      [{ type: 'hang' }, ['hold']],
      [{ type: 'latency', ms: 30, jitterMs: 0 }, ['toClient']],
      [{ type: 'slow-body', bytesPerSecond: 1000 }, ['toClient']],
    ] as const
    for (const [effect, expected] of cases) {
      const { conn, did } = recorder()
      expect(actOnTcp(conn, { id: 'f', effect, random: () => 0 })).toBe(true)
      expect(did).toEqual(expected)
    }
    // latency: a chunk leaves no earlier than ms after it arrived.
    const { conn, stages } = recorder()
    actOnTcp(conn, { id: 'f', effect: { type: 'latency', ms: 30, jitterMs: 0 }, random: () => 0 })
    const arrived = performance.now()
    let leftAt = 0
    await stages[0]?.(Buffer.from('x'), arrived, conn.signal, async () => {
      leftAt = performance.now()
    })
    expect(leftAt - arrived).toBeGreaterThanOrEqual(30)
  })

  it('an effect without a tcp behaviour does nothing to a connection', () => {
    const { conn, did } = recorder()
    expect(actOnTcp(conn, { id: 'f', effect: { type: 'status', status: 500 }, random: () => 0 })).toBe(false)
    expect(actOnTcp(conn, { id: 'f', effect: { type: 'ws-silence' }, random: () => 0 })).toBe(false)
    expect(did).toEqual([])
  })
})
