import { describe, expect, it } from 'vitest'
import { Journal } from '../core/journal.ts'
import { createLogger } from '../core/logger.ts'
import type { WsPeer } from '../core/ws.ts'
import { FaultEngine } from './engine.ts'

// The WebSocket wrapper with a recording peer: effects that act on open sockets fire at open
// and per client frame; ws-drop 1006 terminates (no close frame), silence stops pongs and frames.

function peer() {
  const log: string[] = []
  let open = true
  const p: WsPeer = {
    send: (text) => log.push(`send ${text}`),
    close: (code) => {
      open = false
      log.push(`close ${code}`)
    },
    terminate: () => {
      open = false
      log.push('terminate')
    },
    setAutoPong: (on) => log.push(`autoPong ${on}`),
    get isOpen() {
      return open
    },
  }
  return { p, log }
}

function setup() {
  const journal = new Journal()
  const faults = new FaultEngine({
    services: { hub: 'http+ws' },
    identify: () => undefined,
    errorBody: () => ({}),
    journal,
    logger: createLogger('test'),
  })
  const connect = () => {
    const { p, log } = peer()
    const link = faults.wsConnect('hub' as never, { path: '/ws', headers: new Headers(), userId: 'ann' }, p)
    return { link, log }
  }
  return { faults, journal, connect }
}

describe('WebSocket wrapper', () => {
  it('ws-drop 1006 at open terminates, and the open is journaled with the fault', () => {
    const { faults, journal, connect } = setup()
    faults.add({ id: 'drop', service: 'hub', effect: { type: 'ws-drop' } })
    const { log } = connect()
    expect(log).toEqual(['terminate'])
    expect(journal.list()[0]).toMatchObject({ kind: 'ws-open', userId: 'ann', fault: { id: 'drop' } })
  })

  it('ws-drop after N server frames closes with its code once the Nth is sent', async () => {
    const { faults, connect } = setup()
    faults.add({ service: 'hub', effect: { type: 'ws-drop', afterMessages: 2, code: 4000 } })
    const { link, log } = connect()
    link.peer.send('a')
    link.peer.send('b')
    await Promise.resolve()
    link.peer.send('c')
    expect(log).toEqual(['send a', 'send b', 'close 4000'])
  })

  it('a frame-type match fires on that client frame only; silence drops both ways', () => {
    const { faults, journal, connect } = setup()
    faults.add({ id: 'hush', service: 'hub', match: { ws: 'typing' }, effect: { type: 'ws-silence' } })
    const { link, log } = connect()
    expect(link.inbound('message', '{"type":"message"}')).toBe(true)
    expect(link.inbound('typing', '{"type":"typing"}')).toBe(false)
    link.peer.send('x')
    expect(log).toEqual(['autoPong false'])
    link.dispose(1000)
    expect(journal.list().map((e) => [e.kind, e.fault?.id ?? null, e.code ?? null])).toEqual([
      ['ws-open', null, null],
      ['ws-in', null, null],
      ['ws-in', 'hush', null],
      ['ws-close', null, 1000],
    ])
  })
})
