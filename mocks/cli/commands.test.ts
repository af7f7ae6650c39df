import { describe, expect, it } from 'vitest'
import { PARENT_EXITED, stopSignals } from './commands.ts'

describe('stopSignals: a signal delivered twice is one stop', () => {
  it('a repeat within the window is the same stop; a later one is a second Ctrl-C', () => {
    let now = 0
    const seen = stopSignals(1000, () => now)
    expect(seen('SIGTERM')).toBe('first')
    now = 30 // tsx relays its copy after 30 ms
    expect(seen('SIGTERM')).toBe('repeat')
    now = 999
    expect(seen('SIGINT')).toBe('repeat')
    now = 1000
    expect(seen('SIGINT')).toBe('again')
    now = 5000
    expect(seen('SIGTERM')).toBe('again')
  })

  it('the parent going away during a stop never hurries it', () => {
    let now = 0
    const seen = stopSignals(1000, () => now)
    expect(seen('SIGTERM')).toBe('first')
    now = 5000
    expect(seen(PARENT_EXITED)).toBe('repeat')
    expect(seen('SIGINT')).toBe('again')
  })
})
