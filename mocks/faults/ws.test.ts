import { describe, expect, it, vi } from 'vitest'
import { Journal } from '../core/journal.ts'
import { createLogger } from '../core/logger.ts'
import type { WsPeer } from '../core/ws.ts'
import { FaultEngine } from './engine.ts'
import { type Compiled, FaultRegistry } from './registry.ts'
import { FaultSchema } from './schema.ts'
import type { WsConnection } from './types.ts'
import { wrapSocket } from './ws.ts'

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
  it('journals each socket’s copy of a long broadcast frame, clipped', () => {
    const { journal, connect } = setup()
    const links = [connect(), connect(), connect()].map((c) => c.link)
    const frame = JSON.stringify({ type: 'message', text: 'x'.repeat(3000) })
    for (const link of links) link.peer.send(frame)
    const out = journal.list().filter((e) => e.kind === 'ws-out')
    expect(out).toHaveLength(3)
    for (const e of out) expect(e.frame).toBe(`${frame.slice(0, 2000)}…`)
  })

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

  it('journals who closed the socket, and credits the fault that cut it', async () => {
    const { faults, journal, connect } = setup()
    const closes = () =>
      journal
        .list()
        .filter((e) => e.kind === 'ws-close')
        .map((e) => [e.closedBy, e.fault?.id ?? null, e.code])
    // The client went away: nobody on the server side closed it.
    connect().link.dispose(1001)
    // The server (the hub) closed it itself: no fault credited.
    const served = connect()
    served.link.peer.close(1000)
    served.link.dispose(1000)
    // A ws-drop's timer cut it: the server, and that fault.
    faults.add({ id: 'late', service: 'hub', effect: { type: 'ws-drop', afterMs: 5, code: 4001 } })
    const dropped = connect()
    // Polled, not slept: a loaded machine may run the timer late.
    await vi.waitFor(() => expect(dropped.log).toEqual(['close 4001']), { timeout: 5000 })
    dropped.link.dispose(4001)
    expect(closes()).toEqual([
      ['client', null, 1001],
      ['server', null, 1000],
      ['server', 'late', 4001],
    ])
  })

  it("an effect's filters are called on its view of the socket, and its methods work passed on", () => {
    const { connect } = setup()
    const seen: boolean[] = []
    const { link } = connect()
    // The view an effect got: reach it through a filter set the way an effect sets one.
    const view = (link as unknown as { conn: WsConnection }).conn
    view.outbound = function (this: unknown) {
      seen.push(this === view)
      return true
    }
    view.inbound = function (this: unknown) {
      seen.push(this === view)
      return true
    }
    link.peer.send('x')
    link.inbound('message', '{}')
    expect(seen).toEqual([true, true])
    const { terminate } = view.raw
    const { onClose } = view
    const closed: string[] = []
    onClose(() => closed.push('closed'))
    terminate()
    link.dispose(1006)
    expect(closed).toEqual(['closed'])
  })
})

// Replicated mode: a counted decision is a promise. Meanwhile the socket's server frames, later
// client-frame decisions and its close wait behind it, in order.
describe('WebSocket wrapper while a counted decision is pending', () => {
  function pendingRegistry() {
    const waiting: ((firing: Compiled[]) => void)[] = []
    const registry = {
      fireCounted: () => new Promise<Compiled[]>((resolve) => waiting.push(resolve)),
    } as unknown as FaultRegistry
    return { registry, decide: (firing: Compiled[] = []) => waiting.shift()?.(firing), waiting }
  }

  it('a client frame queued behind a decision that cut the socket is neither counted nor journaled', async () => {
    const journal = new Journal()
    const { registry, decide, waiting } = pendingRegistry()
    const { p, log } = peer()
    const link = wrapSocket({ registry, journal }, 'hub' as never, { path: '/ws', headers: new Headers() }, p)
    const queued = link.inbound('message', 'm1')
    // The open's decision: a ws-drop, which cuts the socket at once.
    const drop = new FaultRegistry().add(
      FaultSchema.parse({ id: 'cut', service: 'hub', effect: { type: 'ws-drop', code: 4002 } }),
    )
    decide([drop])
    expect(await queued).toBe(false)
    // No decision was asked for the frame, and it left no entry.
    expect(waiting).toEqual([])
    link.dispose(4002)
    await new Promise((r) => setTimeout(r, 0))
    expect(log).toEqual(['close 4002'])
    expect(journal.list().map((e) => [e.kind, e.fault?.id ?? null, e.closedBy ?? null])).toEqual([
      ['ws-open', 'cut', null],
      ['ws-close', 'cut', 'server'],
    ])
  })

  it('server frames, client frames and the close keep their order behind the decisions', async () => {
    const journal = new Journal()
    const { registry, decide, waiting } = pendingRegistry()
    const { p, log } = peer()
    const link = wrapSocket({ registry, journal }, 'hub' as never, { path: '/ws', headers: new Headers() }, p)
    link.peer.send('a')
    const first = link.inbound('message', 'm1')
    link.peer.send('b')
    link.dispose(1000)
    // Nothing goes out or is journaled while the open's decision is pending.
    expect(log).toEqual([])
    expect(journal.list()).toEqual([])
    decide()
    await new Promise((r) => setTimeout(r, 0))
    expect(waiting.length).toBe(1)
    decide()
    expect(await first).toBe(true)
    await new Promise((r) => setTimeout(r, 0))
    expect(log).toEqual(['send a', 'send b'])
    expect(journal.list().map((e) => [e.kind, e.frame ?? e.code])).toEqual([
      ['ws-open', undefined],
      ['ws-out', 'a'],
      ['ws-in', 'm1'],
      ['ws-out', 'b'],
      ['ws-close', 1000],
    ])
  })
})
