// The README's fenced code blocks, for the tests that run them (tests/readme.test.ts and the
// install test), so the README cannot drift from the code. A block is recognised by its
// language tag; a file block names its path on its first line (`// playwright.config.ts`,
// `# pnpm-workspace.yaml`).

export interface ReadmeBlock {
  /** The fence's language tag (`sh`, `ts`, `yaml`, ...); '' when untagged. */
  lang: string
  code: string
  /** 1-based line of the opening fence. */
  line: number
  /** The path a file block names on its first line. */
  file?: string
}

const FILE_COMMENT = /^(?:\/\/|#)\s*([\w./-]+\.[a-z]+)\s*(?:\(.*\))?\s*$/

export function readmeBlocks(markdown: string): ReadmeBlock[] {
  const blocks: ReadmeBlock[] = []
  const lines = markdown.split('\n')
  for (let i = 0; i < lines.length; i++) {
    const open = /^(`{3,})\s*([\w-]*)/.exec(lines[i] ?? '')
    if (!open) continue
    const fence = open[1] as string
    const start = i
    const body: string[] = []
    for (i++; i < lines.length && !(lines[i] ?? '').startsWith(fence); i++) body.push(lines[i] ?? '')
    const code = `${body.join('\n')}\n`
    const file = FILE_COMMENT.exec(body[0] ?? '')?.[1]
    blocks.push({ lang: open[2] ?? '', code, line: start + 1, ...(file ? { file } : {}) })
  }
  return blocks
}

/** The shell commands of `sh`/`bash` blocks: comments (` # ...`) dropped, `\` continuations joined. */
export function commandsOf(block: ReadmeBlock): string[] {
  return block.code
    .replace(/\\\n\s*/g, ' ')
    .split('\n')
    .map((l) => l.replace(/^\s*#.*$|\s+#\s.*$/, '').trim())
    .filter(Boolean)
}
