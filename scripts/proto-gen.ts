// Generates TypeScript from proto-contracts/proto with the buf binary and protoc-gen-es installed in
// node_modules (both run offline), using proto-contracts/buf.gen.yaml unchanged.
//
//   pnpm proto:gen                 # rewrite the committed proto-contracts/gen/ts
//   pnpm proto:gen --out <dir>     # write to <dir>/gen/ts instead (the staleness test uses this)
//   pnpm proto:gen --lint          # run `buf lint` first

import { execFile } from 'node:child_process'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { dirname, join, relative, resolve, sep } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { promisify } from 'node:util'

const execFileAsync = promisify(execFile)

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..')
export const PROTO_DIR = join(REPO_ROOT, 'proto-contracts')
/** Where buf.gen.yaml writes, relative to the output base (`out: gen/ts`). */
export const GEN_SUBDIR = join('gen', 'ts')
export const COMMITTED_GEN_DIR = join(PROTO_DIR, GEN_SUBDIR)

const BUF_BIN = join(REPO_ROOT, 'node_modules', '.bin', process.platform === 'win32' ? 'buf.cmd' : 'buf')

export interface GenerateOptions {
  /**
   * Output base directory; files land in `<outBase>/gen/ts`. Defaults to proto-contracts itself.
   * Passed to buf's `-o`, so the template (plugin, options, `clean`) is exactly the committed one.
   */
  outBase?: string
}

async function runBuf(args: string[]): Promise<void> {
  if (!existsSync(BUF_BIN)) {
    throw new Error(`buf not found at ${BUF_BIN}: run \`pnpm install\` (devDependency @bufbuild/buf).`)
  }
  try {
    // cwd must be proto-contracts: buf.yaml/buf.gen.yaml and the plugin's `local:` path are relative to it.
    await execFileAsync(BUF_BIN, args, { cwd: PROTO_DIR })
  } catch (error) {
    const e = error as { stderr?: string; stdout?: string; message: string }
    const detail = [e.stdout, e.stderr].filter(Boolean).join('\n').trim() || e.message
    throw new Error(`buf ${args.join(' ')} failed (cwd ${PROTO_DIR}):\n${detail}`)
  }
}

/** Runs `buf lint` on the module; throws with buf's findings. */
export async function lintProtos(): Promise<void> {
  await runBuf(['lint'])
}

/** Runs `buf generate`; returns the directory holding the generated TypeScript. */
export async function generateProtos(options: GenerateOptions = {}): Promise<string> {
  const outBase = resolve(options.outBase ?? PROTO_DIR)
  await runBuf(['generate', '--template', 'buf.gen.yaml', '-o', outBase])
  return join(outBase, GEN_SUBDIR)
}

function listFiles(root: string): string[] {
  if (!existsSync(root)) return []
  return readdirSync(root, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => relative(root, join(entry.parentPath, entry.name)).split(sep).join('/'))
    .sort()
}

/**
 * Byte-for-byte comparison of two generated trees. Returns one line per stale file
 * (`changed: x`, `missing from committed: x`, `not generated any more: x`), empty when identical.
 */
export function findStaleFiles(committedDir: string, freshDir: string): string[] {
  const committed = new Set(listFiles(committedDir))
  const fresh = new Set(listFiles(freshDir))
  const stale: string[] = []
  for (const file of fresh) {
    if (!committed.has(file)) stale.push(`missing from committed: ${file}`)
    else if (!readFileSync(join(committedDir, file)).equals(readFileSync(join(freshDir, file)))) {
      stale.push(`changed: ${file}`)
    }
  }
  for (const file of committed) if (!fresh.has(file)) stale.push(`not generated any more: ${file}`)
  return stale.sort()
}

function parseArgs(argv: string[]): { outBase?: string; lint: boolean } {
  let outBase: string | undefined
  let lint = false
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]
    if (arg === '--lint') lint = true
    else if (arg === '--out') {
      outBase = argv[++i]
      if (!outBase) throw new Error('--out needs a directory: pnpm proto:gen --out <dir>')
    } else if (arg?.startsWith('--out=')) outBase = arg.slice('--out='.length)
    else throw new Error(`unknown argument ${arg}; usage: pnpm proto:gen [--lint] [--out <dir>]`)
  }
  return outBase === undefined ? { lint } : { outBase: resolve(outBase), lint }
}

async function main(): Promise<void> {
  const { outBase, lint } = parseArgs(process.argv.slice(2))
  if (lint) await lintProtos()
  const dir = await generateProtos(outBase === undefined ? {} : { outBase })
  console.log(`proto-gen: generated TypeScript into ${dir}`)
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  main().catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : error)
    process.exitCode = 1
  })
}
