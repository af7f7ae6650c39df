import { describe, expect, it } from 'vitest'
import { allowedOriginsFor, DEFAULT_ALLOWED_ORIGINS, readConfig } from './config.ts'
import { configOriginMatcher, createOriginMatcher } from './origins.ts'

describe('origin allow-list', () => {
  const allowed = createOriginMatcher(DEFAULT_ALLOWED_ORIGINS)

  it('allows the matrix origins, devarno.cloud subdomains and any localhost / 127.0.0.1 port', () => {
    for (const o of [
      'https://casa.devarno.cloud',
      'https://a.b.devarno.cloud',
      'http://localhost:3000',
      'http://localhost:9530',
      'http://127.0.0.1:8090',
      'http://127.0.0.1:5173',
      'HTTP://LOCALHOST:3001',
    ]) {
      expect(allowed(o), o).toBe(true)
    }
  })

  it('refuses look-alikes, other schemes, hosts that only start like localhost, and missing origins', () => {
    for (const o of [
      'https://devarno.cloud.evil.com',
      'https://evildevarno.cloud',
      'http://casa.devarno.cloud',
      'https://devarno.cloud',
      'https://localhost:3000',
      'http://localhost',
      'http://localhost.evil.example:3000',
      'http://localhost:3000.evil.example',
      'http://127.0.0.1.nip.io:80',
      'http://localhost:abc',
      'null',
      '',
      undefined,
    ]) {
      expect(allowed(o), String(o)).toBe(false)
    }
  })
})

describe('origin settings', () => {
  it('MOCKS_EXTRA_ORIGINS adds to the defaults', () => {
    const c = readConfig({ MOCKS_EXTRA_ORIGINS: 'https://staging.example.com, http://box.lan:8080/' })
    const m = createOriginMatcher(c.allowedOrigins)
    expect(m('https://staging.example.com')).toBe(true)
    expect(m('http://box.lan:8080')).toBe(true)
    expect(m('http://localhost:3000')).toBe(true)
    expect(m('https://casa.devarno.cloud')).toBe(true)
  })

  it('MOCKS_ALLOWED_ORIGINS replaces them, but the demo (the control port) stays allowed', () => {
    const c = readConfig({ MOCKS_ALLOWED_ORIGINS: 'https://app.example.com', MOCKS_CONTROL_PORT: '9100' })
    const m = createOriginMatcher(c.allowedOrigins)
    expect(m('https://app.example.com')).toBe(true)
    expect(m('http://localhost:3000')).toBe(false)
    expect(m('http://127.0.0.1:9100')).toBe(true)
    expect(m('http://localhost:9100')).toBe(true)
    expect(m('http://127.0.0.1:8090')).toBe(false)
    // A control port chosen at start-up moves the demo's origin with it (runtime/config's refreshDerivedUrls).
    c.ports.control = 45678
    c.allowedOrigins = allowedOriginsFor(c.originSettings, 45678)
    expect(createOriginMatcher(c.allowedOrigins)('http://127.0.0.1:45678')).toBe(true)
  })

  it('logs each refused Origin once at warn with the env name that would allow it, repeats at debug', () => {
    const lines: { level: string; msg: string }[] = []
    const logger = {
      warn: (_o: object, msg: string) => void lines.push({ level: 'warn', msg }),
      debug: (_o: object, msg: string) => void lines.push({ level: 'debug', msg }),
    }
    const c = readConfig({})
    const m = configOriginMatcher(c, logger as never, 'chat (CORS / WebSocket)')
    expect(m('http://localhost:3000')).toBe(true)
    expect(m(undefined)).toBe(false)
    expect(lines).toEqual([])
    expect(m('https://evil.example')).toBe(false)
    expect(m('https://evil.example')).toBe(false)
    expect(lines.map((l) => l.level)).toEqual(['warn', 'debug'])
    expect(lines[0]?.msg).toMatch(
      /Origin https:\/\/evil\.example refused by chat.*MOCKS_EXTRA_ORIGINS=https:\/\/evil\.example/,
    )

    const replaced = readConfig({ MOCKS_ALLOWED_ORIGINS: 'https://a.example' })
    const lines2: string[] = []
    const m2 = configOriginMatcher(
      replaced,
      { warn: (_o: object, msg: string) => void lines2.push(msg), debug: () => undefined } as never,
      'media (CORS)',
    )
    expect(m2('http://localhost:3000')).toBe(false)
    expect(lines2[0]).toMatch(/MOCKS_ALLOWED_ORIGINS=https:\/\/a\.example,http:\/\/localhost:3000/)
  })

  it('follows a config whose allow-list changes after the matcher was made', () => {
    const c = readConfig({ MOCKS_ALLOWED_ORIGINS: 'https://a.example', MOCKS_CONTROL_PORT: '0' })
    const m = configOriginMatcher(c, { warn: () => undefined, debug: () => undefined } as never, 'x')
    expect(m('http://127.0.0.1:40000')).toBe(false)
    c.allowedOrigins = allowedOriginsFor(c.originSettings, 40000)
    expect(m('http://127.0.0.1:40000')).toBe(true)
  })
})
