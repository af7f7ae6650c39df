import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { createStateStorage, sweepStorage } from './storage.ts'

let root: string
afterEach(() => rmSync(root, { recursive: true, force: true }))

describe('per-state storage', () => {
  it('sweeps stale temp files and state folders of gone processes, nothing else', async () => {
    root = mkdtempSync(join(tmpdir(), 'media-sweep-'))
    const live = await createStateStorage(root)
    // A pid above the kernel's pid_max (4194304) is never a live process.
    for (const dir of ['state-4194999-1', `state-${process.pid}-999999`, 'state-like-but-not', 'mine']) {
      mkdirSync(join(root, dir))
      writeFileSync(join(root, dir, 'x'), 'x')
    }
    writeFileSync(join(root, '.upload-old.part'), 'half')
    writeFileSync(join(root, 'README.txt'), 'not ours')
    await sweepStorage(root)
    expect(readdirSync(root).sort()).toEqual(
      ['README.txt', 'mine', 'state-like-but-not', live.dir!.slice(root.length + 1)].sort(),
    )
    await live.retire()
  })

  it('a retired state keeps its folder while an upload is still arriving, then removes it', async () => {
    root = mkdtempSync(join(tmpdir(), 'media-retire-'))
    const storage = await createStateStorage(root)
    const sink = storage.createSink()
    sink.write(Buffer.from('some bytes'))
    await storage.retire()
    expect(existsSync(storage.dir!)).toBe(true)
    const blob = await storage.commit(await sink.finish(), 'late-id')
    expect(readdirSync(storage.dir!)).toEqual(['late-id'])
    await storage.discard(blob)
    expect(existsSync(storage.dir!)).toBe(false)
  })

  it('in memory, nothing touches the disk', async () => {
    root = mkdtempSync(join(tmpdir(), 'media-mem-'))
    const storage = await createStateStorage(undefined)
    expect(storage.dir).toBeUndefined()
    const blob = await storage.commit(await storage.createSink().finish(), 'id')
    expect(blob.kind).toBe('memory')
    expect(readdirSync(root)).toEqual([])
  })
})
