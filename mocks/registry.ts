import { auth } from './auth/index.ts'
import { chat } from './chat/index.ts'
import type { FakeDescriptor } from './fake/descriptor.ts'
import { media } from './media/index.ts'
import { upstash } from './upstash/index.ts'
import { v01t } from './v01t/index.ts'

// The one place that knows every fake: one descriptor a line (mocks/fake/descriptor.ts says
// what a descriptor holds). Config, the scenario schema, msw, the CLI, health, the banner and
// the testcontainers helper all derive from this list; fakes never import each other. Auth
// comes first: the URL chat and media validate sessions against is known before they serve.
export const FAKES: readonly FakeDescriptor[] = [auth, chat, media, v01t, upstash]
