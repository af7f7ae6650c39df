import type { Machine } from './machine.ts'
import type { ProfileSummary } from './profile.ts'
import { median, pairedRatio, round } from './stats.ts'

// The report a run produces: JSON-shaped (the test checks it), rendered to BENCHMARKS.md and
// to a console table. Every figure carries its per-round values, so spread stays visible.

export interface Figure {
  /** What is measured, e.g. "V01T list, requests/s". */
  name: string
  unit: string
  /** Median over rounds (or the single measured value). */
  candidate: number
  /** The same work done as simply as possible, measured in the same run. */
  baseline?: number
  /** candidate / baseline. */
  ratio?: number
  /** Values per round (or per sample when few), candidate and baseline. */
  rounds?: { candidate: number[]; baseline?: number[] }
  note?: string
}

/**
 * A figure from paired rounds (round i of each measured next to the other): the medians, and
 * the median of the per-round ratios.
 */
export function pairedFigure(
  name: string,
  unit: string,
  candidate: number[],
  baseline: number[],
  note?: string,
): Figure {
  return {
    name,
    unit,
    candidate: median(candidate),
    baseline: median(baseline),
    ratio: pairedRatio(candidate, baseline),
    rounds: { candidate, baseline },
    ...(note === undefined ? {} : { note }),
  }
}

export interface TargetResult {
  id: string
  /** The target as issue #8 states it. */
  text: string
  /** The figure it was judged on. */
  observed: string
  met: boolean
}

export interface Section {
  id: string
  title: string
  /** How it was measured: what the candidate and the baseline did. */
  method: string
  figures: Figure[]
  targets: TargetResult[]
  notes: string[]
  /** Where the time goes: CPU profiles of the server process, one per workload. */
  profiles?: ProfileSummary[]
  /** 1-minute load average before and after the section (the machine is shared). */
  load: [number, number]
  seconds: number
}

export interface Report {
  mode: string
  machine: Machine
  options: Record<string, unknown>
  startedAt: string
  seconds: number
  sections: Section[]
}

export function fmt(value: number | undefined, unit = ''): string {
  if (value === undefined) return ''
  if (!Number.isFinite(value)) return 'n/a'
  const abs = Math.abs(value)
  const digits = abs >= 1000 ? 0 : abs >= 100 ? 1 : abs >= 1 ? 2 : 3
  const text = round(value, digits).toLocaleString('en-US', { maximumFractionDigits: digits })
  return unit ? `${text} ${unit}` : text
}

const ratioText = (r: number | undefined) =>
  r === undefined ? '' : Number.isFinite(r) ? `${round(r, 3)}` : 'n/a'
const list = (values: number[] | undefined) => (values?.length ? values.map((v) => fmt(v)).join(', ') : '')
const cell = (text: string) => text.replaceAll('|', '\\|').replaceAll('\n', ' ')

export function allTargets(report: Report): TargetResult[] {
  return report.sections.flatMap((s) => s.targets)
}

