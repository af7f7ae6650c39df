// Strict wire-contract validator for JSON bodies described by the proto-contracts messages.
//
// protobuf-es `fromJson` alone is too lenient for contract tests: it accepts both `created_at` and
// `createdAt`, int64 as string or number, `null` (= default) for every field, and absent fields.
// The real services each emit exactly one shape, so a fake must too: this checks that shape first,
// then runs `fromJson` as a backstop for anything the structural checks do not cover.

import {
  type DescEnum,
  type DescField,
  type DescMessage,
  fromJson,
  type JsonValue,
  ScalarType,
} from '@bufbuild/protobuf'
import { FeatureSet_FieldPresence } from '@bufbuild/protobuf/wkt'

/**
 * Which key spelling the wire uses:
 * - 'proto': proto field names (snake_case), as chat-service and media-service REST send
 *   (`sender_id`, `created_at`, `size_bytes`);
 * - 'json': protobuf JSON names (lowerCamelCase), as better-auth's get-session sends
 *   (`emailVerified`, `userId`).
 * The other spelling is rejected, never tolerated.
 */
export type WireNames = 'proto' | 'json'

export interface CheckOptions {
  /** Default 'proto'. */
  names?: WireNames
}

// RFC 3339 as protobuf's Timestamp JSON mapping allows it: upper-case T and Z, 0-9 fraction digits.
const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/
// Date.parse (and so fromJson) rolls 2026-02-30 over to March; a wire timestamp must be a real date.
function isRfc3339(text: string): boolean {
  if (!RFC3339.test(text) || Number.isNaN(Date.parse(text))) return false
  const [year, month, day] = text.slice(0, 10).split('-').map(Number) as [number, number, number]
  const date = new Date(Date.UTC(2000, month - 1, day))
  date.setUTCFullYear(year)
  return date.getUTCMonth() === month - 1 && date.getUTCDate() === day
}
const DURATION = /^-?\d+(\.\d{1,9})?s$/
const BASE64 = /^[A-Za-z0-9+/_-]*={0,2}$/
// Sizes and byte counts can never be negative, even though the proto type (int64) is signed.
const SIZE_FIELD = /(^|_)size($|_)|_bytes$|^bytes$/

const WRAPPER_SCALARS: Readonly<Record<string, ScalarType>> = {
  'google.protobuf.DoubleValue': ScalarType.DOUBLE,
  'google.protobuf.FloatValue': ScalarType.FLOAT,
  'google.protobuf.Int64Value': ScalarType.INT64,
  'google.protobuf.UInt64Value': ScalarType.UINT64,
  'google.protobuf.Int32Value': ScalarType.INT32,
  'google.protobuf.UInt32Value': ScalarType.UINT32,
  'google.protobuf.BoolValue': ScalarType.BOOL,
  'google.protobuf.StringValue': ScalarType.STRING,
  'google.protobuf.BytesValue': ScalarType.BYTES,
}

type JsonObject = Record<string, unknown>

function isPlainObject(value: unknown): value is JsonObject {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false
  const proto = Object.getPrototypeOf(value)
  return proto === Object.prototype || proto === null
}

function describeValue(value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'array'
  if (typeof value === 'object')
    return isPlainObject(value) ? 'object' : `${value.constructor?.name ?? 'object'}`
  if (typeof value === 'string') return `string ${truncate(JSON.stringify(value), 60)}`
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') {
    return `${typeof value} ${String(value)}`
  }
  return typeof value
}

