import { describe, expect, it } from 'vitest'
import { ConfigError, loadConfig, refreshDerivedUrls } from './config.ts'

describe('loadConfig', () => {
  it('has the DESIGN defaults', () => {
    const c = loadConfig({})
    expect(c.host).toBe('127.0.0.1')
    expect(c.ports).toEqual({ v01t: 8000, media: 8081, chat: 8082, auth: 8083, db: 5433, control: 8090 })
    expect(c.maxFileSize).toBe(10_485_760)
    expect(c.maxAvatarSize).toBe(2_097_152)
    expect(c.authServiceUrl).toBe('http://127.0.0.1:8083')
    expect(c.mediaBaseUrl).toBe('http://localhost:8081')
    expect(c.scenario).toBe('default')
  })

  it('reads the matrix env names, and PORT for a service run alone', () => {
    const c = loadConfig(
      {
        MAX_FILE_SIZE: '100',
        MAX_AVATAR_SIZE: '50',
        AUTH_SERVICE_URL: 'https://casa.devarno.cloud/',
        BASE_URL: 'http://m:1/',
        PORT: '9999',
        MOCKS_HOST: '0.0.0.0',
      },
      'chat',
    )
    expect(c.maxFileSize).toBe(100)
    expect(c.maxAvatarSize).toBe(50)
    expect(c.authServiceUrl).toBe('https://casa.devarno.cloud')
    expect(c.mediaBaseUrl).toBe('http://m:1')
    expect(c.ports.chat).toBe(9999)
    expect(c.host).toBe('0.0.0.0')
    c.ports.auth = 1234
    refreshDerivedUrls(c)
    expect(c.authServiceUrl).toBe('https://casa.devarno.cloud')
  })

  it('derived URLs follow ports chosen at start-up', () => {
    const c = loadConfig({})
    c.ports.auth = 4001
    c.ports.media = 4002
    refreshDerivedUrls(c)
    expect(c.authServiceUrl).toBe('http://127.0.0.1:4001')
    expect(c.mediaBaseUrl).toBe('http://localhost:4002')
  })

  it('names the variable that is wrong', () => {
    expect(() => loadConfig({ MAX_FILE_SIZE: '10MB' })).toThrow(ConfigError)
    expect(() => loadConfig({ MAX_FILE_SIZE: '10MB' })).toThrow(/MAX_FILE_SIZE/)
    expect(() => loadConfig({ BETTER_AUTH_SECRET: 'short' })).toThrow(/at least 32/)
  })
})
