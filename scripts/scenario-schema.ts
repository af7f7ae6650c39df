import { readFileSync, writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { z } from 'zod'
import type { FakeDescriptor } from '../mocks/fake/descriptor.ts'
import { FAKES } from '../mocks/registry.ts'
import { scenarioSchemaFor } from '../mocks/runtime/scenario-schema.ts'

// Writes scenarios/scenario.schema.json from the scenario schema the registry composes (each
// fake's section, faults naming the registered fakes), so editors complete scenario files.
// `--check` fails when the committed file is stale (the sync test does the same).

export const SCHEMA_PATH = fileURLToPath(new URL('../scenarios/scenario.schema.json', import.meta.url))

export function renderScenarioJsonSchema(fakes: readonly FakeDescriptor[] = FAKES): string {
  const schema = z.toJSONSchema(scenarioSchemaFor(fakes), { io: 'input', target: 'draft-2020-12' })
  return `${JSON.stringify({ ...schema, title: 'devarno-mocks scenario' }, null, 2)}\n`
}

/** Writes the JSON schema of `fakes`' scenarios to `path` (default scenarios/scenario.schema.json). */
export function writeScenarioJsonSchema(path = SCHEMA_PATH, fakes: readonly FakeDescriptor[] = FAKES): void {
  writeFileSync(path, renderScenarioJsonSchema(fakes))
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const text = renderScenarioJsonSchema()
  if (process.argv.includes('--check')) {
    if (readFileSync(SCHEMA_PATH, 'utf8') !== text) {
      process.stderr.write('scenarios/scenario.schema.json is stale: run pnpm scenario:schema\n')
      process.exit(1)
    }
  } else {
    writeScenarioJsonSchema()
    process.stdout.write(`wrote ${SCHEMA_PATH}\n`)
  }
}
