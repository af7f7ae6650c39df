import { randomBytes } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import {
  GenericContainer,
  getContainerRuntimeClient,
  ImageName,
  RandomPortGenerator,
  type StartedTestContainer,
  Wait,
} from 'testcontainers'
import { type ControlClient, createControlClient } from '../client/index.ts'
import { CONTROL_PORT, DEFAULT_AUTH_SECRET, type Env } from '../core/config.ts'
import type { FakeDescriptor } from '../fake/descriptor.ts'
import { FAKES } from '../registry.ts'
import { frontendEnvOf } from '../runtime/frontend-env.ts'

// `devarno-mocks/testcontainers`: the mocks image in another repository's tests. Builds the
// image from this repository's compose/Dockerfile (or reuses a built or published one),
// starts it with a control token, waits for the control plane's health, and hands back the
// URLs and the env block a frontend under test needs.

/** The tag a local build gets; compose uses the same one. */
export const DEFAULT_IMAGE = 'devarno-mocks:local'
/** Relative to the build context (this repository's root). */
export const DOCKERFILE = 'compose/Dockerfile'
export const HEALTH_PATH = '/__mocks/health'
const BUILD_CONTEXT = fileURLToPath(new URL('../../', import.meta.url))

export class ContainerRuntimeUnavailableError extends Error {
  override name = 'ContainerRuntimeUnavailableError'
}

export type ContainerRuntimeStatus =
  | { available: true; description: string }
  | { available: false; reason: string }

/**
 * Whether a container runtime (Docker, Podman, Colima, a remote DOCKER_HOST) answers. Never
 * throws; gives up after `timeoutMs`, so a suite on a machine without one learns it quickly.
 */
export async function detectContainerRuntime(timeoutMs = 2500): Promise<ContainerRuntimeStatus> {
  let timer: ReturnType<typeof setTimeout> | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs)
  })
  try {
    const client = await Promise.race([getContainerRuntimeClient(), timeout])
    const { serverVersion, operatingSystem, host } = client.info.containerRuntime
    return { available: true, description: `${operatingSystem} ${serverVersion} at ${host}` }
  } catch (err) {
    return {
      available: false,
      reason: `no container runtime found (${(err as Error).message}): start Docker or set DOCKER_HOST`,
    }
  } finally {
    clearTimeout(timer)
  }
}

export interface MocksContainerOptions {
  /** Scenario applied at start (MOCKS_SCENARIO); default `default`. */
  scenario?: string
  /** Image to run. Given without `build`, it is used as is (pulled if missing). */
  image?: string
  /**
   * Build the image from compose/Dockerfile first. Default: build only when no `image` is given
   * and the local tag does not exist yet. `true` rebuilds (Docker's layer cache keeps it quick);
   * `false` never builds.
   */
  build?: boolean
  /** Extra env for the mocks (MAX_FILE_SIZE, BETTER_AUTH_SECRET, MOCKS_ALLOWED_ORIGINS, ...). */
  env?: Record<string, string>
  /** Bearer token for the control plane; default a random one (callers outside are not loopback). */
  controlToken?: string
  startupTimeoutMs?: number
  /** The fakes the image runs (default this package's registry). */
  fakes?: readonly FakeDescriptor[]
}

/** Each service's URL on the host (by descriptor name: chat, media, auth, v01t, ...), and the control plane's. */
export type MocksUrls = Readonly<Record<string, string>> & { readonly control: string }

/**
 * The env names family-hub and devarno-landing read (DESIGN §1; each descriptor's `frontend`:
 * CHAT_SERVICE_URL, NEXT_PUBLIC_CHAT_WS_URL, MEDIA_SERVICE_URL, AUTH_SERVICE_URL, V01T_API_URL,
 * NEXT_PUBLIC_V01T_API_URL, ...), pointed at the container.
 */
export type FrontendEnv = Readonly<Record<string, string>> & {
  readonly BETTER_AUTH_SECRET: string
  readonly MOCKS_CONTROL_URL: string
  readonly MOCKS_CONTROL_TOKEN: string
}

export interface MocksContainer {
  urls: MocksUrls
  env: FrontendEnv
  control: ControlClient
  container: StartedTestContainer
  stop(): Promise<void>
}

