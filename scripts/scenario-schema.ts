import { readFileSync, writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { z } from 'zod'
import { ScenarioSchema } from '../mocks/fake/scenario.ts'

// Writes scenarios/scenario.schema.json from the zod schema, so editors complete scenario
// files. `--check` fails when the committed file is stale (the sync test does the same).

export const SCHEMA_PATH = fileURLToPath(new URL('../scenarios/scenario.schema.json', import.meta.url))

export function renderScenarioJsonSchema(): string {
  const schema = z.toJSONSchema(ScenarioSchema, { io: 'input', target: 'draft-2020-12' })
  return `${JSON.stringify({ ...schema, title: 'devarno-mocks scenario' }, null, 2)}\n`
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const text = renderScenarioJsonSchema()
  if (process.argv.includes('--check')) {
    if (readFileSync(SCHEMA_PATH, 'utf8') !== text) {
      process.stderr.write('scenarios/scenario.schema.json is stale: run pnpm scenario:schema\n')
      process.exit(1)
    }
  } else {
    writeFileSync(SCHEMA_PATH, text)
    process.stdout.write(`wrote ${SCHEMA_PATH}\n`)
  }
}
