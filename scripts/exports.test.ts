import { execFile } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { describe, expect, it } from 'vitest'
import { buildLibrary, LIBRARY_ENTRIES } from './build.ts'

// Another repository imports `devarno-mocks/<subpath>` from node_modules, where neither Node 20
// nor Playwright compiles TypeScript: every export must load as plain JS with plain node.

const run = promisify(execFile)
const ROOT = fileURLToPath(new URL('..', import.meta.url))

describe('package exports', () => {
  it('point at built JS for every subpath, with the TypeScript source as types', () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'))
    for (const name of Object.keys(LIBRARY_ENTRIES)) {
      expect(pkg.exports[`./${name}`]).toEqual({
        types: `./mocks/${name}/index.ts`,
        default: `./dist/lib/${name}.mjs`,
      })
    }
    expect(pkg.scripts.prepare).toMatch(/build\.ts --lib/)
    expect(pkg.files).toEqual(expect.arrayContaining(['dist/lib', 'mocks', 'scenarios', 'fixtures']))
  })

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
    expect(exported.playwright).toEqual(expect.arrayContaining(['test', 'expect']))
    expect(exported.msw).toContain('createMswMocks')
    expect(exported.testcontainers).toContain('startMocksContainer')
  }, 60_000)
})
