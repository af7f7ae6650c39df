import type { Env } from '../core/config.ts'
import type { FakeDescriptor } from '../fake/descriptor.ts'
import type { Scenario } from '../fake/scenario.ts'

// The env block a frontend pastes to reach the fakes (the start-up banner, the testcontainers
// helper), from each descriptor's `frontend`, and the URLs a frontend should use (the banner's
// and health's).

/**
 * A listener's URL as a frontend should use it: one host form, `localhost`, whatever the bind
 * address. Browser cookies belong to a host name, and the frontend's dev server, the session
 * cookie the fake auth sets and media's advertised file URLs all use localhost, so a cookie set
 * through one of these URLs reaches the others. (127.0.0.1 and localhost are different cookie
 * hosts.)
 */
export function frontendUrl(url: string): string {
  return url.replace(/\/\/(127\.0\.0\.1|0\.0\.0\.0|\[::\]|\[::1\])(?=[:/]|$)/, '//localhost')
}

/**
 * One service's env values, for a service reached at `url` (`http://host:port`), under the
 * scenario in force when it is known (a scenario may set a value, such as Upstash's token).
 */
export function frontendEnvOf(
  fake: FakeDescriptor,
  url: string,
  env: Env = {},
  scenario?: Scenario,
): Record<string, string> {
  const out: Record<string, string> = {}
  for (const name of fake.frontend.urls ?? []) out[name] = url
  for (const name of fake.frontend.wsUrls ?? []) out[name] = url.replace(/^http/, 'ws')
  if (fake.frontend.extra) {
    const { hostname, port } = new URL(url)
    Object.assign(
      out,
      fake.frontend.extra({
        url,
        host: hostname,
        port: Number(port),
        env,
        ...(scenario ? { scenario } : {}),
      }),
    )
  }
  return out
}

/** Every env name the fakes' frontends read, for the services in `fakes`. */
export function frontendEnvNames(fakes: readonly FakeDescriptor[]): string[] {
  return fakes.flatMap((f) => [...(f.frontend.urls ?? []), ...(f.frontend.wsUrls ?? [])])
}
