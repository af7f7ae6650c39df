import { z } from 'zod'

// Verdicts (issue 21): named rules from the matrix's "Correct Behavior" column, judged from a
// tenant's journal. The rule kinds are code (judge.ts); their instances and parameters live in
// one declarative file (verdicts.yaml at the repository root, or MOCKS_VERDICTS_FILE), so a team
// adds or tunes a rule without code.

/** Which journal entries a rule looks at. */
export const SelectorSchema = z.strictObject({
  service: z.string().min(1),
  method: z.string().min(1).optional().describe('HTTP method; default any'),
  route: z
    .string()
    .min(1)
    .optional()
    .describe('Route pattern (`/api/v1/files/:id`) or path prefix ending in `*`; default any'),
  upgrade: z.boolean().optional().describe('true: WebSocket upgrades only; false: plain requests only'),
})
export type Selector = z.infer<typeof SelectorSchema>

const base = {
  id: z.string().regex(/^[a-z0-9][a-z0-9-]*$/),
  description: z.string().min(1).describe('The matrix rule, in words'),
  select: SelectorSchema,
}

/** Statuses that count as a failure answer; `network` covers a cut or abandoned request. */
const Failures = z
  .array(z.union([z.number().int().min(100).max(599), z.literal('5xx'), z.literal('network')]))
  .min(1)

export const RuleSchema = z.discriminatedUnion('kind', [
  z.strictObject({
    ...base,
    kind: z.literal('backoff'),
    after: Failures.default(['5xx', 'network']),
    /** The first retry may come no sooner than this after the failure (never early). */
    initialMs: z.number().int().min(0),
    /**
     * Each later gap at least this many times the previous one: loose on purpose (the schedule
     * doubles, jitter only adds, and a busy machine fires timers late), strict enough that a
     * fixed interval fails.
     */
    minGrowth: z.number().min(1).default(1.5),
    /** An attempt whose socket opened counts as failed if it closed abnormally within this. */
    stableMs: z.number().int().min(0).default(10_000),
    /**
     * What a busy machine may add to one timer: a gap is compared with the previous one less
     * this much (never below `initialMs`). Lower than a third of a fixed interval it must catch
     * (a fixed 3 s retry fails with the default). One step that still does not grow is
     * forgiven (a very late timer makes the next gap look flat); two in a row fail.
     */
    lateMs: z.number().int().min(0).default(700),
    /** The schedule's ceiling: a gap of at least this long needs not grow (a capped backoff). */
    capMs: z.number().int().min(1).optional(),
    /** No gap may exceed this (a generous cap: a loaded machine fires timers late). */
    maxGapMs: z.number().int().min(1).optional(),
    /** Retries to see before the rule is judged; fewer is not-exercised. */
    minRetries: z.number().int().min(1).default(2),
  }),
  z.strictObject({
    ...base,
    kind: z.literal('max-retries'),
    after: Failures,
    /** Attempts of the same method and route after a failure answer; 0 = never retried. */
    max: z.number().int().min(0),
    /** Only attempts within this long after the failure count as its retries. */
    windowMs: z.number().int().min(1).default(60_000),
  }),
  z.strictObject({
    ...base,
    kind: z.literal('timeout'),
    /** The client must give up on a held request within this (plus `graceMs`). */
    limitMs: z.number().int().min(1),
    graceMs: z.number().int().min(0).default(2000),
  }),
  z.strictObject({
    ...base,
    kind: z.literal('headers'),
    headers: z.array(z.string().min(1)).min(1),
  }),
  z.strictObject({
    ...base,
    kind: z.literal('rate'),
    /** At most `max` attempts in any window of `windowMs` while the service fails. */
    max: z.number().int().min(1),
    windowMs: z.number().int().min(1),
    after: Failures.default(['5xx', 'network']),
  }),
])
export type Rule = z.infer<typeof RuleSchema>
export type RuleKind = Rule['kind']

export const RulesFileSchema = z.strictObject({
  $schema: z.string().optional(),
  rules: z.array(RuleSchema).min(1),
})
