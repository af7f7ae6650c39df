// A scenario that cannot be loaded or applied, with every bad path: its file, dotted path and
// line. Kernel-level so a fake's seeding can report one without importing the runtime.

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
