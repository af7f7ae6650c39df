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
import {
  DEFAULT_AUTH_SECRET,
  DEFAULT_PORTS,
  DEFAULT_UPSTASH_TOKEN,
  PORT_ENV,
  type ServiceName,
} from '../core/config.ts'

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
}

export interface MocksUrls {
  chat: string
  media: string
  auth: string
  v01t: string
  upstash: string
  control: string
}

/** The env names family-hub and devarno-landing read (DESIGN §1), pointed at the container. */
export interface FrontendEnv {
  CHAT_SERVICE_URL: string
  NEXT_PUBLIC_CHAT_WS_URL: string
  MEDIA_SERVICE_URL: string
  AUTH_SERVICE_URL: string
  BETTER_AUTH_SECRET: string
  V01T_API_URL: string
  NEXT_PUBLIC_V01T_API_URL: string
  UPSTASH_REDIS_REST_URL: string
  UPSTASH_REDIS_REST_TOKEN: string
  MOCKS_CONTROL_URL: string
  MOCKS_CONTROL_TOKEN: string
}

export interface MocksContainer {
  urls: MocksUrls
  env: FrontendEnv
  control: ControlClient
  container: StartedTestContainer
  stop(): Promise<void>
}

/** The frontend's env block for mocks reachable at these URLs. */
export function frontendEnv(urls: MocksUrls, secret: string, controlToken: string): FrontendEnv {
  return {
    CHAT_SERVICE_URL: urls.chat,
    NEXT_PUBLIC_CHAT_WS_URL: urls.chat.replace(/^http/, 'ws'),
    MEDIA_SERVICE_URL: urls.media,
    AUTH_SERVICE_URL: urls.auth,
    BETTER_AUTH_SECRET: secret,
    V01T_API_URL: urls.v01t,
    NEXT_PUBLIC_V01T_API_URL: urls.v01t,
    UPSTASH_REDIS_REST_URL: urls.upstash,
    // The default scenario's token; a scenario with its own `upstash.token` overrides it.
    UPSTASH_REDIS_REST_TOKEN: DEFAULT_UPSTASH_TOKEN,
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
  const fixed = [...Object.values(PORT_ENV), 'PORT'].filter((name) => name in env)
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
  // Media advertises absolute file URLs from BASE_URL at start-up, so its host port is chosen
  // before the container starts; the others are mapped wherever Docker likes.
  const mediaHostPort = await new RandomPortGenerator().generatePort()
  const image = await resolveImage(opts)
  const container = await image
    .withExposedPorts(
      DEFAULT_PORTS.v01t,
      { container: DEFAULT_PORTS.media, host: mediaHostPort },
      DEFAULT_PORTS.chat,
      DEFAULT_PORTS.auth,
      DEFAULT_PORTS.upstash,
      DEFAULT_PORTS.control,
    )
    .withEnvironment({
      BASE_URL: `http://${host}:${mediaHostPort}`,
      ...env,
      MOCKS_SCENARIO: opts.scenario ?? env.MOCKS_SCENARIO ?? 'default',
      MOCKS_CONTROL_TOKEN: token,
    })
    .withWaitStrategy(
      Wait.forHttp(HEALTH_PATH, DEFAULT_PORTS.control)
        .withHeaders({ authorization: `Bearer ${token}` })
        .forStatusCode(200),
    )
    .withStartupTimeout(opts.startupTimeoutMs ?? 60_000)
    .start()

  const url = (service: ServiceName | 'control') =>
    `http://${container.getHost()}:${container.getMappedPort(DEFAULT_PORTS[service])}`
  const urls: MocksUrls = {
    chat: url('chat'),
    media: url('media'),
    auth: url('auth'),
    v01t: url('v01t'),
    upstash: url('upstash'),
    control: url('control'),
  }
  return {
    urls,
    env: frontendEnv(urls, secret, token),
    control: createControlClient({ baseUrl: urls.control, token }),
    container,
    async stop() {
      await container.stop()
    },
  }
}