function truncate(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max)}…` : text
}

function join(path: string, key: string): string {
  return path === '' ? key : `${path}.${key}`
}

function at(path: string): string {
  return path === '' ? '(root)' : path
}

function wireName(field: DescField, names: WireNames): string {
  return names === 'proto' ? field.name : field.jsonName
}

/** Fields that may be absent or null on the wire: `optional` scalars/enums and oneof members. */
function mayBeAbsent(field: DescField): boolean {
  if (field.proto.proto3Optional === true || field.oneof !== undefined) return true
  return (
    (field.fieldKind === 'scalar' || field.fieldKind === 'enum') &&
    field.presence === FeatureSet_FieldPresence.EXPLICIT
  )
}

function checkScalar(type: ScalarType, value: unknown, path: string, sizeLike: boolean, out: string[]): void {
  const got = describeValue(value)
  switch (type) {
    case ScalarType.STRING:
      if (typeof value !== 'string') out.push(`${at(path)}: expected string, got ${got}`)
      return
    case ScalarType.BOOL:
      if (typeof value !== 'boolean') out.push(`${at(path)}: expected boolean, got ${got}`)
      return
    case ScalarType.BYTES:
      if (typeof value !== 'string' || !BASE64.test(value))
        out.push(`${at(path)}: expected base64 string, got ${got}`)
      return
    case ScalarType.DOUBLE:
    case ScalarType.FLOAT:
      if (typeof value !== 'number' || !Number.isFinite(value)) {
        out.push(`${at(path)}: expected finite JSON number, got ${got}`)
      }
      return
    case ScalarType.INT32:
    case ScalarType.SINT32:
    case ScalarType.SFIXED32:
      checkInteger(value, path, -(2 ** 31), 2 ** 31 - 1, 'int32', out)
      return
    case ScalarType.UINT32:
    case ScalarType.FIXED32:
      checkInteger(value, path, 0, 2 ** 32 - 1, 'uint32', out)
      return
    case ScalarType.UINT64:
    case ScalarType.FIXED64:
      // The wire sends 64-bit integers as JSON numbers (not protobuf JSON's strings), so they must be safe.
      checkInteger(value, path, 0, Number.MAX_SAFE_INTEGER, 'uint64 as JSON number', out)
      return
    case ScalarType.INT64:
    case ScalarType.SINT64:
    case ScalarType.SFIXED64:
      checkInteger(
        value,
        path,
        sizeLike ? 0 : Number.MIN_SAFE_INTEGER,
        Number.MAX_SAFE_INTEGER,
        sizeLike ? 'non-negative int64 as JSON number' : 'int64 as JSON number',
        out,
      )
      return
  }
}

function checkInteger(
  value: unknown,
  path: string,
  min: number,
  max: number,
  what: string,
  out: string[],
): void {
  if (typeof value !== 'number' || !Number.isInteger(value)) {
    out.push(`${at(path)}: expected ${what} (integer), got ${describeValue(value)}`)
  } else if (value < min || value > max) {
    out.push(`${at(path)}: expected ${what} in [${min}, ${max}], got ${value}`)
  }
}

function checkEnum(desc: DescEnum, value: unknown, path: string, out: string[]): void {
  // Wire enums are value names; numbers are legal protobuf JSON but not what our services send.
  if (typeof value !== 'string' || !desc.values.some((v) => v.name === value)) {
    const names = desc.values.map((v) => v.name).join(' | ')
    out.push(`${at(path)}: expected one of ${names}, got ${describeValue(value)}`)
  }
}

function checkJsonValue(value: unknown, path: string, out: string[]): void {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) out.push(`${at(path)}: expected finite JSON number, got ${value}`)
  } else if (Array.isArray(value)) {
    for (const [i, item] of value.entries()) checkJsonValue(item, `${path}[${i}]`, out)
  } else if (isPlainObject(value)) {
    for (const [k, v] of Object.entries(value)) checkJsonValue(v, join(path, k), out)
  } else out.push(`${at(path)}: expected a JSON value, got ${describeValue(value)}`)
}

/** A singular message-typed value: well-known types have their own JSON forms, others recurse. */
function checkMessageValue(
  desc: DescMessage,
  value: unknown,
  path: string,
  names: WireNames,
  out: string[],
): void {
  const wrapped = WRAPPER_SCALARS[desc.typeName]
  if (wrapped !== undefined) {
    checkScalar(wrapped, value, path, false, out)
    return
  }
  switch (desc.typeName) {
    case 'google.protobuf.Timestamp':
      if (typeof value !== 'string' || !isRfc3339(value)) {
        out.push(
          `${at(path)}: expected ISO-8601 string (RFC 3339 timestamp, e.g. 2024-01-31T12:00:00Z), got ${describeValue(value)}`,
        )
      }
      return
    case 'google.protobuf.Duration':
      if (typeof value !== 'string' || !DURATION.test(value))
        out.push(`${at(path)}: expected duration string like "1.5s", got ${describeValue(value)}`)
      return
    case 'google.protobuf.FieldMask':
      if (typeof value !== 'string')
        out.push(`${at(path)}: expected field mask string, got ${describeValue(value)}`)
      return
    case 'google.protobuf.Struct':
      if (!isPlainObject(value)) out.push(`${at(path)}: expected JSON object, got ${describeValue(value)}`)
      else checkJsonValue(value, path, out)
      return
    case 'google.protobuf.ListValue':
      if (!Array.isArray(value)) out.push(`${at(path)}: expected JSON array, got ${describeValue(value)}`)
      else checkJsonValue(value, path, out)
      return
    case 'google.protobuf.Value':
      checkJsonValue(value, path, out)
      return
    case 'google.protobuf.Any':
      if (!isPlainObject(value) || typeof value['@type'] !== 'string') {
        out.push(`${at(path)}: expected object with "@type", got ${describeValue(value)}`)
      }
      return
  }
  checkFields(desc, value, path, names, out)
}

function checkSingular(
  field: DescField,
  value: unknown,
  path: string,
  names: WireNames,
  out: string[],
): void {
  switch (field.fieldKind) {
    case 'scalar':
      checkScalar(field.scalar, value, path, SIZE_FIELD.test(field.name), out)
      return
    case 'enum':
      checkEnum(field.enum, value, path, out)
      return
    case 'message':
      checkMessageValue(field.message, value, path, names, out)
      return
    case 'list':
      if (!Array.isArray(value)) {
        out.push(`${at(path)}: expected array, got ${describeValue(value)}`)
        return
      }
      value.forEach((item, i) => {
        const itemPath = `${path}[${i}]`
        if (field.listKind === 'scalar')
          checkScalar(field.scalar, item, itemPath, SIZE_FIELD.test(field.name), out)
        else if (field.listKind === 'enum') checkEnum(field.enum, item, itemPath, out)
        else checkMessageValue(field.message, item, itemPath, names, out)
      })
      return
    case 'map':
      if (!isPlainObject(value)) {
        out.push(`${at(path)}: expected JSON object (map), got ${describeValue(value)}`)
        return
      }
      for (const [key, item] of Object.entries(value)) {
        const itemPath = `${path}[${JSON.stringify(key)}]`
        if (field.mapKey === ScalarType.BOOL && key !== 'true' && key !== 'false') {
          out.push(`${at(itemPath)}: expected map key "true" or "false"`)
        } else if (
          field.mapKey !== ScalarType.STRING &&
          field.mapKey !== ScalarType.BOOL &&
          !/^-?\d+$/.test(key)
        ) {
          out.push(`${at(itemPath)}: expected integer map key`)
        }
        if (field.mapKind === 'scalar') checkScalar(field.scalar, item, itemPath, false, out)
        else if (field.mapKind === 'enum') checkEnum(field.enum, item, itemPath, out)
        else checkMessageValue(field.message, item, itemPath, names, out)
      }
      return
  }
}

function checkFields(
  schema: DescMessage,
  value: unknown,
  path: string,
  names: WireNames,
  out: string[],
): void {
  if (!isPlainObject(value)) {
    out.push(`${at(path)}: expected JSON object (${schema.typeName}), got ${describeValue(value)}`)
    return
  }
  const byWire = new Map<string, DescField>()
  const byOtherSpelling = new Map<string, DescField>()
  for (const field of schema.fields) {
    byWire.set(wireName(field, names), field)
    byOtherSpelling.set(wireName(field, names === 'proto' ? 'json' : 'proto'), field)
  }

  for (const key of Object.keys(value)) {
    if (byWire.has(key)) continue
    const meant = byOtherSpelling.get(key)
    out.push(
      meant
        ? `${join(path, key)}: unknown field (expected ${wireName(meant, names)})`
        : `${join(path, key)}: unknown field (${schema.typeName} has ${[...byWire.keys()].join(', ')})`,
    )
  }

  const setOneofs = new Map<string, string>()
  for (const field of schema.fields) {
    const key = wireName(field, names)
    const fieldPath = join(path, key)
    const fieldValue = value[key]
    // `undefined` counts as absent: JSON.stringify drops such keys, so they never reach the wire.
    if (
      fieldValue === undefined ||
      (fieldValue === null && field.message?.typeName !== 'google.protobuf.Value')
    ) {
      if (mayBeAbsent(field)) continue
      out.push(
        fieldValue === undefined
          ? `${fieldPath}: missing field`
          : `${fieldPath}: null is not allowed (field is not optional)`,
      )
      continue
    }
    if (field.oneof) {
      const other = setOneofs.get(field.oneof.name)
      if (other) out.push(`${fieldPath}: oneof ${field.oneof.name} already set by ${other}`)
      setOneofs.set(field.oneof.name, key)
    }
    checkSingular(field, fieldValue, fieldPath, names, out)
  }
}

function runFromJson(schema: DescMessage, value: unknown, path: string, out: string[]): void {
  try {
    // fromJson accepts both spellings, so the already-validated keys need no mapping.
    fromJson(schema, value as JsonValue, { ignoreUnknownFields: false })
  } catch (error) {
    out.push(
      `${at(path)}: fromJson(${schema.typeName}) rejected it: ${error instanceof Error ? error.message : String(error)}`,
    )
  }
}

function checkAt(schema: DescMessage, value: unknown, path: string, names: WireNames): string[] {
  const problems: string[] = []
  checkFields(schema, value, path, names, problems)
  // Only as a backstop: after a structural failure fromJson would just repeat it less precisely.
  if (problems.length === 0) runFromJson(schema, value, path, problems)
  return problems
}

/**
 * Problems with `value` as the wire JSON of `schema` (empty = valid), each prefixed with its path,
 * e.g. `created_at: expected ISO-8601 string ...`, `createdAt: unknown field (expected created_at)`.
 * Every field must be present except `optional`/oneof ones (which may be absent or null).
 */
export function checkMessage(schema: DescMessage, value: unknown, opts: CheckOptions = {}): string[] {
  return checkAt(schema, value, '', opts.names ?? 'proto')
}

/** Like checkMessage for a JSON array of messages (e.g. GET /api/v1/messages → ChatMessage[]). */
export function checkArray(schema: DescMessage, value: unknown, opts: CheckOptions = {}): string[] {
  if (!Array.isArray(value))
    return [`(root): expected array of ${schema.typeName}, got ${describeValue(value)}`]
  const names = opts.names ?? 'proto'
  return value.flatMap((item, i) => checkAt(schema, item, `[${i}]`, names))
}

function fail(what: string, problems: string[], value: unknown): never {
  let json: string
  try {
    json = JSON.stringify(value) ?? String(value)
  } catch {
    json = String(value)
  }
  throw new Error(
    `${what} contract violation (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n` +
      `${problems.map((p) => `  - ${p}`).join('\n')}\n  value: ${truncate(json, 500)}`,
  )
}

/** Throws an Error listing every problem checkMessage finds, plus the (truncated) value. */
export function assertMessage(schema: DescMessage, value: unknown, opts: CheckOptions = {}): void {
  const problems = checkMessage(schema, value, opts)
  if (problems.length > 0) fail(schema.typeName, problems, value)
}

/** Throws an Error listing every problem checkArray finds, plus the (truncated) value. */
export function assertArray(schema: DescMessage, value: unknown, opts: CheckOptions = {}): void {
  const problems = checkArray(schema, value, opts)
  if (problems.length > 0) fail(`${schema.typeName}[]`, problems, value)
}