export function renderMarkdown(report: Report): string {
  const m = report.machine
  const targets = allTargets(report)
  const met = targets.filter((t) => t.met).length
  const out: string[] = [
    '# Benchmarks',
    '',
    `Written by \`pnpm bench\` (scripts/bench.ts, bench/); do not edit by hand: run it again.`,
    `Mode **${report.mode}**, ${report.startedAt}, ${fmt(report.seconds)} s.`,
    '',
    '## Machine',
    '',
    '| CPU | cores | memory | Node | OS | git commit | load avg (1/5/15 min) at start |',
    '|---|---|---|---|---|---|---|',
    `| ${cell(m.cpu)} | ${m.cores} | ${fmt(m.memoryGiB)} GiB | ${m.node} | ${cell(m.os)} | \`${m.commit}\`${m.dirty ? ' (uncommitted changes)' : ''} | ${m.load.map((l) => round(l, 2)).join(' / ')} |`,
    '',
    'Every figure is the median of several rounds (or samples); candidate and baseline rounds alternate',
    'in one run, and the ratio is the median of per-round candidate / baseline ratios (reset: ratio of',
    'medians), so it is what to read on a noisy or shared machine; so are the "server CPU per request /',
    'frame" figures, which a busy machine disturbs far less than throughput. A load average above the',
    'core count means other work competed. Servers run in child processes on 127.0.0.1, from source',
    'under tsx (cold start measures `pnpm dev:mocks` itself, which runs the production bundle, the bundle',
    'with node, and the sources under tsx); the load generator runs in the parent. Peers (WireMock, Mockoon)',
    'run in processes of their own. "Where the time goes" tables are CPU profiles of the fake\'s process taken',
    'by the run itself during one extra run of the workload (profiling slows it, so never during a measured round).',
    '',
    `## Targets (${met} of ${targets.length} met)`,
    '',
    '| target | observed | met |',
    '|---|---|---|',
    ...targets.map((t) => `| ${cell(t.text)} | ${cell(t.observed)} | ${t.met ? 'yes' : '**no**'} |`),
    '',
  ]
  report.sections.forEach((s, i) => {
    out.push(
      `## ${i + 1}. ${s.title}`,
      '',
      s.method,
      '',
      '| figure | candidate | baseline | ratio | rounds (candidate) | rounds (baseline) |',
      '|---|---|---|---|---|---|',
      ...s.figures.map(
        (f) =>
          `| ${cell(f.name)}${f.note ? ` (${cell(f.note)})` : ''} | ${fmt(f.candidate, f.unit)} | ${fmt(f.baseline, f.baseline === undefined ? '' : f.unit)} | ${ratioText(f.ratio)} | ${list(f.rounds?.candidate)} | ${list(f.rounds?.baseline)} |`,
      ),
      '',
    )
    if (s.targets.length) {
      out.push(
        ...s.targets.map((t) => `- Target: ${t.text} — ${t.observed}: **${t.met ? 'met' : 'missed'}**.`),
        '',
      )
    }
    if (s.notes.length) out.push(...s.notes.map((n) => `- ${n}`), '')
    for (const p of s.profiles ?? []) out.push(...renderProfile(p))
    out.push(
      `_Section took ${fmt(s.seconds)} s; load average ${round(s.load[0], 2)} before, ${round(s.load[1], 2)} after._`,
      '',
    )
  })
  out.push('## Options', '', '```json', JSON.stringify(report.options, null, 2), '```', '')
  return out.join('\n')
}

/** Top self time by file or package and by function, side by side. */
export function renderProfile(p: ProfileSummary): string[] {
  const rows = Math.max(p.files.length, p.functions.length)
  return [
    `**Where the time goes: ${cell(p.title)}.** CPU profile of the server process (V8 sampling profiler, started from`,
    `inside the process for this workload only), ${fmt(p.wallMs)} ms of wall time, ${fmt(p.busyMs)} ms busy (${fmt(p.samples)} samples);`,
    'self time (time in the function itself, not in what it calls), as a share of the busy time.',
    `By layer: ${p.layers.map((l) => `${cell(l.name)} ${fmt(l.pct)} %`).join(', ')}.`,
    '',
    '| file or package | self | function | self |',
    '|---|---|---|---|',
    ...Array.from({ length: rows }, (_, i) => {
      const f = p.files[i]
      const fn = p.functions[i]
      return `| ${f ? `\`${cell(f.name)}\`` : ''} | ${f ? `${fmt(f.pct)} %` : ''} | ${fn ? `\`${cell(fn.name)}\`` : ''} | ${fn ? `${fmt(fn.pct)} %` : ''} |`
    }),
    '',
  ]
}

/** A compact console table: one line per figure, then the targets. */
export function renderConsole(report: Report): string {
  const rows: string[][] = [['section', 'figure', 'candidate', 'baseline', 'ratio']]
  for (const s of report.sections) {
    for (const f of s.figures) {
      rows.push([
        s.id,
        f.name,
        fmt(f.candidate, f.unit),
        fmt(f.baseline, f.baseline === undefined ? '' : f.unit),
        ratioText(f.ratio),
      ])
    }
  }
  const widths = rows[0]!.map((_, c) => Math.min(60, Math.max(...rows.map((r) => r[c]!.length))))
  const line = (r: string[]) =>
    r.map((v, c) => (c >= 2 ? v.padStart(widths[c]!) : v.padEnd(widths[c]!))).join('  ')
  const targets = allTargets(report)
  return [
    line(rows[0]!),
    ...rows.slice(1).map(line),
    '',
    ...targets.map((t) => `${t.met ? 'MET   ' : 'MISSED'} ${t.text} — ${t.observed}`),
    '',
  ].join('\n')
}
