import { readdirSync, readFileSync, statSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

// The project's own import graph, read from the sources: every relative `import`/`export ...
// from` and `import('...')`, type-only ones included (a type-only circle is still a circle).
// The layering test (import-graph.test.ts) checks it has no cycle and that each layer imports
// only the layers below it.

export const ROOT = fileURLToPath(new URL('..', import.meta.url))

const SPEC =
  /(?:^|[\s;}])(?:import|export)\s[^'"`;]*?from\s*['"]([^'"]+)['"]|import\s*\(\s*['"]([^'"]+)['"]\s*\)|^\s*import\s+['"]([^'"]+)['"]/gm

function sourceFiles(dir: string): string[] {
  const out: string[] = []
  for (const name of readdirSync(dir)) {
    const full = join(dir, name)
    if (statSync(full).isDirectory()) {
      if (name !== 'node_modules' && name !== 'public') out.push(...sourceFiles(full))
    } else if (name.endsWith('.ts') && !name.endsWith('.d.ts')) out.push(full)
  }
  return out
}

/** File (relative to the root) -> the project files it imports (relative to the root). */
export function importGraph(dirs: readonly string[] = ['mocks'], root = ROOT): Map<string, string[]> {
  const graph = new Map<string, string[]>()
  for (const file of dirs.flatMap((d) => sourceFiles(join(root, d)))) {
    const text = readFileSync(file, 'utf8')
    const targets: string[] = []
    for (const m of text.matchAll(SPEC)) {
      const spec = m[1] ?? m[2] ?? m[3]
      if (!spec?.startsWith('.')) continue
      targets.push(relative(root, resolve(dirname(file), spec)))
    }
    graph.set(relative(root, file), [...new Set(targets)])
  }
  return graph
}

/** Every cycle (strongly connected component of more than one file, or a file importing itself). */
export function cycles(graph: ReadonlyMap<string, readonly string[]>): string[][] {
  // Tarjan's algorithm, iterative so a deep chain cannot overflow the stack.
  let index = 0
  const order = new Map<string, number>()
  const low = new Map<string, number>()
  const onStack = new Set<string>()
  const stack: string[] = []
  const found: string[][] = []
  for (const start of graph.keys()) {
    if (order.has(start)) continue
    const work: [string, number][] = [[start, 0]]
    order.set(start, index)
    low.set(start, index++)
    stack.push(start)
    onStack.add(start)
    while (work.length) {
      const top = work[work.length - 1] as [string, number]
      const [node, i] = top
      const next = (graph.get(node) ?? []).filter((n) => graph.has(n))
      if (i < next.length) {
        top[1]++
        const to = next[i] as string
        if (!order.has(to)) {
          order.set(to, index)
          low.set(to, index++)
          stack.push(to)
          onStack.add(to)
          work.push([to, 0])
        } else if (onStack.has(to)) low.set(node, Math.min(low.get(node)!, order.get(to)!))
        continue
      }
      work.pop()
      const parent = work[work.length - 1]
      if (parent) low.set(parent[0], Math.min(low.get(parent[0])!, low.get(node)!))
      if (low.get(node) === order.get(node)) {
        const component: string[] = []
        let member: string | undefined
        do {
          member = stack.pop() as string
          onStack.delete(member)
          component.push(member)
        } while (member !== node)
        if (component.length > 1 || (graph.get(node) ?? []).includes(node)) found.push(component.sort())
      }
    }
  }
  return found
}
