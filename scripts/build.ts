import { execFile } from 'node:child_process'
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { promisify } from 'node:util'
import { type BuildOptions, build, type Metafile, type Plugin } from 'esbuild'

// Bundles the CLI into one ESM file so production runs plain `node` (Node 20 cannot strip
// types, and tsx costs ~400 ms at start-up). Dependencies stay in node_modules (installed
// from the lockfile): sharp has native parts, and the others keep their own file layout.

const root = fileURLToPath(new URL('../', import.meta.url))

export const BUNDLE_ENTRY = 'mocks/cli/index.ts'
/**
 * Where the bundle lands, relative to the repository root (the image runs it from /app). It is
 * also the package's `bin` (`npx devarno-mocks start`), hence the hashbang.
 */
export const BUNDLE_OUTFILE = 'dist/mocks.mjs'
/**
 * PGlite's worker thread (mocks/db/pglite-thread.ts starts it): a file of its own, emitted
 * beside the bundle and beside the library's files.
 */
export const PGLITE_WORKER_ENTRY = 'mocks/db/pglite-worker.ts'
/** Its file name: the library's entry name `pglite-worker` gets the same `.mjs`. */
export const PGLITE_WORKER_FILE = 'pglite-worker.mjs'
const PGLITE_THREAD_SOURCE = 'mocks/db/pglite-thread.ts'

/**
 * Packages the bundle loads from node_modules: native parts (sharp, ws's optional addons),
 * worker/transport files found by path (pino), or large lazily-split ones (faker).
 */
export const BUNDLE_EXTERNAL = [
  'sharp',
  'pino',
  'pino-pretty',
  'ws',
  '@faker-js/faker',
  'busboy',
  'msw',
  '@bufbuild/*',
  // db: PGlite finds its .wasm and data files next to its own module; pg's optional pg-native.
  '@electric-sql/*',
  'pg',
]

/**
 * Source files locate data next to themselves (`new URL('../../scenarios/', import.meta.url)`).
 * Once bundled, `import.meta.url` is the bundle's, so each file's use is rewritten to the URL
 * its source file would have, relative to the bundle: the bundle must then sit in dist/ beside
 * scenarios/ and fixtures/, as it does in the repository and in the image.
 */
const keepSourceUrls = (outdir: string): Plugin => ({
  name: 'keep-source-import-meta-url',
  setup(b) {
    b.onLoad({ filter: /\.ts$/ }, async (args) => {
      const source = await readFile(args.path, 'utf8')
      if (!source.includes('import.meta.url')) return undefined
      const fromBundle = path.relative(outdir, args.path).split(path.sep).join('/')
      return {
        contents: source.replaceAll(
          'import.meta.url',
          `new URL(${JSON.stringify(fromBundle)}, import.meta.url).href`,
        ),
        loader: 'ts',
      }
    })
  },
})

/**
 * Where pglite-thread.ts finds the built worker: relative to its own source file's URL, which
 * is what its `import.meta.url` becomes once bundled (keepSourceUrls).
 */
const pgliteWorkerDefine = (outdir: string): Record<string, string> => {
  const fromSource = path.relative(
    path.dirname(path.join(root, PGLITE_THREAD_SOURCE)),
    path.join(outdir, PGLITE_WORKER_FILE),
  )
  return { PGLITE_WORKER_FILE: JSON.stringify(fromSource.split(path.sep).join('/')) }
}

/**
 * Beside the bundle: when it was built and from which files (outside node_modules; plus what
 * decides the build itself), so `pnpm dev:mocks` (scripts/dev.mjs) can tell a stale bundle.
 */
export const inputsFileOf = (outfile: string): string => `${outfile}.inputs.json`
export const BUILD_INPUTS_EXTRA = [
  'package.json',
  'pnpm-lock.yaml',
  'scripts/build.ts',
  'node_modules/.modules.yaml',
]

export async function buildBundle(
  opts: { outfile?: string } = {},
): Promise<{ outfile: string; metafile: Metafile }> {
  const outfile = path.resolve(root, opts.outfile ?? BUNDLE_OUTFILE)
  // Sources edited while the build runs are newer than this instant: the next start rebuilds.
  const startedAt = Date.now()
  const outdir = path.dirname(outfile)
  const bundle = (entry: string, file: string, extra: Pick<BuildOptions, 'define' | 'banner'> = {}) =>
    build({
      absWorkingDir: root,
      entryPoints: [path.join(root, entry)],
      outfile: file,
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      // Pure-JS packages with many small files are bundled: @msw/data pulls in ~550 es-toolkit
      // modules, which cost most of the cold start when Node loads them one by one.
      external: BUNDLE_EXTERNAL,
      sourcemap: true,
      legalComments: 'none',
      logLevel: 'warning',
      metafile: true,
      // Written below, each file renamed into place: a concurrent start never reads half a bundle.
      write: false,
      plugins: [keepSourceUrls(outdir)],
      ...extra,
    })
  const [result, worker] = await Promise.all([
    bundle(BUNDLE_ENTRY, outfile, {
      define: pgliteWorkerDefine(outdir),
      // Bundled CommonJS (yaml) requires Node built-ins: give the ESM bundle a `require`.
      banner: {
        js: "#!/usr/bin/env node\nimport { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);",
      },
    }),
    bundle(PGLITE_WORKER_ENTRY, path.join(outdir, PGLITE_WORKER_FILE)),
  ])
  await mkdir(outdir, { recursive: true })
  // The worker first, the bundle's map, the bundle last.
  const files = [...worker.outputFiles, ...[...result.outputFiles].sort((a) => (a.path === outfile ? 1 : -1))]
  for (const f of files) {
    await writeFile(`${f.path}.${process.pid}.tmp`, f.contents)
    await rename(`${f.path}.${process.pid}.tmp`, f.path)
  }
  const inputs = [
    ...new Set(
      [...Object.keys(result.metafile.inputs), ...Object.keys(worker.metafile.inputs)].filter(
        (f) => !f.startsWith('node_modules/'),
      ),
    ),
    ...BUILD_INPUTS_EXTRA,
  ]
  // The files it wrote besides the bundle (the worker): a start checks they are still there.
  const outputs = files
    .filter((f) => f.path !== outfile && !f.path.endsWith('.map'))
    .map((f) => path.relative(root, f.path))
  const inputsFile = inputsFileOf(outfile)
  await writeFile(
    `${inputsFile}.${process.pid}.tmp`,
    `${JSON.stringify({ startedAt, inputs, outputs }, null, 1)}\n`,
  )
  await rename(`${inputsFile}.${process.pid}.tmp`, inputsFile)
  return { outfile, metafile: result.metafile }
}

