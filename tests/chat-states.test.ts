import type { Context } from 'hono'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createAuthFake } from '../mocks/auth/index.ts'
import { createChatApp } from '../mocks/chat/app.ts'
import { CHAT_MAX_FRAME_BYTES, type ChatFake, chat, createChatFake } from '../mocks/chat/index.ts'
import { type ChatState, createChatState } from '../mocks/chat/state.ts'
import { ChatTestClient } from '../mocks/chat/testing.ts'
import { createLogger } from '../mocks/core/logger.ts'
import type { ServiceListener } from '../mocks/fake/descriptor.ts'
import { startServer } from '../mocks/runtime/server.ts'
import { type InProcessFake, inProcess } from '../mocks/runtime/testing.ts'

// State as a value over real sockets: one chat app on one port serves two states, the
// WebSocket upgrade reaching its state through stateOf (here an `x-state` handshake header).

let h: InProcessFake<ChatFake>
let states: { a: ChatState; b: ChatState }
let server: ServiceListener

const stateOf = (c: Context): ChatState => {
  const which = c.req.header('x-state')
  if (which !== 'a' && which !== 'b') throw new Error('no such state')
  return states[which]
}

beforeAll(async () => {
  h = await inProcess(createChatFake, { companions: [createAuthFake] })
  states = { a: await createChatState(h.scenario, h.deps), b: await createChatState(h.scenario, h.deps) }
  server = await startServer({
    app: createChatApp(chat, h.deps, stateOf, { fetch: h.tools.fetch }),
    port: 0,
    host: '127.0.0.1',
    logger: createLogger('chat-states'),
    websocket: { maxPayload: CHAT_MAX_FRAME_BYTES },
  })
})
afterAll(async () => {
  await server.close()
  states.a.dispose()
  states.b.dispose()
  await h.close()
})

async function open(which: 'a' | 'b', user: string) {
  const url = `${server.url.replace(/^http/, 'ws')}/ws?token=${h.tokenFor(user)}`
  const client = await ChatTestClient.open(url, { headers: { 'x-state': which } })
  const m = client.mark()
  client.send({ type: 'join', channel: 'general' })
  await client.waitFor((f) => f.type === 'presence' && f.user_id === user, { after: m })
  return client
}

describe('two chat states behind one listener', () => {
  it('a message and presence in one never reach the sockets of the other; disposing one spares the other', async () => {
    const b1 = await open('b', 'usr_member')
    const a1 = await open('a', 'usr_member')
    const a2 = await open('a', 'usr_admin')
    const mark = b1.mark()
    const seen = a2.mark()
    a1.send({ type: 'message', channel: 'general', content: 'said in a' })
    await a2.waitFor((f) => f.type === 'message' && f.content === 'said in a', { after: seen })
    await b1.sync()
    expect(b1.since(mark).filter((f) => f.type !== 'pong')).toEqual([])
    expect(states.a.hub.size).toBe(2)
    expect(states.b.hub.size).toBe(1)

    states.a.dispose()
    expect((await a1.closed).code).toBe(1012)
    expect((await a2.closed).code).toBe(1012)
    expect(b1.isOpen).toBe(true)
    const b2 = await open('b', 'usr_admin')
    const m2 = b1.mark()
    b2.send({ type: 'message', channel: 'general', content: 'b lives on' })
    await b1.waitFor((f) => f.type === 'message' && f.content === 'b lives on', { after: m2 })
    // A handshake that reaches the disposed state is closed at once.
    const late = await ChatTestClient.open(
      `${server.url.replace(/^http/, 'ws')}/ws?token=${h.tokenFor('usr_member')}`,
      { headers: { 'x-state': 'a' } },
    )
    expect((await late.closed).code).toBe(1012)
    expect(states.a.hub.size).toBe(0)
    await b1.close()
    await b2.close()
    expect(b1.violations).toEqual([])
  })
})
