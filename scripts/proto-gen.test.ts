import { cpSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { COMMITTED_GEN_DIR, findStaleFiles, generateProtos, lintProtos } from './proto-gen.ts'

const tmpRoots: string[] = []
function tmp(): string {
  const dir = mkdtempSync(join(tmpdir(), 'proto-gen-test-'))
  tmpRoots.push(dir)
  return dir
}
afterAll(() => {
  for (const dir of tmpRoots) rmSync(dir, { recursive: true, force: true })
})

describe('proto-contracts', () => {
  it('passes buf lint', async () => {
    await lintProtos()
  })

  it('committed gen/ts is up to date with the .proto files (run `pnpm proto:gen` if not)', async () => {
    const freshDir = await generateProtos({ outBase: tmp() })
    // Guard against a vacuous pass: both trees must exist, and they must be different directories.
    expect(freshDir).not.toBe(COMMITTED_GEN_DIR)
    expect(readdirSync(COMMITTED_GEN_DIR).length).toBeGreaterThan(0)
    const stale = findStaleFiles(COMMITTED_GEN_DIR, freshDir)
    expect(stale, `stale generated files, run \`pnpm proto:gen\`:\n${stale.join('\n')}`).toEqual([])
  })

  it('findStaleFiles reports changed, missing and extra files', () => {
    const committed = join(tmp(), 'committed')
    const fresh = join(tmp(), 'fresh')
    cpSync(COMMITTED_GEN_DIR, committed, { recursive: true })
    cpSync(COMMITTED_GEN_DIR, fresh, { recursive: true })
    expect(findStaleFiles(committed, fresh)).toEqual([])

    writeFileSync(join(committed, 'devarno/events/v1/chat_pb.ts'), '// hand-edited\n', { flag: 'a' })
    rmSync(join(committed, 'devarno/content/v1/media_pb.ts'))
    writeFileSync(join(committed, 'devarno/orphan_pb.ts'), '')
    expect(findStaleFiles(committed, fresh)).toEqual([
      'changed: devarno/events/v1/chat_pb.ts',
      'missing from committed: devarno/content/v1/media_pb.ts',
      'not generated any more: devarno/orphan_pb.ts',
    ])
  })
})
