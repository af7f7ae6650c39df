import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { type Document, isMap, isSeq, LineCounter, parseDocument } from 'yaml'
import type { z } from 'zod'
import { ScenarioError, type ScenarioIssue } from '../core/scenario/error.ts'
import type { FakeDescriptor } from '../fake/descriptor.ts'
import type { Scenario } from '../fake/scenario.ts'
import { FAKES } from '../registry.ts'
import { scenarioReferenceIssues, scenarioSchemaFor } from './scenario-schema.ts'
import { cachedYamlValue } from './yaml-cache.ts'

// Loads scenarios from YAML with `extends`. Objects merge deeply, arrays replace, except
// `faults`, which append to the parent's (a failure scenario adds to what it extends).

export { ScenarioError, type ScenarioIssue } from '../core/scenario/error.ts'

/** Checks beyond the schema for a scenario's faults (the fault engine's, given by the runtime). */
export type FaultCheck = (faults: Scenario['faults']) => { path: string; message: string }[]

export interface ScenarioLoaderOptions {
  /** Without it faults get their schema only: the runtime passes the engine's checks. */
  checkFaults?: FaultCheck
}

type Raw = Record<string, unknown>

function isPlainObject(v: unknown): v is Raw {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

export function mergeScenario(parent: Raw, child: Raw): Raw {
  const out: Raw = { ...parent }
  for (const [key, value] of Object.entries(child)) {
    const prev = out[key]
    if (key === 'faults' && Array.isArray(prev) && Array.isArray(value)) out[key] = [...prev, ...value]
    else if (isPlainObject(prev) && isPlainObject(value)) out[key] = mergeScenario(prev, value)
    else out[key] = value
  }
  return out
}

function pathString(path: readonly PropertyKey[]): string {
  return path.map(String).join('.')
}

function zodIssues(
  file: string,
  error: z.ZodError,
  lineOf?: (path: readonly PropertyKey[]) => number | undefined,
) {
  return error.issues.map((issue) => {
    const out: ScenarioIssue = { file, path: pathString(issue.path), message: issue.message }
    const line = lineOf?.(issue.path)
    if (line) out.line = line
    return out
  })
}

/** Validates an already-merged raw scenario (from a file or the control API). */
export function resolveScenario(
  raw: unknown,
  file: string,
  fakes: readonly FakeDescriptor[] = FAKES,
  checkFaults?: FaultCheck,
): Scenario {
  const parsed = scenarioSchemaFor(fakes).safeParse(raw)
  if (!parsed.success) throw new ScenarioError(`Scenario ${file} is invalid`, zodIssues(file, parsed.error))
  const issues = [
    ...scenarioReferenceIssues(fakes, parsed.data).map((i) => ({ file, ...i })),
    ...(checkFaults?.(parsed.data.faults) ?? []).map((i) => ({ file, ...i })),
  ]
  if (issues.length) throw new ScenarioError(`Scenario ${file} is invalid`, issues)
  return parsed.data
}

export interface ScenarioSummary {
  name: string
  description: string
  file: string
}

export class ScenarioLoader {
  private readonly checkFaults: FaultCheck | undefined

  constructor(
    readonly dir: string,
    /** The fakes whose sections and names scenarios may use (default: the registry). */
    readonly fakes: readonly FakeDescriptor[] = FAKES,
    opts: ScenarioLoaderOptions = {},
  ) {
    this.checkFaults = opts.checkFaults
  }

  fileOf(name: string): string {
    if (!/^[a-z0-9][a-z0-9-]*$/.test(name)) {
      throw new ScenarioError(`Unknown scenario "${name}"`, [
        { file: name, path: 'name', message: 'scenario names are lower-case letters, digits and dashes' },
      ])
    }
    return join(this.dir, `${name}.yaml`)
  }

  list(): ScenarioSummary[] {
    return readdirSync(this.dir)
      .filter((f) => f.endsWith('.yaml'))
      .sort()
      .map((f) => {
        const name = f.slice(0, -'.yaml'.length)
        try {
          const raw = this.readRaw(name, [])
          return {
            name,
            description: typeof raw.description === 'string' ? raw.description : '',
            file: join(this.dir, f),
          }
        } catch (err) {
          return {
            name,
            description: `(invalid: ${(err as Error).message.split('\n')[0]})`,
            file: join(this.dir, f),
          }
        }
      })
  }

  /** Reads one file, checks it alone, and returns it unmerged. */
  private readRaw(name: string, chain: string[]): Raw {
    const file = this.fileOf(name)
    let text: string
    try {
      text = readFileSync(file, 'utf8')
    } catch {
      const known = readdirSync(this.dir)
        .filter((f) => f.endsWith('.yaml'))
        .map((f) => f.slice(0, -5))
      const via = chain.length ? ` (extended by ${chain.join(' <- ')})` : ''
      throw new ScenarioError(`Unknown scenario "${name}"${via}`, [
        { file, path: '', message: `no such file; known scenarios: ${known.join(', ')}` },
      ])
    }
    const lineCounter = new LineCounter()
    let parsed: Document.Parsed | undefined
    // The YAML document is parsed when the value is not cached, or for line numbers of an error.
    const document = () => {
      parsed ??= parseDocument(text, { lineCounter, prettyErrors: false })
      return parsed
    }
    const raw = cachedYamlValue(text, () => {
      const doc = document()
      if (doc.errors.length) {
        throw new ScenarioError(
          `Scenario ${file} is not valid YAML`,
          doc.errors.map((e) => ({
            file,
            path: '',
            message: e.message.split('\n')[0] ?? e.message,
            line: e.linePos?.[0]?.line,
          })),
        )
      }
      return doc.toJS() as unknown
    })
    if (!isPlainObject(raw)) {
      throw new ScenarioError(`Scenario ${file} is invalid`, [
        { file, path: '', message: 'expected a mapping at the top level' },
      ])
    }
    const lineOf = (path: readonly PropertyKey[]) => {
      // Walk the YAML AST to the deepest node that exists on the path and report its line.
      let node: unknown = document().contents
      for (const key of path) {
        if (isMap(node)) node = node.get(String(key), true)
        else if (isSeq(node)) node = node.get(Number(key), true)
        else break
      }
      const range = (node as { range?: [number, number, number] } | undefined)?.range
      return range ? lineCounter.linePos(range[0]).line : undefined
    }
    // Check the file on its own (with a placeholder name when it inherits one) so problems
    // are reported against the file that has them, with line numbers.
    const alone = scenarioSchemaFor(this.fakes).safeParse({ ...raw, name: raw.name ?? name })
    if (!alone.success)
      throw new ScenarioError(`Scenario ${file} is invalid`, zodIssues(file, alone.error, lineOf))
    // Its faults on their own too, so a bad one is named with this file's line (a check on the
    // merged list, in resolveScenario, could only give its index there).
    const faultIssues = this.checkFaults?.(alone.data.faults) ?? []
    if (faultIssues.length) {
      throw new ScenarioError(
        `Scenario ${file} is invalid`,
        faultIssues.map((i) => ({ file, ...i, line: lineOf(i.path.split('.')) })),
      )
    }
    if (raw.name !== undefined && raw.name !== name) {
      throw new ScenarioError(`Scenario ${file} is invalid`, [
        {
          file,
          path: 'name',
          message: `name "${String(raw.name)}" must match the file name "${name}"`,
          line: lineOf(['name']),
        },
      ])
    }
    return raw
  }

  private loadMerged(name: string, chain: string[]): Raw {
    if (chain.includes(name)) {
      throw new ScenarioError('Scenario extends itself', [
        { file: this.fileOf(name), path: 'extends', message: `cycle: ${[...chain, name].join(' -> ')}` },
      ])
    }
    const raw = this.readRaw(name, chain)
    if (typeof raw.extends !== 'string') return raw
    const parent = this.loadMerged(raw.extends, [...chain, name])
    const { extends: _parentExtends, ...parentRest } = parent
    return mergeScenario(parentRest, raw)
  }

  /** The scenario as applied: `extends` resolved, defaults filled, references checked. */
  load(name: string): Scenario {
    const merged = this.loadMerged(name, [])
    return resolveScenario({ ...merged, name }, this.fileOf(name), this.fakes, this.checkFaults)
  }

  /** An inline scenario (control API), which may itself extend a file. */
  resolveInline(raw: unknown): Scenario {
    if (!isPlainObject(raw)) {
      throw new ScenarioError('Inline scenario is invalid', [
        { file: 'inline', path: '', message: 'expected an object' },
      ])
    }
    const label = typeof raw.name === 'string' ? `inline:${raw.name}` : 'inline'
    const parent = typeof raw.extends === 'string' ? this.loadMerged(raw.extends, []) : {}
    const { extends: _e, ...parentRest } = parent
    return resolveScenario(mergeScenario(parentRest, raw), label, this.fakes, this.checkFaults)
  }
}
