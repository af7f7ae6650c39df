import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { BENCHMARKS, PRESETS, runAndWrite } from './harness.ts'
import { ROOT } from './machine.ts'
import { perfUnavailable } from './perf.ts'
import type { Report } from './report.ts'

// The harness in its tiny mode (1 round, 0.5 s runs, 20 WS clients, small scenarios) against
// real servers: every section must run and report, and the markdown must be written where it
// is told (never the committed BENCHMARKS.md). The figures themselves are not judged here.
// ~40 s on a quiet machine; the timeout allows for a 2-core machine running other suites.

const out = path.join(mkdtempSync(path.join(tmpdir(), 'devarno-bench-')), 'BENCHMARKS.md')
mkdirSync(path.join(ROOT, 'dist'), { recursive: true })
// The bundle for the cold-start section: under dist/ (its packages resolve from node_modules).
const bundleDir = mkdtempSync(path.join(ROOT, 'dist', '.bench-test-'))
const committed = path.join(ROOT, 'BENCHMARKS.md')
const committedBefore = existsSync(committed) ? statSync(committed).mtimeMs : undefined

afterAll(() => {
  rmSync(path.dirname(out), { recursive: true, force: true })
  rmSync(bundleDir, { recursive: true, force: true })
})

describe('pnpm bench (tiny mode)', () => {
  let report: Report

  it('runs every benchmark against real servers and writes the report to the given path', async () => {
    const opts = {
      ...PRESETS.tiny,
      coldStart: {
        ...PRESETS.tiny.coldStart,
        bundleOutfile: path.relative(ROOT, path.join(bundleDir, 'mocks.mjs')),
      },
    }
    report = await runAndWrite(opts, out)

    expect(report.sections.map((s) => s.id)).toEqual(BENCHMARKS.map((b) => b.id))
    for (const s of report.sections) {
      expect(s.title.length, s.id).toBeGreaterThan(0)
      expect(s.method.length, s.id).toBeGreaterThan(40)
      expect(s.figures.length, s.id).toBeGreaterThan(0)
      for (const f of s.figures) {
        expect(Number.isFinite(f.candidate), `${s.id}: ${f.name}`).toBe(true)
        if (f.baseline !== undefined) expect(Number.isFinite(f.baseline), `${s.id}: ${f.name}`).toBe(true)
      }
      for (const t of s.targets) expect(typeof t.met, `${s.id}: ${t.id}`).toBe('boolean')
    }
    // Every target of issue #8 (and issue 16's tenant targets) is judged.
    expect(report.sections.flatMap((s) => s.targets.map((t) => t.id)).sort()).toEqual(
      [
        'chat-history-throughput',
        ...PRESETS.tiny.rest.connections.map((c) => `v01t-throughput-${c}`),
        'v01t-vs-wiremock',
        'cold-start',
        'cold-start-rss',
        'idle-faults-cost',
        'latency-never-early',
        'latency-p95',
        'reset-db',
        'reset-default',
        'reset-large',
        'replica-propagation',
        'tenant-create',
        'tenant-resolution',
        'tenant-rss',
        'upload-oversize',
        'upload-rss',
        'ws-fanout',
        'ws-p99',
      ].sort(),
    )
    // Same bytes: the REST baselines answered exactly as many bytes per response as the fakes
    // (peers add a header or two of their own: not compared).
    const rest = report.sections.find((s) => s.id === 'rest')!
    const bytes = rest.figures.filter(
      (f) => f.name.includes('bytes per response') && !f.name.includes('(peer)'),
    )
    const connections = PRESETS.tiny.rest.connections.length
    // V01T and the Hono floor per connection count, chat, its floor, get-session, idle faults.
    expect(bytes.length).toBe(2 * connections + 4)
    for (const f of bytes) expect(f.candidate).toBe(f.baseline)
    // Each REST target is explained from this run's figures and a profile of the fake.
    expect(
      rest.notes.filter((n) => /^(V01T list at \d+ connections|chat history) (meets|misses)/.test(n)),
    ).toHaveLength(connections + 1)
    expect(rest.profiles?.map((p) => p.title)).toHaveLength(connections + 1)
    // V01T by layer in-process: the fake against the floor, each layer's share in the note.
    const layers = rest.figures.find((f) =>
      f.name.startsWith(
        'V01T list in-process (the Node listener without sockets), CPU per request, the fake',
      ),
    )
    expect(layers?.candidate).toBeGreaterThan(0)
    expect(layers?.baseline).toBeGreaterThan(0)
    expect(layers?.note).toMatch(
      /frame [+−-][\d.]+ µs, CORS [+−-][\d.]+ µs, tenancy check, fault engine and journal [+−-][\d.]+ µs, route [+−-][\d.]+ µs/,
    )
    expect(rest.notes.some((n) => n.startsWith('V01T list by layer, in-process'))).toBe(true)
    // Chat's cost split in-process: with the fake auth and with a bare get-session server.
    const split = rest.figures.find((f) => f.name.startsWith('chat history in-process'))
    expect(split?.candidate).toBeGreaterThan(0)
    expect(split?.baseline).toBeGreaterThan(0)
    expect(
      rest.notes.some((n) =>
        /over loopback from a bare server answering the same bytes: [+−-][\d.]+ µs/.test(n),
      ),
    ).toBe(true)
    for (const p of [
      ...(rest.profiles ?? []),
      ...(report.sections.find((s) => s.id === 'ws')!.profiles ?? []),
    ]) {
      expect(p.samples, p.title).toBeGreaterThan(0)
      expect(p.files.length, p.title).toBeGreaterThan(0)
    }
    // The kernel-side breakdown (Linux perf) is measured, in REST and WS, or said to be missing.
    const ws = report.sections.find((s) => s.id === 'ws')!
    for (const section of [rest, ws]) {
      const totals = section.figures.filter((f) => /\(perf, kernel included\), total$/.test(f.name))
      if (perfUnavailable() === null) {
        expect(totals.length, section.id).toBeGreaterThan(0)
        for (const f of totals) expect(f.candidate, f.name).toBeGreaterThan(0)
        expect(section.notes.some((n) => n.startsWith('Where the CPU goes'))).toBe(true)
      } else
        expect(
          section.notes.some((n) => n.startsWith('Kernel-side breakdown (Linux perf) not measured')),
        ).toBe(true)
    }
    // A peer is either measured or said to be missing.
    for (const name of PRESETS.tiny.rest.peers) {
      expect(
        rest.notes.some((n) => n.startsWith(`Peer ${name}`) || n.toLowerCase().startsWith(`peer ${name}`)),
      ).toBe(true)
    }
    // A 413 came after the limit, from the fake's own count.
    const read = report.sections
      .find((s) => s.id === 'upload')!
      .figures.find((f) => f.name.includes('decided'))!
    expect(read.candidate).toBeGreaterThan(10)
    expect(report.machine.cores).toBeGreaterThan(0)
    expect(report.machine.node).toBe(process.version)
  }, 180_000)

  it('wrote the markdown (machine, targets, every section) and left BENCHMARKS.md alone', () => {
    const md = readFileSync(out, 'utf8')
    expect(md).toMatch(/^# Benchmarks/)
    expect(md).toContain('Written by `pnpm bench`')
    expect(md).toContain(report.machine.cpu)
    expect(md).toContain(report.machine.commit)
    expect(md).toMatch(/## Targets \(\d+ of 20 met\)/)
    for (const s of report.sections) expect(md).toContain(s.title)
    expect(existsSync(committed) ? statSync(committed).mtimeMs : undefined).toBe(committedBefore)
  })
})
