import { execFile } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { describe, expect, it } from 'vitest'
import { BUNDLE_OUTFILE, buildLibrary, buildTypes, LIBRARY_ENTRIES, TYPES_OUTDIR } from './build.ts'

// Another repository imports `devarno-mocks/<subpath>` from node_modules, where neither Node 20
// nor Playwright compiles TypeScript: every export must load as plain JS with plain node.

const run = promisify(execFile)
const ROOT = fileURLToPath(new URL('..', import.meta.url))

describe('package exports', () => {
  it('point at built JS and built .d.ts for every subpath; the bin is the production bundle', () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'))
    for (const name of Object.keys(LIBRARY_ENTRIES)) {
      expect(pkg.exports[`./${name}`]).toEqual({
        types: `./${TYPES_OUTDIR}/mocks/${name}/index.d.ts`,
        default: `./dist/lib/${name}.mjs`,
      })
    }
    expect(pkg.bin).toEqual({ 'devarno-mocks': `./${BUNDLE_OUTFILE}` })
    expect(pkg.scripts.prepare).toMatch(/build\.ts --package/)
    expect(pkg.files).toEqual(
      expect.arrayContaining(['dist/lib', TYPES_OUTDIR, BUNDLE_OUTFILE, 'mocks', 'scenarios', 'fixtures']),
    )
    // One copy of msw and of @playwright/test: the consumer's (peer dependencies).
    expect(pkg.peerDependencies).toMatchObject({
      msw: expect.any(String),
      '@playwright/test': expect.any(String),
    })
    expect(pkg.dependencies.msw).toBeUndefined()
    expect(pkg.dependencies['@playwright/test']).toBeUndefined()
  })

  it('ship .d.ts whose relative imports end in .js, and whose packages are dependencies or peers', async () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'))
    mkdirSync(join(ROOT, 'dist'), { recursive: true })
    const outdir = mkdtempSync(join(ROOT, 'dist', 'types-test-'))
    try {
      const { files } = await buildTypes({ outdir })
      for (const name of Object.keys(LIBRARY_ENTRIES))
        expect(files).toContain(join('mocks', name, 'index.d.ts'))
      const provided = new Set([
        ...Object.keys(pkg.dependencies),
        ...Object.keys(pkg.peerDependencies),
        ...Object.keys(pkg.dependencies).map((d) => `@types/${d}`),
      ])
      for (const file of files) {
        const text = readFileSync(join(outdir, file), 'utf8')
        expect(text, file).not.toMatch(/(?:from|import)\s*\(?\s*['"]\.{1,2}\/[^'"]*\.ts['"]/)
        for (const [, spec] of text.matchAll(/(?:from|import)\s*\(?\s*['"]([^'".][^'"]*)['"]/g)) {
          if (!spec || spec.startsWith('node:')) continue
          const name = spec
            .split('/')
            .slice(0, spec.startsWith('@') ? 2 : 1)
            .join('/')
          const typesName = `@types/${name}`
          expect(provided.has(name) || provided.has(typesName), `${file} imports ${spec}`).toBe(true)
          if (name === 'ws') expect(Object.keys(pkg.dependencies)).toContain('@types/ws')
        }
      }
    } finally {
      rmSync(outdir, { recursive: true, force: true })
    }
  }, 60_000)

  it('load with plain node from a consumer project', async () => {
    // Built inside the repository (dist/ is ignored) so bare imports resolve to our
    // node_modules, as they resolve to the consumer's own once installed.
    mkdirSync(join(ROOT, 'dist'), { recursive: true })
    const outdir = mkdtempSync(join(ROOT, 'dist', 'lib-test-'))
    let exported: Record<string, string[]> = {}
    try {
      await buildLibrary({ outdir })
      const script = join(outdir, 'probe.mjs')
      writeFileSync(
        script,
        `const out = {}
for (const name of ${JSON.stringify(Object.keys(LIBRARY_ENTRIES))}) out[name] = Object.keys(await import('./' + name + '.mjs')).sort()
console.log(JSON.stringify(out))`,
      )
      const { stdout } = await run(process.execPath, [script], {
        cwd: mkdtempSync(join(tmpdir(), 'consumer-')),
      })
      exported = JSON.parse(stdout)
    } finally {
      rmSync(outdir, { recursive: true, force: true })
    }
    expect(exported.client).toEqual(expect.arrayContaining(['createControlClient', 'MocksNotRunningError']))
    // `expect` carries toPassVerdicts; the matchers alone extend a consumer's own expect.
    expect(exported.playwright).toEqual(expect.arrayContaining(['test', 'expect', 'verdictMatchers']))
    expect(exported.msw).toContain('createMswMocks')
    expect(exported.testcontainers).toContain('startMocksContainer')
  }, 60_000)
})
