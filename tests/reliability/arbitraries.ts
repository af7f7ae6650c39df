import * as fc from 'fast-check'

// Generators of bad input shared by the reliability suites. They aim at decoders and
// validators: wrong types, odd encodings, NUL, lone surrogates, huge and negative numbers.

/** Strings every parser has a corner for. */
export const CORNER_STRINGS = [
  '',
  ' ',
  '\0',
  'a\0b',
  '%',
  '%%',
  '%ZZ',
  '%E0%A4%A',
  '%00',
  '%2e%2e',
  '..',
  '../..',
  '..\\..',
  '__proto__',
  'constructor',
  'prototype',
  'toString',
  'hasOwnProperty',
  'null',
  'undefined',
  'true',
  'NaN',
  'Infinity',
  '-1',
  '-0',
  '0',
  '1.5',
  '1e309',
  '0x10',
  '9'.repeat(40),
  '-9'.repeat(20),
  '\u202e\u0041',
  '\ud800',
  '\udfff\ud800',
  '\ufeff',
  '𝔘𝔫𝔦𝔠𝔬𝔡𝔢 😀 ❤️',
  'e\u0301',
  '<script>alert(1)</script>',
  "' OR 1=1 --",
  // biome-ignore lint/suspicious/noTemplateCurlyInString: a log4j-style lookup, sent literally
  '${jndi:ldap://x}',
  '{{7*7}}',
  '\r\n',
  '\t',
] as const

/** A long run of one character (ASCII, multi-byte, NUL, percent). */
export const hugeString = fc
  .tuple(fc.constantFrom('a', '9', '%', 'é', '😀', '\0', ' '), fc.integer({ min: 300, max: 5000 }))
  .map(([c, n]) => c.repeat(n))

export const weirdString: fc.Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: fc.string({ unit: 'binary', maxLength: 24 }) },
  { weight: 3, arbitrary: fc.constantFrom(...CORNER_STRINGS) },
  { weight: 2, arbitrary: fc.string({ unit: 'grapheme', maxLength: 16 }) },
  {
    weight: 1,
    arbitrary: fc.integer({ min: Number.MIN_SAFE_INTEGER, max: Number.MAX_SAFE_INTEGER }).map(String),
  },
  { weight: 1, arbitrary: fc.double().map(String) },
  { weight: 1, arbitrary: hugeString },
)

/** JSON values of the wrong type for a field that wants a string (or anything). */
export const wrongType: fc.Arbitrary<unknown> = fc.oneof(
  fc.integer({ min: -(2 ** 31), max: 2 ** 31 }),
  fc.constantFrom(-1, 0, 1e308, -1e308, Number.MAX_SAFE_INTEGER + 2, 0.1),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.jsonValue({ maxDepth: 1 }), { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 6 }), fc.jsonValue({ maxDepth: 1 }), { maxKeys: 3 }),
)

/** Either a plausible string, a weird one, or the wrong type. */
export const anyField = (plausible: fc.Arbitrary<unknown>): fc.Arbitrary<unknown> =>
  fc.oneof(
    { weight: 3, arbitrary: plausible },
    { weight: 3, arbitrary: weirdString },
    { weight: 2, arbitrary: wrongType },
  )

/**
 * JSON text nested deeper than any real body (recursion and JSON.stringify limits), built as
 * text: JSON.stringify itself gives up beyond a few thousand levels.
 */
export function deepJsonText(depth: number, leaf = '1'): string {
  let open = ''
  let close = ''
  for (let i = 0; i < depth; i++) {
    open += i % 2 ? '[' : '{"a":'
    close = (i % 2 ? ']' : '}') + close
  }
  return `${open}${leaf}${close}`
}

/** How a JSON object is turned into body text: well-formed, truncated, with repeated keys, or not JSON. */
export const jsonText = (object: fc.Arbitrary<Record<string, unknown>>): fc.Arbitrary<string> =>
  fc.oneof(
    { weight: 6, arbitrary: object.map((o) => JSON.stringify(o)) },
    {
      weight: 1,
      arbitrary: fc
        .tuple(object, fc.double({ min: 0, max: 1, noNaN: true }))
        .map(([o, f]) => JSON.stringify(o).slice(0, Math.floor(JSON.stringify(o).length * f))),
    },
    {
      weight: 1,
      arbitrary: fc
        .tuple(object, fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 1 }))
        .map(([o, k, v]) => {
          // The same key twice: JSON.parse keeps the last, other parsers the first.
          const first = Object.keys(o)[0] ?? k
          return `{${JSON.stringify(first)}:${JSON.stringify(v) ?? 'null'},${JSON.stringify(o).slice(1)}`
        }),
    },
    { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v) ?? 'null') },
    { weight: 1, arbitrary: weirdString },
    {
      weight: 1,
      arbitrary: fc.constantFrom('', 'null', '[]', '{}', '{"a":}', '\u0000{}', '{"__proto__":{"x":1}}'),
    },
  )

