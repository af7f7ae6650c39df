// @ts-check
// `pnpm dev:mocks` / `pnpm mocks <command>`: the CLI from the production bundle (dist/mocks.mjs)
// in this very process, with plain node. Under tsx the same start took ~3x longer (its loader
// compiles ~600 modules one by one, in a second process), see BENCHMARKS.md "Cold start".
//
// A stale bundle is never run: when it is missing, or any file it was built from (listed by
// scripts/build.ts beside it) is newer than its build, or was removed, it is rebuilt first with
// esbuild (tsx loads scripts/build.ts only then), and a line on stderr says why. Plain JS on
// purpose: Node 20 cannot load TypeScript without a loader, and the loader is what this avoids.

import { readFileSync, statSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

const ROOT = fileURLToPath(new URL('../', import.meta.url))

/**
 * Why the bundle cannot be run as is (undefined: it is up to date).
 * @param {string} outfile absolute path of the bundle
 * @returns {string | undefined}
 */
export function staleReason(outfile, root = ROOT) {
  let record
  try {
    statSync(outfile)
    record = JSON.parse(readFileSync(`${outfile}.inputs.json`, 'utf8'))
  } catch {
    return `${path.relative(root, outfile)} has not been built`
  }
  // Older records name no outputs; a missing one (the worker beside the bundle) is a rebuild.
  for (const output of record.outputs ?? []) {
    try {
      statSync(path.join(root, output))
    } catch {
      return `${output} (written by the last build) is gone`
    }
  }
  for (const input of record.inputs) {
    let mtime
    try {
      mtime = statSync(path.join(root, input)).mtimeMs
    } catch {
      return `${input} (an input of the last build) is gone`
    }
    if (mtime > record.startedAt) return `${input} changed since the last build`
  }
  return undefined
}

/**
 * Rebuilds the bundle when it is stale, saying so on stderr; returns its path.
 * @param {{ outfile?: string, root?: string, log?: (line: string) => void }} [opts]
 */
export async function freshBundle(opts = {}) {
  const root = opts.root ?? ROOT
  const outfile = path.resolve(root, opts.outfile ?? 'dist/mocks.mjs')
  const log = opts.log ?? ((line) => process.stderr.write(`${line}\n`))
  const reason = staleReason(outfile, root)
  if (reason) {
    const started = performance.now()
    log(`dev:mocks: ${reason}: rebuilding ${path.relative(root, outfile)} ...`)
    const { tsImport } = await import('tsx/esm/api')
    const { buildBundle } = await tsImport(
      pathToFileURL(path.join(root, 'scripts/build.ts')).href,
      import.meta.url,
    )
    await buildBundle({ outfile })
    log(`dev:mocks: rebuilt in ${Math.round(performance.now() - started)} ms`)
  }
  return outfile
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const outfile = await freshBundle()
  // The bundle reads process.argv.slice(2): the command and its options, as given here.
  await import(pathToFileURL(outfile).href)
}
