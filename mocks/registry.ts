import { createAuthFake } from './auth/index.ts'
import { createChatFake } from './chat/index.ts'
import type { ServiceName } from './core/config.ts'
import type { FakeFactory } from './core/runtime.ts'
import { createMediaFake } from './media/index.ts'
import { createV01tFake } from './v01t/index.ts'

// The one place that knows every fake. Fakes never import each other; the CLI, tests and
// the msw adapter pick from here.
export const FAKES: Partial<Record<ServiceName, FakeFactory>> = {
  auth: createAuthFake,
  media: createMediaFake,
  chat: createChatFake,
  v01t: createV01tFake,
}
