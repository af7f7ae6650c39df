import { describe, expect, it } from 'vitest'
import { createControlClient, MocksNotRunningError } from '../client/index.ts'
import { readConfig } from './config.ts'
import { resolveControlUrl } from './control-url.ts'

describe('resolveControlUrl', () => {
  it('MOCKS_CONTROL_URL first, trailing slashes dropped', () => {
    expect(resolveControlUrl({ MOCKS_CONTROL_URL: 'http://box:9000/', MOCKS_CONTROL_PORT: '1' })).toEqual({
      url: 'http://box:9000',
      source: 'MOCKS_CONTROL_URL=http://box:9000/',
    })
  })

  it('else the address the server binds, from the same variables readConfig reads', () => {
    for (const env of [
      { MOCKS_CONTROL_PORT: '9100' },
      { MOCKS_HOST: '127.0.0.2', MOCKS_CONTROL_PORT: '9101' },
      {},
    ]) {
      const config = readConfig(env)
      expect(resolveControlUrl(env).url).toBe(`http://${config.host}:${config.ports.control}`)
    }
    expect(resolveControlUrl({ MOCKS_CONTROL_PORT: '9100' }).source).toBe('MOCKS_CONTROL_PORT=9100')
    expect(resolveControlUrl({}).source).toMatch(/default.*MOCKS_CONTROL_URL.*MOCKS_HOST.*MOCKS_CONTROL_PORT/)
  })

  it('a wildcard bind is reached on loopback', () => {
    expect(resolveControlUrl({ MOCKS_HOST: '0.0.0.0' }).url).toBe('http://127.0.0.1:8090')
    expect(resolveControlUrl({ MOCKS_HOST: '::' }).url).toBe('http://[::1]:8090')
    expect(resolveControlUrl({ MOCKS_HOST: '::1', MOCKS_CONTROL_PORT: '1' }).url).toBe('http://[::1]:1')
  })
})

describe('the control client', () => {
  it('finds the control plane through the env, and names the URL and the variables when nothing answers', async () => {
    const saved = { ...process.env }
    try {
      delete process.env.MOCKS_CONTROL_URL
      delete process.env.MOCKS_HOST
      process.env.MOCKS_CONTROL_PORT = '9'
      const client = createControlClient()
      expect(client.baseUrl).toBe('http://127.0.0.1:9')
      const err = await client.health().catch((e: unknown) => e)
      expect(err).toBeInstanceOf(MocksNotRunningError)
      expect((err as Error).message).toMatch(
        /not answering at http:\/\/127\.0\.0\.1:9 \([^)]+\); that URL comes from MOCKS_CONTROL_PORT=9\..*MOCKS_CONTROL_URL/,
      )
    } finally {
      process.env = saved
    }
  })
})
