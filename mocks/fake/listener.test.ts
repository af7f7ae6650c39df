import { describe, expect, it } from 'vitest'
import { serviceListener } from './listener.ts'

function fakeParts(host: string) {
  const calls: string[] = []
  let listening = true
  const handle = serviceListener({
    port: 4100,
    host,
    isListening: () => listening,
    async stop() {
      calls.push('stop')
      listening = false
    },
    async restart() {
      calls.push('restart')
      listening = true
    },
  })
  return { handle, calls }
}

describe('serviceListener', () => {
  it('gives the URL, bracketing an IPv6 host', () => {
    expect(fakeParts('127.0.0.1').handle.url).toBe('http://127.0.0.1:4100')
    expect(fakeParts('::1').handle.url).toBe('http://[::1]:4100')
  })

  it('stops, resumes only when stopped, and closes by stopping', async () => {
    const { handle, calls } = fakeParts('127.0.0.1')
    await handle.resumeListening()
    expect(calls).toEqual([])
    await handle.stopListening()
    expect(handle.listening).toBe(false)
    await handle.resumeListening()
    expect(handle.listening).toBe(true)
    await handle.close()
    expect(calls).toEqual(['stop', 'restart', 'stop'])
  })
})
