import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { renderScenarioJsonSchema, SCHEMA_PATH } from './scenario-schema.ts'

describe('scenarios/scenario.schema.json', () => {
  it('matches what the zod schema generates (run pnpm scenario:schema when this fails)', () => {
    expect(readFileSync(SCHEMA_PATH, 'utf8')).toBe(renderScenarioJsonSchema())
  })

  it('describes the top-level keys and the fault effects', () => {
    const schema = JSON.parse(renderScenarioJsonSchema())
    expect(Object.keys(schema.properties)).toEqual(
      expect.arrayContaining([
        'name',
        'description',
        'extends',
        'seed',
        'auth',
        'chat',
        'media',
        'v01t',
        'faults',
      ]),
    )
    expect(schema.additionalProperties).toBe(false)
    const text = JSON.stringify(schema)
    for (const effect of [
      'latency',
      'status',
      'hang',
      'reset',
      'down',
      'slow-body',
      'ws-reject',
      'ws-drop',
      'ws-silence',
    ]) {
      expect(text).toContain(`"const":"${effect}"`)
    }
  })
})