/** The frontend's env block for mocks reachable at these URLs (`env`: the container's). */
export function frontendEnv(
  urls: MocksUrls,
  secret: string,
  controlToken: string,
  env: Env = {},
  fakes: readonly FakeDescriptor[] = FAKES,
): FrontendEnv {
  const out: Record<string, string> = {}
  for (const fake of fakes) {
    const url = urls[fake.name]
    if (url) Object.assign(out, frontendEnvOf(fake, url, env))
  }
  return {
    ...out,
    BETTER_AUTH_SECRET: secret,
    MOCKS_CONTROL_URL: urls.control,
    MOCKS_CONTROL_TOKEN: controlToken,
  }
}

async function resolveImage(opts: MocksContainerOptions): Promise<GenericContainer> {
  // A named image runs as is (pulled if missing) unless a build is asked for.
  if (opts.image && !opts.build) return new GenericContainer(opts.image)
  const tag = opts.image ?? DEFAULT_IMAGE
  const exists = await (await getContainerRuntimeClient()).image.exists(ImageName.fromString(tag))
  if (opts.build || (opts.build === undefined && !exists)) {
    // Kept after the run (no deleteOnExit) so the next run reuses it.
    return GenericContainer.fromDockerfile(BUILD_CONTEXT, DOCKERFILE).build(tag, { deleteOnExit: false })
  }
  if (!exists) throw new Error(`Image ${tag} does not exist: pass build: true, or image: a published one`)
  return new GenericContainer(tag)
}

/** Starts the mocks in a container and waits until the control plane reports healthy. */
export async function startMocksContainer(opts: MocksContainerOptions = {}): Promise<MocksContainer> {
  const env = opts.env ?? {}
  // Ports inside the container are fixed (the image EXPOSEs them); the host side is mapped.
  const fakes = opts.fakes ?? FAKES
  const fixed = [...fakes.map((f) => f.portEnv), CONTROL_PORT.portEnv, 'PORT'].filter((name) => name in env)
  if (fixed.length) {
    throw new Error(
      `${fixed.join(', ')}: ports inside the container are fixed; read the mapped ones from urls`,
    )
  }
  const runtime = await detectContainerRuntime()
  if (!runtime.available) throw new ContainerRuntimeUnavailableError(runtime.reason)

  const host = (await getContainerRuntimeClient()).info.containerRuntime.host
  const token = opts.controlToken ?? env.MOCKS_CONTROL_TOKEN ?? randomBytes(24).toString('hex')
  const secret = env.BETTER_AUTH_SECRET ?? DEFAULT_AUTH_SECRET
  // A service that advertises absolute URLs from env at start-up (media's BASE_URL) gets its
  // host port chosen before the container starts; the others are mapped wherever Docker likes.
  const fixedHostPorts = new Map<string, number>()
  const advertised: Record<string, string> = {}
  for (const fake of fakes) {
    if (!fake.publicUrlEnv) continue
    const hostPort = await new RandomPortGenerator().generatePort()
    fixedHostPorts.set(fake.name, hostPort)
    advertised[fake.publicUrlEnv] = `http://${host}:${hostPort}`
  }
  const image = await resolveImage(opts)
  const container = await image
    .withExposedPorts(
      ...fakes.map((f) => {
        const hostPort = fixedHostPorts.get(f.name)
        return hostPort ? { container: f.port, host: hostPort } : f.port
      }),
      CONTROL_PORT.port,
    )
    .withEnvironment({
      ...advertised,
      ...env,
      MOCKS_SCENARIO: opts.scenario ?? env.MOCKS_SCENARIO ?? 'default',
      MOCKS_CONTROL_TOKEN: token,
    })
    .withWaitStrategy(
      Wait.forHttp(HEALTH_PATH, CONTROL_PORT.port)
        .withHeaders({ authorization: `Bearer ${token}` })
        .forStatusCode(200),
    )
    .withStartupTimeout(opts.startupTimeoutMs ?? 60_000)
    .start()

  const url = (port: number) => `http://${container.getHost()}:${container.getMappedPort(port)}`
  const urls: MocksUrls = {
    ...Object.fromEntries(fakes.map((f) => [f.name, url(f.port)])),
    control: url(CONTROL_PORT.port),
  }
  return {
    urls,
    env: frontendEnv(urls, secret, token, env, fakes),
    control: createControlClient({ baseUrl: urls.control, token }),
    container,
    async stop() {
      await container.stop()
    },
  }
}
