import type { Context } from 'hono'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { createAuthFake } from '../auth/index.ts'
import { type InProcessFake, inProcess } from '../runtime/testing.ts'
import { type AcceptResult, chatSocketAcceptor, createChatApp } from './app.ts'
import type { ServerFrame } from './contract.ts'
import { type ChatFake, chat, createChatFake } from './index.ts'
import { type ChatState, createChatState } from './state.ts'
import { FakePeer } from './testing.ts'

// State as a value: two chat states served by one app side by side, the request choosing its
// state (here an `x-state` header; tenants will resolve theirs the same way, through stateOf).

let h: InProcessFake<ChatFake>
let states: Record<'a' | 'b', ChatState>
let app: ReturnType<typeof createChatApp>
let accept: ReturnType<typeof chatSocketAcceptor>

const stateOf = (c: Context): ChatState => {
  const which = c.req.header('x-state')
  if (which !== 'a' && which !== 'b') throw new Error(`no state "${which}"`)
  return states[which]
}

beforeEach(async () => {
  h = await inProcess(createChatFake, { companions: [createAuthFake] })
  states = { a: await createChatState(h.scenario, h.deps), b: await createChatState(h.scenario, h.deps) }
  app = createChatApp(chat, h.deps, stateOf, { fetch: h.tools.fetch })
  accept = chatSocketAcceptor(h.deps, stateOf, { fetch: h.tools.fetch })
})
afterEach(async () => {
  states.a.dispose()
  states.b.dispose()
  await h.close()
})

const settle = () => new Promise((r) => setTimeout(r, 5))

async function open(which: 'a' | 'b', userId: string, channel = 'general') {
  const peer = new FakePeer()
  const url = `http://chat.test/ws?token=${encodeURIComponent(h.tokenFor(userId))}`
  const result: AcceptResult = await accept(peer, new Request(url, { headers: { 'x-state': which } }))
  if (!result.ok) throw new Error(`refused: ${result.status} ${result.message}`)
  result.socket.receive(JSON.stringify({ type: 'join', channel }))
  await settle()
  return { peer, socket: result.socket }
}

const get = (which: 'a' | 'b', path: string, userId = 'usr_member') =>
  app.request(path, { headers: { 'x-state': which, cookie: h.cookieFor(userId) } })

const messages = async (which: 'a' | 'b') =>
  (await (await get(which, '/api/v1/messages?channel=general&limit=100')).json()) as { content: string }[]

const of = (peer: FakePeer, type: ServerFrame['type']) => peer.frames().filter((f) => f.type === type)

describe('two chat states in one process', () => {
  it('keep messages, hub deliveries and presence apart', async () => {
    const before = (await messages('b')).length
    const a1 = await open('a', 'usr_member')
    const a2 = await open('a', 'usr_admin')
    const b1 = await open('b', 'usr_member')
    b1.peer.clear()
    a1.socket.receive(JSON.stringify({ type: 'message', channel: 'general', content: 'only in a' }))
    a1.socket.receive(JSON.stringify({ type: 'typing', channel: 'general', typing: true }))
    await settle()
    expect(of(a2.peer, 'message').map((f) => (f as { content: string }).content)).toEqual(['only in a'])
    expect(of(a2.peer, 'typing')).toHaveLength(1)
    // Nothing of a's traffic (the admin joining, the message, typing) reached b's socket.
    expect(b1.peer.sent).toEqual([])
    expect((await messages('a')).map((m) => m.content)).toContain('only in a')
    expect((await messages('b')).map((m) => m.content)).not.toContain('only in a')
    expect((await messages('b')).length).toBe(before)
    expect(states.a.store.count('general')).toBe(states.b.store.count('general') + 1)
    // Presence: the admin is online in a only.
    const presence = async (which: 'a' | 'b') =>
      (
        (await (await get(which, '/api/v1/presence?channel=general')).json()) as {
          user_id: string
          online: boolean
        }[]
      )
        .filter((p) => p.online)
        .map((p) => p.user_id)
        .sort()
    expect(await presence('a')).toEqual(['usr_admin', 'usr_member'])
    expect(await presence('b')).toEqual(['usr_member'])
    expect(states.a.hub.size).toBe(2)
    expect(states.b.hub.size).toBe(1)
  })

  it('disposing one closes only its sockets; the other keeps working', async () => {
    const a1 = await open('a', 'usr_member')
    const b1 = await open('b', 'usr_member')
    const b2 = await open('b', 'usr_admin')
    states.a.dispose()
    expect(a1.peer.closedWith).toBe(1012)
    expect(b1.peer.isOpen && b2.peer.isOpen).toBe(true)
    // A socket that reaches the disposed state is closed at once, never joins its hub.
    const late = new FakePeer()
    const url = `http://chat.test/ws?token=${encodeURIComponent(h.tokenFor('usr_member'))}`
    await accept(late, new Request(url, { headers: { 'x-state': 'a' } }))
    expect(late.closedWith).toBe(1012)
    expect(states.a.hub.size).toBe(0)
    b2.peer.clear()
    b1.socket.receive(JSON.stringify({ type: 'message', channel: 'general', content: 'b lives on' }))
    await settle()
    expect(of(b2.peer, 'message').map((f) => (f as { content: string }).content)).toEqual(['b lives on'])
    expect((await messages('b')).map((m) => m.content)).toContain('b lives on')
  })

  it("the fake's own app serves its current state, and a switch replaces store and hub together", async () => {
    const first = h.fake.state()
    const peer = new FakePeer()
    const url = `http://chat.test/ws?token=${encodeURIComponent(h.tokenFor('usr_member'))}`
    const result = await h.fake.acceptSocket(peer, new Request(url))
    expect(result.ok).toBe(true)
    expect(first.hub.size).toBe(1)
    await h.use('default')
    const second = h.fake.state()
    expect(second).not.toBe(first)
    expect(second.store).not.toBe(first.store)
    expect(peer.closedWith).toBe(1012)
    expect(second.hub.size).toBe(0)
    expect((await h.request('/api/v1/messages?channel=general', { as: 'usr_member' })).status).toBe(200)
  })
})