/** Bytes of a body: the text as UTF-8, sometimes with invalid UTF-8 or a BOM mixed in. */
export const bodyBytes = (text: fc.Arbitrary<string>): fc.Arbitrary<Buffer> =>
  fc
    .tuple(text, fc.constantFrom('plain', 'plain', 'plain', 'bom', 'latin1', 'invalid-utf8', 'utf16'))
    .map(([t, how]) => {
      if (how === 'bom') return Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(t)])
      if (how === 'latin1') return Buffer.from(t, 'latin1')
      if (how === 'utf16') return Buffer.from(t, 'utf16le')
      if (how === 'invalid-utf8')
        return Buffer.concat([Buffer.from(t), Buffer.from([0xc3, 0x28, 0xff, 0xfe])])
      return Buffer.from(t)
    })

// ---- URL parts ----

const UNRESERVED = /[A-Za-z0-9\-._~]/

/** Percent-encodes the UTF-8 bytes (a lone surrogate becomes U+FFFD, as TextEncoder does). */
export function pctEncode(s: string): string {
  let out = ''
  for (const byte of Buffer.from(s, 'utf8')) {
    const ch = String.fromCharCode(byte)
    out += byte < 0x80 && UNRESERVED.test(ch) ? ch : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`
  }
  return out
}

export type Encoding = 'encoded' | 'raw' | 'broken'

/** A URL component as a client might send it: encoded, raw (if node:http allows it), or with a broken escape. */
export function encodeAs(s: string, how: Encoding): string {
  if (how === 'raw' && /^[\x21-\x7e]*$/.test(s) && !s.includes('#')) return s
  if (how === 'broken') return `${pctEncode(s)}${['%', '%Z', '%E0%A4', '%%', '%u00'][s.length % 5]}`
  return pctEncode(s)
}

export const encoding = fc.constantFrom<Encoding>('encoded', 'encoded', 'raw', 'broken')

/** A query string from [key, value, encoding] triples (keys may repeat). */
export function queryString(pairs: readonly (readonly [string, string, Encoding])[]): string {
  if (pairs.length === 0) return ''
  return `?${pairs.map(([k, v, how]) => `${encodeAs(k, how)}=${encodeAs(v, how)}`).join('&')}`
}

/** Characters node:http accepts in a header value (no CR, LF, NUL or other controls). */
export function headerSafe(s: string): string {
  let out = ''
  for (const ch of s) {
    const code = ch.codePointAt(0) ?? 0
    if (code === 9 || (code >= 0x20 && code <= 0x7e) || (code >= 0x80 && code <= 0xff)) out += ch
    else out += `%${(code & 0xff).toString(16).padStart(2, '0')}`
  }
  return out
}

export const HTTP_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const

// ---- origins ----

/**
 * The allow-list as the matrix gives it plus DESIGN §1's development origins (any
 * localhost / 127.0.0.1 port over http), written independently of mocks/core/origins.ts.
 */
export function originAllowedByMatrix(origin: string): boolean {
  const o = origin.toLowerCase()
  if (o === 'https://casa.devarno.cloud') return true
  if (/^http:\/\/(localhost|127\.0\.0\.1):\d{1,5}$/.test(o)) return true
  return /^https:\/\/[a-z0-9-]+(\.[a-z0-9-]+)*\.devarno\.cloud$/.test(o)
}

/** Origins near the allow-list (lookalikes, wrong scheme or port, apex) and far from it. */
export const originArb: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(
    'https://casa.devarno.cloud',
    'https://devarno.cloud',
    'http://casa.devarno.cloud',
    'https://casa.devarno.cloud:8443',
    'https://casa.devarno.cloud.evil.example',
    'https://evildevarno.cloud',
    'https://evil-devarno.cloud',
    'https://a.b.devarno.cloud',
    'https://x.devarno.cloud',
    'https://devarno.cloud.',
    'http://localhost:3000',
    'http://localhost:3001',
    'https://localhost:3000',
    'http://localhost',
    'http://127.0.0.1:8090',
    'http://127.0.0.1:3000',
    'null',
    'file://',
    'https://evil.example',
    'HTTPS://CASA.DEVARNO.CLOUD',
  ),
  fc
    .tuple(
      fc.constantFrom('https://', 'http://', 'ws://', ''),
      fc.array(fc.stringMatching(/^[a-z0-9-]{1,8}$/), { minLength: 0, maxLength: 3 }),
      fc.constantFrom(
        'devarno.cloud',
        'devarno.cloud.evil.example',
        'example.com',
        'localhost',
        'devarno-cloud',
      ),
      fc.constantFrom('', ':3000', ':443', ':8090'),
    )
    .map(([scheme, labels, domain, port]) => `${scheme}${[...labels, domain].join('.')}${port}`),
  fc.webUrl().map((u) => new URL(u).origin),
)
