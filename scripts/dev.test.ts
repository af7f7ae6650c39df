import { mkdirSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, describe, expect, it } from 'vitest'
import { freshBundle, staleReason } from './dev.mjs'

// `pnpm dev:mocks` runs dist/mocks.mjs: a bundle older than any file it was built from is
// rebuilt first, with a line saying why; it is never run silently.

const root = fileURLToPath(new URL('../', import.meta.url))
mkdirSync(path.join(root, 'dist'), { recursive: true })
const dir = mkdtempSync(path.join(root, 'dist', '.test-dev-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

describe('staleReason', () => {
  // A root of its own: two sources, a bundle and its inputs record.
  const fake = mkdtempSync(path.join(dir, 'root-'))
  const bundle = path.join(fake, 'out.mjs')
  const source = path.join(fake, 'a.ts')
  const record = (startedAt: number) =>
    writeFileSync(`${bundle}.inputs.json`, JSON.stringify({ startedAt, inputs: ['a.ts', 'b.ts'] }))
  const at = (file: string, ms: number) => utimesSync(file, ms / 1000, ms / 1000)

  it('says why a bundle cannot be run, and nothing for an up-to-date one', () => {
    expect(staleReason(bundle, fake)).toBe('out.mjs has not been built')
    writeFileSync(source, '')
    writeFileSync(path.join(fake, 'b.ts'), '')
    writeFileSync(bundle, '')
    expect(staleReason(bundle, fake)).toBe('out.mjs has not been built') // no inputs record
    const built = Date.now()
    at(source, built - 60_000)
    at(path.join(fake, 'b.ts'), built - 60_000)
    record(built)
    expect(staleReason(bundle, fake)).toBeUndefined()
    at(source, built + 1000)
    expect(staleReason(bundle, fake)).toBe('a.ts changed since the last build')
    at(source, built - 60_000)
    rmSync(path.join(fake, 'b.ts'))
    expect(staleReason(bundle, fake)).toBe('b.ts (an input of the last build) is gone')
    writeFileSync(path.join(fake, 'b.ts'), '')
    at(path.join(fake, 'b.ts'), built - 60_000)
    // A file the build wrote beside the bundle (PGlite's worker) that is gone: rebuilt too.
    writeFileSync(
      `${bundle}.inputs.json`,
      JSON.stringify({ startedAt: built, inputs: ['a.ts', 'b.ts'], outputs: ['worker.mjs'] }),
    )
    expect(staleReason(bundle, fake)).toBe('worker.mjs (written by the last build) is gone')
    writeFileSync(path.join(fake, 'worker.mjs'), '')
    expect(staleReason(bundle, fake)).toBeUndefined()
  })
})

describe('freshBundle', () => {
  it('builds a missing bundle, rebuilds a stale one saying so, and runs a fresh one as is', async () => {
    const outfile = path.join(dir, 'mocks.mjs')
    const lines: string[] = []
    const log = (line: string) => lines.push(line)
    expect(await freshBundle({ outfile, log })).toBe(outfile)
    expect(lines[0]).toMatch(/has not been built: rebuilding/)
    expect(staleReason(outfile)).toBeUndefined()
    const inputs = JSON.parse(readFileSync(`${outfile}.inputs.json`, 'utf8')) as {
      startedAt: number
      inputs: string[]
    }
    // Every bundled source is watched, and what decides the build.
    expect(inputs.inputs).toContain('mocks/cli/index.ts')
    expect(inputs.inputs).toContain('mocks/chat/store.ts')
    expect(inputs.inputs).toContain('scripts/build.ts')
    expect(
      inputs.inputs.some((f) => f.startsWith('node_modules/') && f !== 'node_modules/.modules.yaml'),
    ).toBe(false)

    lines.length = 0
    await freshBundle({ outfile, log })
    expect(lines).toEqual([])

    // A source edited after the build (here: the build pretends to be older than every source).
    writeFileSync(`${outfile}.inputs.json`, JSON.stringify({ ...inputs, startedAt: 0 }))
    expect(staleReason(outfile)).toMatch(/changed since the last build/)
    await freshBundle({ outfile, log })
    expect(lines[0]).toMatch(/changed since the last build: rebuilding/)
    expect(lines[1]).toMatch(/rebuilt in \d+ ms/)
    expect(staleReason(outfile)).toBeUndefined()
  }, 60_000)
})
