// Types of scripts/dev.mjs (plain JS so Node runs it without a loader).
export declare function staleReason(outfile: string, root?: string): string | undefined
export declare function freshBundle(opts?: {
  outfile?: string
  root?: string
  log?: (line: string) => void
}): Promise<string>
