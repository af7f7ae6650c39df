import type { FaultHost } from '../faults/engine.ts'
import type { MocksConfig } from './config.ts'
import { defaultErrorBody } from './envelope.ts'
import { cookieVerifier, sessionCookieFrom } from './session-cookie.ts'
import { rawQueryParam } from './url.ts'

// What the fault engine is told instead of importing it: which services exist and their
// transports, how a request's session is read (better-auth's signed cookie, or the cookie's
// value in `?token=` on a WebSocket handshake), and each service's error envelope. Part of the
// runtime layer (it knows the fakes); the engine imports none of it.

export function faultHost(config: Pick<MocksConfig, 'betterAuthSecret'>): FaultHost {
  const verify = cookieVerifier(config.betterAuthSecret)
  return {
    // Until the fakes describe themselves (one descriptor each), their transports are listed here.
    services: { auth: 'http', chat: 'http+ws', media: 'http', v01t: 'http' },
    identify: ({ headers, search, upgrade }) => {
      const value =
        sessionCookieFrom(headers.get('cookie')) ?? (upgrade ? rawQueryParam(search, 'token') : undefined)
      return value ? (verify(value) ?? undefined) : undefined
    },
    errorBody: defaultErrorBody,
  }
}
