import { z } from 'zod'
import type { AddIssue, FakeDescriptor } from '../fake/descriptor.ts'
import { type Scenario, scenarioBaseShape } from '../fake/scenario.ts'
import { FaultSchema } from '../faults/schema.ts'

// The scenario schema of a set of fakes: the base fields, each descriptor's section under its
// key, and faults naming one of those fakes. scenarios/scenario.schema.json is generated from
// the registry's (scripts/scenario-schema.ts); the loader validates files against it.

export type ScenarioSchema = z.ZodType<Scenario, unknown>

const composed = new WeakMap<readonly FakeDescriptor[], ScenarioSchema>()

export function scenarioSchemaFor(fakes: readonly FakeDescriptor[]): ScenarioSchema {
  const known = composed.get(fakes)
  if (known) return known
  const shape: Record<string, z.ZodType> = { ...scenarioBaseShape }
  const owners = new Map<string, string>()
  for (const fake of fakes) {
    const section = fake.scenario
    if (!section) continue
    if (section.key in shape || section.key === 'faults') {
      const by = owners.get(section.key)
      throw new Error(
        `Scenario key "${section.key}" of fake ${fake.name} is taken${by ? ` by fake ${by}` : ' by the scenario itself'}`,
      )
    }
    owners.set(section.key, fake.name)
    shape[section.key] = section.schema
  }
  const names = fakes.map((f) => f.name)
  const twice = names.filter((n, i) => names.indexOf(n) !== i)
  if (twice.length) throw new Error(`Fake ${twice[0]} is registered twice`)
  const service = names.length ? z.enum(names as [string, ...string[]]) : z.never()
  shape.faults = z.array(FaultSchema.extend({ service })).default([])
  const schema = z.strictObject(shape) as unknown as ScenarioSchema
  composed.set(fakes, schema)
  return schema
}

/** Cross-references zod cannot see, from every descriptor's `check`. */
export function scenarioReferenceIssues(
  fakes: readonly FakeDescriptor[],
  scenario: Scenario,
): { path: string; message: string }[] {
  const issues: { path: string; message: string }[] = []
  const add: AddIssue = (path, message) => issues.push({ path, message })
  for (const fake of fakes) fake.scenario?.check?.(scenario, add)
  return issues
}
