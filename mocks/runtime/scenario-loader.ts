import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { isMap, isSeq, LineCounter, parseDocument } from 'yaml'
import type { z } from 'zod'
import { type Scenario, ScenarioSchema } from '../fake/scenario.ts'

// Loads scenarios from YAML with `extends`. Objects merge deeply, arrays replace, except
// `faults`, which append to the parent's (a failure scenario adds to what it extends).

export interface ScenarioIssue {
  /** File the problem is in (or the scenario name for inline scenarios). */
  file: string
  /** Dotted path inside the file, e.g. `auth.users.2.email`. */
  path: string
  message: string
  line?: number
}

export class ScenarioError extends Error {
  override name = 'ScenarioError'
  constructor(
    message: string,
    readonly issues: ScenarioIssue[],
  ) {
    super(
      `${message}\n${issues.map((i) => `  ${i.file}${i.line ? `:${i.line}` : ''} ${i.path || '(root)'}: ${i.message}`).join('\n')}`,
    )
  }
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

/** Cross-references zod cannot see: members, senders and owners must be seeded users, ids unique. */
export function checkReferences(s: Scenario, file: string): ScenarioIssue[] {
  const issues: ScenarioIssue[] = []
  const add = (path: string, message: string) => issues.push({ file, path, message })
  const users = new Set<string>()
  const emails = new Set<string>()
  s.auth.users.forEach((u, i) => {
    if (users.has(u.id)) add(`auth.users.${i}.id`, `duplicate user id "${u.id}"`)
    if (emails.has(u.email.toLowerCase())) add(`auth.users.${i}.email`, `duplicate email "${u.email}"`)
    users.add(u.id)
    emails.add(u.email.toLowerCase())
  })
  const channels = new Map<string, Set<string> | 'all'>()
  s.chat.channels.forEach((c, i) => {
    if (channels.has(c.id)) add(`chat.channels.${i}.id`, `duplicate channel id "${c.id}"`)
    if (c.members !== 'all') {
      c.members.forEach((m, j) => {
        if (!users.has(m)) add(`chat.channels.${i}.members.${j}`, `"${m}" is not a user in auth.users`)
      })
    }
    channels.set(c.id, c.members === 'all' ? 'all' : new Set(c.members))
  })
  const messageIds = new Set<string>()
  s.chat.messages.forEach((m, i) => {
    const members = channels.get(m.channel)
    if (!members) add(`chat.messages.${i}.channel`, `"${m.channel}" is not a channel in chat.channels`)
    if (!users.has(m.sender)) add(`chat.messages.${i}.sender`, `"${m.sender}" is not a user in auth.users`)
    else if (members && members !== 'all' && !members.has(m.sender)) {
      add(`chat.messages.${i}.sender`, `"${m.sender}" is not a member of channel "${m.channel}"`)
    }
    if (m.id !== undefined) {
      if (messageIds.has(m.id)) add(`chat.messages.${i}.id`, `duplicate message id "${m.id}"`)
      messageIds.add(m.id)
    }
  })
  const fileIds = new Set<string>()
  s.media.files.forEach((f, i) => {
    if (fileIds.has(f.id)) add(`media.files.${i}.id`, `duplicate file id "${f.id}"`)
    fileIds.add(f.id)
    if (!users.has(f.owner)) add(`media.files.${i}.owner`, `"${f.owner}" is not a user in auth.users`)
  })
  const apps = new Set<string>()
  s.v01t.applications.forEach((a, i) => {
    if (apps.has(a.slug)) add(`v01t.applications.${i}.slug`, `duplicate application "${a.slug}"`)
    apps.add(a.slug)
    const comps = new Set<string>()
    a.components.forEach((c, j) => {
      if (comps.has(c.slug))
        add(`v01t.applications.${i}.components.${j}.slug`, `duplicate component type "${c.slug}"`)
      comps.add(c.slug)
      const slugs = new Set<string>()
      c.records.forEach((r, k) => {
        if (slugs.has(r.slug))
          add(`v01t.applications.${i}.components.${j}.records.${k}.slug`, `duplicate slug "${r.slug}"`)
        slugs.add(r.slug)
      })
    })
  })
  return issues
}

/** Validates an already-merged raw scenario (from a file or the control API). */
export function resolveScenario(raw: unknown, file: string): Scenario {
  const parsed = ScenarioSchema.safeParse(raw)
  if (!parsed.success) throw new ScenarioError(`Scenario ${file} is invalid`, zodIssues(file, parsed.error))
  const refs = checkReferences(parsed.data, file)
  if (refs.length) throw new ScenarioError(`Scenario ${file} is invalid`, refs)
  return parsed.data
}

export interface ScenarioSummary {
  name: string
  description: string
  file: string
}

export class ScenarioLoader {
  constructor(readonly dir: string) {}

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
    const doc = parseDocument(text, { lineCounter, prettyErrors: false })
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
    const raw: unknown = doc.toJS()
    if (!isPlainObject(raw)) {
      throw new ScenarioError(`Scenario ${file} is invalid`, [
        { file, path: '', message: 'expected a mapping at the top level' },
      ])
    }
    const lineOf = (path: readonly PropertyKey[]) => {
      // Walk the YAML AST to the deepest node that exists on the path and report its line.
      let node: unknown = doc.contents
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
    const alone = ScenarioSchema.safeParse({ ...raw, name: raw.name ?? name })
    if (!alone.success)
      throw new ScenarioError(`Scenario ${file} is invalid`, zodIssues(file, alone.error, lineOf))
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
    return resolveScenario({ ...merged, name }, this.fileOf(name))
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
    return resolveScenario(mergeScenario(parentRest, raw), label)
  }
}
