import { describe, expect, it } from 'vitest'
import { clip } from './journaling.ts'

describe('clip', () => {
  it('keeps a frame of up to 2,000 characters whole and cuts a longer one, marked', () => {
    const short = 'x'.repeat(2000)
    expect(clip(short)).toBe(short)
    const long = `${'a'.repeat(2000)}bbb`
    expect(clip(long)).toBe(`${'a'.repeat(2000)}…`)
  })

  // The last clip is remembered (a broadcast clips the same frame for every socket); what it
  // answers must still be each frame's own clip, whatever came before.
  it('answers each frame its own clip, whichever frame was clipped before', () => {
    const first = 'a'.repeat(3000)
    expect(clip(first)).toBe(`${'a'.repeat(2000)}…`)
    expect(clip(first)).toBe(`${'a'.repeat(2000)}…`)
    expect(clip('b'.repeat(3000))).toBe(`${'b'.repeat(2000)}…`)
    expect(clip(`${'c'.repeat(1999)}d${'e'.repeat(10)}`)).toBe(`${'c'.repeat(1999)}d…`)
    expect(clip(first)).toBe(`${'a'.repeat(2000)}…`)
    expect(clip('short')).toBe('short')
  })
})
