import { describe, expect, it } from 'vitest'
import { createLogger } from '../core/logger.ts'
import { FaultRegistry } from './registry.ts'
import { FaultSchema } from './schema.ts'
import { OutageWindows } from './windows.ts'

// Service-wide faults close the listener while in force; their window's edges are timers.

function setup() {
  const registry = new FaultRegistry()
  const windows = new OutageWindows(registry, createLogger('test'))
  const calls: string[] = []
  windows.attach('v01t', {
    down: async () => {
      calls.push('down')
    },
    up: async () => {
      calls.push('up')
    },
  })
  const add = (f: Record<string, unknown>) => {
    const c = registry.add(FaultSchema.parse({ service: 'v01t', effect: { type: 'down' }, ...f }))
    windows.schedule([c])
    windows.update()
    return c
  }
  return { registry, windows, calls, add }
}

const wait = (ms: number) => new Promise((r) => setTimeout(r, ms))

describe('OutageWindows', () => {
  it('closes the listener while a down fault is in force, once, and counts it fired', async () => {
    const { registry, windows, calls, add } = setup()
    const c = add({})
    add({ id: 'second' })
    await windows.settled()
    expect(calls).toEqual(['down'])
    expect(c.fault.fired).toBe(1)
    registry.remove(c.fault.id)
    windows.update()
    await windows.settled()
    // The second down fault keeps it down.
    expect(calls).toEqual(['down'])
    registry.clear()
    windows.update()
    await windows.settled()
    expect(calls).toEqual(['down', 'up'])
  })

  it('afterMs and forMs open and close the window by themselves', async () => {
    const { windows, calls, add } = setup()
    add({ afterMs: 50, forMs: 150 })
    await windows.settled()
    expect(calls).toEqual([])
    await wait(120)
    await windows.settled()
    expect(calls).toEqual(['down'])
    await wait(200)
    await windows.settled()
    expect(calls).toEqual(['down', 'up'])
  })

  it('other faults set no timers and never touch the listener', async () => {
    const { windows, calls, add } = setup()
    add({ effect: { type: 'status', status: 503 }, afterMs: 10, forMs: 10 })
    await wait(40)
    await windows.settled()
    expect(calls).toEqual([])
    expect(windows.inForce('v01t')).toBeUndefined()
  })

  it('a service without a listener (in-process) is left to the pipeline', async () => {
    const { windows, add } = setup()
    windows.detach('v01t')
    add({})
    await windows.settled()
    expect(windows.hasListener('v01t')).toBe(false)
    expect(windows.inForce('v01t')).toBeDefined()
  })
})
