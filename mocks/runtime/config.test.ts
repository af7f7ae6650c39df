import { describe, expect, it } from 'vitest'
import { authServiceUrlInForce } from '../cli/commands.ts'
import { ConfigError, loadConfig, refreshDerivedUrls } from './config.ts'

describe('auth settings', () => {
  it('MOCKS_AUTH_ROLE_MAP adds names to the default role map; MOCKS_AUTH_NO_SESSION picks the answer', () => {
    expect(loadConfig({}).authRoleMap).toEqual({ admin: 'admin', child: 'child' })
    expect(loadConfig({}).authNoSession).toBe('401')
    const c = loadConfig({
      MOCKS_AUTH_ROLE_MAP: 'owner=admin,user=member',
      MOCKS_AUTH_NO_SESSION: '200-null',
    })
    expect(c.authRoleMap).toEqual({ admin: 'admin', child: 'child', owner: 'admin', user: 'member' })
    expect(c.authNoSession).toBe('200-null')
    expect(() => loadConfig({ MOCKS_AUTH_ROLE_MAP: 'owner=root' })).toThrow(ConfigError)
    expect(() => loadConfig({ MOCKS_AUTH_NO_SESSION: '204' })).toThrow(/401.*200-null/)
  })

  it("the banner's AUTH_SERVICE_URL is the one chat and media use: env over the fake's", () => {
    expect(authServiceUrlInForce(loadConfig({}), 'http://localhost:8083')).toBe('http://localhost:8083')
    const real = loadConfig({ AUTH_SERVICE_URL: 'https://casa.example/' })
    expect(authServiceUrlInForce(real, 'http://localhost:8083')).toBe('https://casa.example')
    expect(authServiceUrlInForce(loadConfig({}), undefined)).toBeNull()
  })
})

describe('loadConfig', () => {
  it('has the DESIGN defaults', () => {
    const c = loadConfig({})
    expect(c.host).toBe('127.0.0.1')
    expect(c.ports).toEqual({ v01t: 8000, media: 8081, chat: 8082, auth: 8083, upstash: 8084, control: 8090 })
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

  it("the demo's origin follows a control port chosen at start-up, even when MOCKS_ALLOWED_ORIGINS replaces the list", () => {
    const c = loadConfig({ MOCKS_ALLOWED_ORIGINS: 'https://app.example.com' })
    expect(c.allowedOrigins).toEqual([
      'https://app.example.com',
      'http://127.0.0.1:8090',
      'http://localhost:8090',
    ])
    c.ports.control = 45678
    refreshDerivedUrls(c)
    expect(c.allowedOrigins).toEqual([
      'https://app.example.com',
      'http://127.0.0.1:45678',
      'http://localhost:45678',
    ])
  })

  it('names the variable that is wrong', () => {
    expect(() => loadConfig({ MAX_FILE_SIZE: '10MB' })).toThrow(ConfigError)
    expect(() => loadConfig({ MAX_FILE_SIZE: '10MB' })).toThrow(/MAX_FILE_SIZE/)
    expect(() => loadConfig({ BETTER_AUTH_SECRET: 'short' })).toThrow(/at least 32/)
    expect(() => loadConfig({ WS_TOKEN_SECRET: 'short' })).toThrow(/WS_TOKEN_SECRET must be at least 32/)
    expect(loadConfig({ WS_TOKEN_SECRET: 'w'.repeat(32) }).wsTokenSecret).toBe('w'.repeat(32))
  })

  it("backs Upstash with MOCKS_UPSTASH_REDIS_URL only, never the frontend's REDIS_URL", () => {
    expect(loadConfig({ REDIS_URL: 'redis://frontend:6379' }).upstashRedisUrl).toBeUndefined()
    const c = loadConfig({ MOCKS_UPSTASH_REDIS_URL: 'redis://127.0.0.1:6390', MOCKS_UPSTASH_PORT: '9084' })
    expect(c.upstashRedisUrl).toBe('redis://127.0.0.1:6390')
    expect(c.ports.upstash).toBe(9084)
    expect(c.upstashPrefix).toBe('devarno-mocks:upstash:')
  })
})
