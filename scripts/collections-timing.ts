// Times reads through the @msw/data collections against the read models the hot paths use,
// for the figures quoted in mocks/chat/store.ts and mocks/v01t/store.ts. Run:
//   pnpm exec tsx scripts/collections-timing.ts
// Not part of `pnpm bench`: a measurement to keep the comments in the stores honest.
import { ChatStore } from '../mocks/chat/store.ts'
import { loadConfig } from '../mocks/runtime/config.ts'
import { ScenarioLoader } from '../mocks/runtime/scenario-loader.ts'
import { listAnswer } from '../mocks/v01t/query.ts'
import { buildV01tStore } from '../mocks/v01t/store.ts'

const loader = new ScenarioLoader(loadConfig({}).scenariosDir)
const base = loader.load('default')

function perCall(label: string, n: number, fn: () => unknown): number {
  for (let i = 0; i < Math.min(n, 50); i++) fn()
  const started = performance.now()
  for (let i = 0; i < n; i++) fn()
  const us = ((performance.now() - started) * 1000) / n
  console.log(`${label.padEnd(72)} ${us.toFixed(1).padStart(9)} µs/call`)
  return us
}

// ---- chat: a history page (newest 50 of a channel) ----
const MESSAGES = 10_000
const chatScenario = loader.resolveInline({
  extends: 'default',
  name: 'timing-chat',
  chat: { generate: { messagesPerChannel: Math.ceil(MESSAGES / base.chat.channels.length) } },
})
const chat = await ChatStore.build(chatScenario)
await chat.materialized
const channel = 'general'
console.log(`chat: ${chat.messages.count()} messages in the collection, ${chat.count(channel)} in ${channel}`)
perCall('chat history via the per-channel index (ChatStore.history)', 20_000, () =>
  chat.history(channel, { limit: 50 }),
)
perCall('chat history via messages.findMany(where channelId, orderBy createdAt desc, take 50)', 200, () =>
  chat.messages.findMany((q) => q.where({ channelId: channel }), {
    orderBy: { createdAt: 'desc' },
    take: 50,
  }),
)

// ---- V01T: a list page ----
const RECORDS = 1000
const v01tScenario = loader.resolveInline({
  extends: 'default',
  name: 'timing-v01t',
  v01t: {
    applications: [
      ...base.v01t.applications,
      { slug: 'bench', components: [{ slug: 'node', generate: { count: RECORDS, cluster: 'bench-orgs' } }] },
    ],
  },
})
const v01t = await buildV01tStore(v01tScenario)
const view = v01t.applications.get('bench')!.get('node')!
console.log(`v01t: ${v01t.records.count()} records in the collection, ${view.rows.length} in bench/node`)
perCall('v01t list page via the read model (listAnswer, memoised body)', 20_000, () =>
  listAnswer(view, '?page_size=20&order_by=-title'),
)
perCall('v01t list page via records.findMany(where component, orderBy title desc, take 20)', 200, () =>
  v01t.records.findMany((q) => q.where({ application: 'bench', component_type: 'node' }), {
    orderBy: { title: 'desc' },
    take: 20,
  }),
)
perCall('v01t read model of a component built from records.findMany (once per seed)', 20, () =>
  v01t.records.findMany((q) => q.where({ application: 'bench', component_type: 'node' })),
)
perCall('v01t every record via records.findMany() (one scan, grouped per component)', 20, () =>
  v01t.records.findMany(),
)

// ---- chat: a channel lookup (every REST call and WS frame) ----
perCall('chat channel lookup via channels.findFirst(where id)', 20_000, () =>
  chat.channels.findFirst((q) => q.where({ id: channel })),
)
