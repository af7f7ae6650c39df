import { describe, expect, it } from 'vitest'
import { SwitchGate } from './gate.ts'

describe('SwitchGate', () => {
  it('holds until every pause is released, in order', async () => {
    const gate = new SwitchGate()
    expect(gate.held).toBeUndefined()
    const first = gate.pause()
    const second = gate.pause()
    let passed = false
    const waiting = gate.held!.then(() => {
      passed = true
    })
    first()
    await new Promise((r) => setImmediate(r))
    expect(passed).toBe(false)
    second()
    await waiting
    expect(passed).toBe(true)
    expect(gate.held).toBeUndefined()
  })
})
