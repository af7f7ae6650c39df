import { mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { parse } from 'yaml'
import { cachedYamlValue } from './yaml-cache.ts'

// A scenario file's parsed value comes from the cache only for the exact same text.

const dir = mkdtempSync(join(tmpdir(), 'yaml-cache-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

describe('cachedYamlValue', () => {
  it('parses once per text and gives the same value from the cache', () => {
    let calls = 0
    const value = (text: string) =>
      cachedYamlValue(
        text,
        () => {
          calls++
          return parse(text) as unknown
        },
        dir,
      )
    const text = 'name: a\nlist: [1, 2.5, "x", null, true]\nnested: { k: v }\n'
    expect(value(text)).toEqual(parse(text))
    expect(value(text)).toEqual(parse(text))
    expect(calls).toBe(1)
    expect(value(`${text}more: 1\n`)).toEqual({ ...parse(text), more: 1 })
    expect(calls).toBe(2)
  })

  it('keeps nothing when parsing throws, or for a value JSON cannot hold exactly', () => {
    const before = readdirSync(dir).length
    expect(() =>
      cachedYamlValue(
        'bad',
        () => {
          throw new Error('nope')
        },
        dir,
      ),
    ).toThrow('nope')
    expect(cachedYamlValue('inf: .inf', () => parse('inf: .inf') as unknown, dir)).toEqual({ inf: Infinity })
    expect(readdirSync(dir)).toHaveLength(before)
  })
})
