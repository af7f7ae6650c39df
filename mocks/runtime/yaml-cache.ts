import { createHash } from 'node:crypto'
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

// Parsing scenarios/default.yaml (18 KB) with `yaml` costs 45-100 ms of every start, JSON.parse
// of the same value 0.2 ms: a file's parsed value is kept on disk, keyed by its exact text and
// yaml's version, so the same text always gives the same value. Only values JSON holds exactly
// are kept (no Infinity, NaN, -0, dates or maps); anything else is parsed every time.

export const YAML_CACHE_DIR = fileURLToPath(
  new URL('../../node_modules/.cache/devarno-mocks/yaml/', import.meta.url),
)

let yamlVersion: string | undefined
function version(): string {
  try {
    yamlVersion ??= (
      JSON.parse(readFileSync(createRequire(import.meta.url).resolve('yaml/package.json'), 'utf8')) as {
        version: string
      }
    ).version
  } catch {
    yamlVersion = 'unknown'
  }
  return yamlVersion
}

function jsonExact(v: unknown): boolean {
  if (v === null || typeof v === 'string' || typeof v === 'boolean') return true
  if (typeof v === 'number') return Number.isFinite(v) && !Object.is(v, -0)
  if (Array.isArray(v)) return v.every(jsonExact)
  if (typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype)
    return Object.values(v as object).every(jsonExact)
  return false
}

/** `parse()`'s value for this text: from the cache, or parsed and cached (when parse throws, nothing is kept). */
export function cachedYamlValue(text: string, parse: () => unknown, dir: string = YAML_CACHE_DIR): unknown {
  const key = createHash('sha256').update(`yaml@${version()}\0${text}`).digest('hex')
  const file = join(dir, `${key}.json`)
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as unknown
  } catch {
    // not cached yet
  }
  const value = parse()
  if (jsonExact(value)) {
    try {
      mkdirSync(dir, { recursive: true })
      writeFileSync(`${file}.${process.pid}.tmp`, JSON.stringify(value))
      renameSync(`${file}.${process.pid}.tmp`, file)
    } catch {
      // read-only install: parsed again next time
    }
  }
  return value
}