/** The package's `exports` subpaths, built to JS: another repository loads them from node_modules, where neither Node 20 nor Playwright compiles TypeScript. */
export const LIBRARY_ENTRIES = {
  client: 'mocks/client/index.ts',
  playwright: 'mocks/playwright/index.ts',
  msw: 'mocks/msw/index.ts',
  testcontainers: 'mocks/testcontainers/index.ts',
} as const
export const LIBRARY_OUTDIR = 'dist/lib'

export async function buildLibrary(
  opts: { outdir?: string } = {},
): Promise<{ outdir: string; metafile: Metafile }> {
  const outdir = path.resolve(root, opts.outdir ?? LIBRARY_OUTDIR)
  // Chunk names change with their content: stale ones would otherwise ship in the package.
  await rm(outdir, { recursive: true, force: true })
  const result = await build({
    absWorkingDir: root,
    entryPoints: Object.fromEntries(
      [...Object.entries(LIBRARY_ENTRIES), ['pglite-worker', PGLITE_WORKER_ENTRY] as const].map(
        ([name, file]) => [name, path.join(root, file)],
      ),
    ),
    outdir,
    outExtension: { '.js': '.mjs' },
    bundle: true,
    splitting: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'external',
    define: pgliteWorkerDefine(outdir),
    sourcemap: true,
    legalComments: 'none',
    logLevel: 'warning',
    metafile: true,
    plugins: [keepSourceUrls(outdir)],
  })
  return { outdir, metafile: result.metafile }
}

export const TYPES_OUTDIR = 'dist/types'
const exec = promisify(execFile)

/**
 * `.d.ts` for the public exports, so a consumer's strict `tsc --noEmit` checks declarations,
 * never our sources (their `.ts` imports need allowImportingTsExtensions, and their strictness
 * options would become the consumer's). TypeScript 7 (tsgo) emits them from tsconfig.types.json
 * but keeps the sources' `.ts` specifiers, so relative ones are rewritten to `.js` (which
 * resolves to the `.d.ts` beside it), as `rewriteRelativeImportExtensions` does for JS.
 */
export async function buildTypes(
  opts: { outdir?: string } = {},
): Promise<{ outdir: string; files: string[] }> {
  const outdir = path.resolve(root, opts.outdir ?? TYPES_OUTDIR)
  await rm(outdir, { recursive: true, force: true })
  const tsc = path.join(root, 'node_modules', '.bin', 'tsc')
  try {
    await exec(tsc, ['-p', 'tsconfig.types.json', '--outDir', outdir], { cwd: root })
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string }
    throw new Error(`tsc could not emit declarations:\n${e.stdout ?? ''}${e.stderr ?? e.message}`)
  }
  const files = (await readdir(outdir, { recursive: true })).filter((f) => f.endsWith('.d.ts'))
  for (const file of files) {
    const full = path.join(outdir, file)
    const source = await readFile(full, 'utf8')
    const rewritten = source.replace(
      /((?:from|import)\s*\(?\s*)(['"])(\.{1,2}\/[^'"]*?)\.ts\2/g,
      (_m, head: string, quote: string, spec: string) => `${head}${quote}${spec}.js${quote}`,
    )
    if (rewritten !== source) await writeFile(full, rewritten)
  }
  return { outdir, files }
}

/** Everything the published package ships: the library exports, their types and the CLI bundle (its bin). */
export async function buildPackage(): Promise<void> {
  await Promise.all([buildLibrary(), buildBundle(), buildTypes()])
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  if (process.argv[2] === '--lib') {
    const { outdir } = await buildLibrary()
    process.stdout.write(`built ${path.relative(root, outdir)}\n`)
  } else if (process.argv[2] === '--types') {
    const { outdir } = await buildTypes()
    process.stdout.write(`built ${path.relative(root, outdir)}\n`)
  } else if (process.argv[2] === '--package') {
    await buildPackage()
    process.stdout.write(`built ${LIBRARY_OUTDIR}, ${TYPES_OUTDIR} and ${BUNDLE_OUTFILE}\n`)
  } else {
    const { outfile } = await buildBundle({ outfile: process.argv[2] })
    process.stdout.write(`built ${path.relative(root, outfile)}\n`)
  }
}
