import { readFileSync, statSync } from 'node:fs'
import { parse } from 'yaml'
import { type Rule, RulesFileSchema } from './rules.ts'

export { type Evidence, judge, type OpenRequest, type Verdict, type VerdictStatus } from './judge.ts'
export { type Rule, RuleSchema, RulesFileSchema } from './rules.ts'

/** The rules file shipped with the package: the matrix's rules. */
export const DEFAULT_VERDICTS_FILE = new URL('../../verdicts.yaml', import.meta.url).pathname

export class VerdictRulesError extends Error {
  override name = 'VerdictRulesError'
  constructor(
    message: string,
    readonly issues: { path: string; message: string }[] = [],
  ) {
    super(message)
  }
}

/** Reads and checks a rules file; re-read when it changes (a team tunes rules while the mocks run). */
export function rulesLoader(file: string): () => Rule[] {
  let cached: { mtimeMs: number; rules: Rule[] } | undefined
  return () => {
    let mtimeMs: number
    try {
      mtimeMs = statSync(file).mtimeMs
    } catch {
      throw new VerdictRulesError(`No verdict rules file at ${file} (MOCKS_VERDICTS_FILE)`)
    }
    if (cached?.mtimeMs === mtimeMs) return cached.rules
    let raw: unknown
    try {
      raw = parse(readFileSync(file, 'utf8'))
    } catch (err) {
      throw new VerdictRulesError(`The verdict rules file is not YAML: ${(err as Error).message}`)
    }
    const parsed = RulesFileSchema.safeParse(raw)
    if (!parsed.success) {
      throw new VerdictRulesError(
        'Invalid verdict rules file',
        parsed.error.issues.map((i) => ({ path: i.path.map(String).join('.'), message: i.message })),
      )
    }
    const seen = new Set<string>()
    for (const [i, r] of parsed.data.rules.entries()) {
      if (seen.has(r.id))
        throw new VerdictRulesError('Invalid verdict rules file', [
          { path: `rules.${i}.id`, message: `duplicate rule id "${r.id}"` },
        ])
      seen.add(r.id)
    }
    cached = { mtimeMs, rules: parsed.data.rules }
    return cached.rules
  }
}
