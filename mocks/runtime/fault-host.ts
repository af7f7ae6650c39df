import type { MocksConfig } from '../core/config.ts'
import { defaultErrorBody, plainEnvelope } from '../core/envelope.ts'
import { cookieVerifier, sessionCookieFrom } from '../core/session-cookie.ts'
import { rawQueryParam } from '../core/url.ts'
import type { FakeDescriptor } from '../fake/descriptor.ts'
import type { FaultHost } from '../faults/engine.ts'
import { FAKES } from '../registry.ts'

// What the fault engine is told instead of importing it: the services and their transports
// and error envelopes (from the fakes' descriptors), and how a request's session is read
// (better-auth's signed cookie, or the cookie's value in `?token=` on a WebSocket handshake).

export function faultHost(
  config: Pick<MocksConfig, 'betterAuthSecret'>,
  fakes: readonly FakeDescriptor[] = FAKES,
): FaultHost {
  const verify = cookieVerifier(config.betterAuthSecret)
  const envelopes = new Map(fakes.map((f) => [f.name, f.envelope]))
  return {
    services: Object.fromEntries(fakes.map((f) => [f.name, f.transport])),
    identify: ({ headers, search, upgrade }) => {
      const value =
        sessionCookieFrom(headers.get('cookie')) ?? (upgrade ? rawQueryParam(search, 'token') : undefined)
      return value ? (verify(value) ?? undefined) : undefined
    },
    errorBody: (service, status) => defaultErrorBody(envelopes.get(service) ?? plainEnvelope, status),
  }
}
