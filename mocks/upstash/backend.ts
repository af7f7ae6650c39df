import { createRequire } from 'node:module'
import { getKeyIndexes, exists as isKnownCommand } from '@ioredis/commands'
import type { Redis } from 'ioredis'

// The Redis behind the Upstash REST layer. One code path drives either backend through the
// ioredis API: an embedded ioredis-mock (default; in memory, a world of its own per backend,
// so per tenant) or a real
// Redis (`MOCKS_UPSTASH_REDIS_URL`) through ioredis. Both run under a key prefix with ioredis's
// `keyPrefix`, which prefixes the key arguments of every command (ioredis's own command table
// says which arguments are keys). What `keyPrefix` does NOT cover is handled here:
//   - KEYS and SCAN patterns are not prefixed by ioredis, and their answers carry the prefix:
//     the pattern gets the prefix (so nothing outside it is ever listed) and answers lose it.
//   - FLUSHDB/FLUSHALL/DBSIZE act on the prefix only (SCAN + DEL), never on the whole database.
//   - Commands that reach keys by name outside their key arguments (Lua scripts, SORT ... BY,
//     MIGRATE), change database (SELECT, SWAPDB, MOVE) or the server, block, or talk pub/sub
//     are refused with an `ERR` answer, as an Upstash database refuses what it does not offer.

const require = createRequire(import.meta.url)
const COMMAND_TABLE = require('@ioredis/commands/built/commands.json') as Record<
  string,
  { arity: number; flags: string[]; keyStart: number }
>

/** A reply in Redis terms: bulk strings as Buffers (binary-safe), integers as numbers. */
export type Reply = Buffer | string | number | null | Reply[]

export type Outcome = { result: Reply } | { error: string }

/** An error answer from Redis (or one this layer gives in Redis's words): `{error}` with 400. */
export class RedisCommandError extends Error {
  override name = 'RedisCommandError'
}

// Refused: they reach outside the prefix, change connection or server state, or block a request.
const REFUSED = new Set([
  'eval',
  'evalsha',
  'eval_ro',
  'evalsha_ro',
  'script',
  'function',
  'fcall',
  'fcall_ro',
  'sort',
  'sort_ro',
  'migrate',
  'select',
  'swapdb',
  'move',
  'copy',
  'config',
  'debug',
  'shutdown',
  'monitor',
  'client',
  'cluster',
  'replicaof',
  'slaveof',
  'save',
  'bgsave',
  'bgrewriteaof',
  'acl',
  'failover',
  'module',
  'sync',
  'psync',
  'quit',
  'reset',
  'auth',
  'hello',
  'multi',
  'exec',
  'discard',
  'watch',
  'unwatch',
  'subscribe',
  'psubscribe',
  'ssubscribe',
  'unsubscribe',
  'punsubscribe',
  'sunsubscribe',
  'publish',
  'spublish',
  'pubsub',
  'blpop',
  'brpop',
  'brpoplpush',
  'blmove',
  'blmpop',
  'bzpopmin',
  'bzpopmax',
  'bzmpop',
  'wait',
  'waitaof',
  'lastsave',
  'latency',
  'memory',
  'object',
  'slowlog',
  'role',
  'readonly',
  'readwrite',
  'asking',
  'command',
  'info',
  'lolwut',
  'randomkey',
  'xread',
  'xreadgroup',
  'keys',
  'scan',
  'flushdb',
  'flushall',
  'dbsize',
])
// Of REFUSED, these are answered here within the prefix instead.
const PREFIX_AWARE = new Set(['keys', 'scan', 'flushdb', 'flushall', 'dbsize'])

// Float increments: ioredis-mock answers NaN for a non-number where Redis refuses.
const FLOAT_INCREMENTS = new Set(['zincrby', 'incrbyfloat', 'hincrbyfloat'])
// Commands whose Redis reply (or every element of it) is a bulk string even when it holds a
// number: ioredis-mock answers JS numbers for scores.
const BULK_NUMERIC = new Set([
  ...FLOAT_INCREMENTS,
  'zscore',
  'zmscore',
  'zpopmin',
  'zpopmax',
  'zrange',
  'zrangebyscore',
  'zrevrange',
  'zrevrangebyscore',
  'zrandmember',
  'zscan',
  'zunion',
  'zinter',
  'zdiff',
  'geodist',
])

// ioredis-mock does not check key types (GET on a hash answers an object, SADD on a string
// throws a JavaScript TypeError). The embedded backend checks the key type first, as Redis
// does; a real Redis checks itself. The families follow Redis's command groups.
const STRING_COMMANDS = new Set([
  'get',
  'getset',
  'getdel',
  'getex',
  'append',
  'incr',
  'incrby',
  'decr',
  'decrby',
  'incrbyfloat',
  'getrange',
  'setrange',
  'strlen',
  'substr',
  'lcs',
])
const LIST_COMMANDS = new Set([
  'lpush',
  'rpush',
  'lpushx',
  'rpushx',
  'lpop',
  'rpop',
  'llen',
  'lrange',
  'lindex',
  'lset',
  'linsert',
  'lrem',
  'ltrim',
  'lpos',
  'rpoplpush',
  'lmove',
  'lmpop',
])
const SET_COMMANDS = new Set([
  'sadd',
  'srem',
  'smembers',
  'sismember',
  'smismember',
  'scard',
  'spop',
  'srandmember',
  'smove',
  'sinter',
  'sintercard',
  'sunion',
  'sdiff',
  'sinterstore',
  'sunionstore',
  'sdiffstore',
  'sscan',
])
const ZSET_MIXED = new Set([
  'zunion',
  'zinter',
  'zdiff',
  'zunionstore',
  'zinterstore',
  'zdiffstore',
  'zintercard',
])

function requiredType(name: string): string | undefined {
  if (STRING_COMMANDS.has(name)) return 'string'
  if (LIST_COMMANDS.has(name)) return 'list'
  if (SET_COMMANDS.has(name)) return 'set'
  if (name.startsWith('h')) return 'hash'
  if (name.startsWith('z') && !ZSET_MIXED.has(name)) return 'zset'
  return undefined
}

// ioredis-mock compares some option keywords case-sensitively (`SET k v px 100` keeps no
// expiry); Redis reads them in any case. The embedded backend upper-cases option keywords in
// the option tail of these commands (index of the first option; keys and values come before).
const OPTION_TAIL: Record<string, number> = {
  set: 3,
  getex: 2,
  expire: 3,
  pexpire: 3,
  expireat: 3,
  pexpireat: 3,
  zrange: 4,
  zrangebyscore: 4,
  zrevrangebyscore: 4,
  zrangebylex: 4,
  zrevrangebylex: 4,
  zrangestore: 5,
  lpos: 3,
  hrandfield: 3,
  zrandmember: 3,
}
const OPTION_KEYWORDS = new Set(
  'EX PX EXAT PXAT NX XX KEEPTTL GET GT LT CH INCR PERSIST WITHSCORES WITHVALUES LIMIT BYSCORE BYLEX REV RANK COUNT MAXLEN'.split(
    ' ',
  ),
)
const ZADD_FLAGS = new Set(['NX', 'XX', 'GT', 'LT', 'CH', 'INCR'])

/** The embedded backend's arguments with option keywords upper-cased (see OPTION_TAIL). */
export function embeddedArgs(name: string, rest: readonly string[]): string[] {
  const out = [...rest]
  if (name === 'zadd') {
    for (let i = 1; i < out.length && ZADD_FLAGS.has(out[i]!.toUpperCase()); i++)
      out[i] = out[i]!.toUpperCase()
    return out
  }
  const from = OPTION_TAIL[name]
  if (from === undefined) return out
  for (let i = from - 1; i < out.length; i++) {
    const up = out[i]!.toUpperCase()
    if (OPTION_KEYWORDS.has(up)) out[i] = up
  }
  return out
}

const WRONGTYPE = 'WRONGTYPE Operation against a key holding the wrong kind of value'
const NOT_INTEGER = 'ERR value is not an integer or out of range'
const NOT_FLOAT = 'ERR value is not a valid float'
const INT64_MAX = 2n ** 63n - 1n
const INT64_MIN = -(2n ** 63n)

// Increments checked before the embedded Redis runs them (see checkIncrement; ZINCRBY there
// too). DECR/DECRBY
// subtract; HINCRBY* take a field before the increment.
const INCREMENTS: Record<string, { float?: true; decrement?: true; hash?: true }> = {
  incr: {},
  incrby: {},
  decr: { decrement: true },
  decrby: { decrement: true },
  incrbyfloat: { float: true },
  hincrby: { hash: true },
  hincrbyfloat: { hash: true, float: true },
}

/** A string Redis reads as a 64-bit integer (its string2ll: no sign '+', spaces or leading zeros). */
function redisInteger(s: string): bigint | undefined {
  if (!/^(0|-?[1-9][0-9]{0,18})$/.test(s)) return undefined
  const n = BigInt(s)
  return n > INT64_MAX || n < INT64_MIN ? undefined : n
}

/** A string Redis reads as a float (its strtold, no surrounding spaces; hex floats not taken). */
function redisFloat(s: string): number | undefined {
  if (/^[+-]?inf(inity)?$/i.test(s)) return s.startsWith('-') ? -Infinity : Infinity
  if (!/^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)(e[+-]?[0-9]+)?$/i.test(s)) return undefined
  return Number(s)
}

function unknownCommand(args: readonly string[]): RedisCommandError {
  const rest = args
    .slice(1, 21)
    .map((a) => `'${a.slice(0, 128)}'`)
    .join(' ')
  return new RedisCommandError(`ERR unknown command '${args[0] ?? ''}', with args beginning with: ${rest}`)
}

/** Checks a command array before it reaches Redis: a name Redis knows, its arity, not refused. */
export function checkCommand(args: readonly string[]): string {
  const raw = args[0]
  if (raw === undefined || raw === '') throw new RedisCommandError('ERR empty command')
  const name = raw.toLowerCase()
  const spec = COMMAND_TABLE[name]
  if (!spec || !isKnownCommand(name)) throw unknownCommand(args)
  const n = args.length
  if ((spec.arity > 0 && n !== spec.arity) || (spec.arity < 0 && n < -spec.arity)) {
    throw new RedisCommandError(`ERR wrong number of arguments for '${name}' command`)
  }
  if (REFUSED.has(name) && !PREFIX_AWARE.has(name)) {
    throw new RedisCommandError(
      `ERR command '${name}' is not available on this Upstash fake: it would reach keys outside the mocks' prefix or block the request`,
    )
  }
  return name
}

export interface BackendOptions {
  /** `redis://...` of a real Redis; absent = the embedded ioredis-mock. */
  url?: string
  /** Every key lives under it. Letters, digits and `:_.-` only (it is used in SCAN patterns). */
  prefix: string
  /**
   * Embedded only: ioredis-mock keys its worlds by host. The backend must be the only one on
   * its host: `clear()` (reset, FLUSHDB) empties the whole world.
   */
  embeddedHost?: string
}

/**
 * A SCAN cursor as Redis reads it (C's strtoul, base 10): an optional sign and digits, or
 * nothing at all (0); a negative one wraps around 2^64 as strtoul's does; no leading space,
 * nothing after the digits, nothing out of the unsigned 64-bit range. undefined: invalid.
 */
export function scanCursor(text: string): bigint | undefined {
  if (text === '') return 0n
  const m = /^([+-]?)([0-9]+)$/.exec(text)
  if (!m) return undefined
  const n = BigInt(m[2]!)
  if (n >= 2n ** 64n) return undefined
  return m[1] === '-' ? (2n ** 64n - n) % 2n ** 64n : n
}

type Invocable = Record<string, unknown>

export class RedisBackend {
  readonly kind: 'embedded' | 'redis'
  readonly prefix: string
  private readonly client: Redis
  /** Embedded only: one command or transaction at a time, so a transaction is atomic. */
  private lock: Promise<unknown> = Promise.resolve()
  /** Set by dispose(): a request that still holds this backend is refused, never written. */
  private disposed = false

  /**
   * ioredis and ioredis-mock are imported here, not at module load: each costs ~0.5 s, which
   * every CLI command (and every process that only lists the registry) would pay otherwise.
   */
  static async create(opts: BackendOptions): Promise<RedisBackend> {
    if (!/^[A-Za-z0-9:_.-]+$/.test(opts.prefix)) {
      throw new Error(`Upstash key prefix "${opts.prefix}" may hold only letters, digits and :_.-`)
    }
    if (opts.url) {
      const { Redis: RealRedis } = await import('ioredis')
      const client = new RealRedis(opts.url, {
        keyPrefix: opts.prefix,
        lazyConnect: true,
        maxRetriesPerRequest: 1,
      })
      // Connection errors reach the request that needed Redis (a 500); not an unhandled event.
      client.on('error', () => undefined)
      try {
        await client.connect()
      } catch (err) {
        client.disconnect()
        throw new Error(
          `MOCKS_UPSTASH_REDIS_URL: cannot connect to ${redactUrl(opts.url)} (${(err as Error).message}); start that Redis or unset the variable for the embedded one`,
        )
      }
      return new RedisBackend('redis', opts.prefix, client)
    }
    const { default: RedisMock } = await import('ioredis-mock')
    // ioredis-mock shares one world between instances with the same host and port, and keeps
    // every host's world for the life of the process: each backend gets a host of its own
    // (the fake hands a deleted tenant's emptied host to the next tenant).
    const client = new RedisMock({
      keyPrefix: opts.prefix,
      host: opts.embeddedHost ?? `embedded-${crypto.randomUUID()}`,
    })
    return new RedisBackend('embedded', opts.prefix, client as unknown as Redis)
  }

  private constructor(kind: 'embedded' | 'redis', prefix: string, client: Redis) {
    this.kind = kind
    this.prefix = prefix
    this.client = client
  }

  /** Runs one command; throws RedisCommandError for Redis's error answers. */
  command(args: readonly string[]): Promise<Reply> {
    const name = checkCommand(args)
    return this.exclusive(() => this.run(name, args))
  }

  /** Upstash `/pipeline`: in order, not atomic, each command its own outcome. */
  async pipeline(commands: readonly (readonly string[])[]): Promise<Outcome[]> {
    const out: Outcome[] = []
    for (const cmd of commands) out.push(await this.outcome(() => this.command(cmd)))
    return out
  }

  /**
   * Upstash `/multi-exec`: atomic. A command Redis would refuse to queue (unknown, bad arity,
   * refused) aborts the whole transaction before anything runs, as EXEC answers EXECABORT.
   */
  async transaction(commands: readonly (readonly string[])[]): Promise<Outcome[]> {
    const names = commands.map((c) => checkCommand(c))
    this.checkLive()
    if (this.kind === 'embedded') {
      return this.serial(async () => {
        const out: Outcome[] = []
        for (const [i, cmd] of commands.entries())
          out.push(await this.outcome(() => this.run(names[i]!, cmd)))
        return out
      })
    }
    if (names.some((n) => PREFIX_AWARE.has(n))) {
      throw new RedisCommandError(
        `ERR ${names.find((n) => PREFIX_AWARE.has(n))} is not available in a transaction here`,
      )
    }
    const tx = this.client.multi() as unknown as Invocable & {
      exec(): Promise<[Error | null, unknown][] | null>
    }
    for (const [i, cmd] of commands.entries()) invoke(tx, names[i]!, cmd.slice(1))
    const results = await tx.exec()
    if (!results) throw new RedisCommandError('EXECABORT Transaction discarded because of previous errors.')
    return results.map(([err, value], i) =>
      err ? { error: redisMessage(err) } : { result: normalize(names[i]!, value) },
    )
  }

  /** Deletes every key under the prefix (SCAN + DEL), never anything else. */
  async clear(): Promise<number> {
    if (this.kind === 'embedded') {
      // The embedded world holds this backend's keys only (a host of its own, see create), so
      // FLUSHALL is the prefix; ioredis-mock's DEL also refuses an empty key name that SCAN+DEL
      // would meet.
      const n = await this.client.dbsize()
      await this.client.flushall()
      return n
    }
    let cursor = '0'
    let deleted = 0
    do {
      // SCAN's MATCH is not prefixed by ioredis; the answers are full names, and DEL would
      // prefix them again, so they are stripped first.
      const [next, keys] = await this.client.scan(cursor, 'MATCH', `${this.prefix}*`, 'COUNT', 500)
      cursor = next
      const own = keys.map((k) => k.slice(this.prefix.length))
      if (own.length) deleted += await this.client.del(...own)
    } while (cursor !== '0')
    return deleted
  }

  /**
   * A deleted tenant's end: every key under the prefix deleted, then commands that still hold
   * this backend are refused. On the embedded Redis the clear waits for the commands queued
   * before it, and nothing can write after it, so its world is empty for the next owner.
   */
  async dispose(): Promise<void> {
    await this.exclusive(async () => {
      this.disposed = true
      await this.clear()
    })
  }

  async close(): Promise<void> {
    if (this.kind === 'redis') this.client.disconnect()
    else await this.client.quit().catch(() => undefined)
  }

  /** On the embedded Redis, after every command queued before it; on a real one, at once. */
  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    return this.kind === 'embedded' ? this.serial(fn) : fn()
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.lock.then(fn, fn)
    this.lock = next.catch(() => undefined)
    return next
  }

  private async outcome(fn: () => Promise<Reply>): Promise<Outcome> {
    try {
      return { result: await fn() }
    } catch (err) {
      if (err instanceof RedisCommandError) return { error: err.message }
      throw err
    }
  }

  private checkLive(): void {
    if (this.disposed) throw new RedisCommandError('ERR this tenant was deleted; its keys are gone')
  }

  private async run(name: string, args: readonly string[]): Promise<Reply> {
    this.checkLive()
    const rest = args.slice(1)
    switch (name) {
      case 'keys':
        return this.keys(rest[0] ?? '*')
      case 'scan':
        return this.scan(rest)
      case 'dbsize':
        return (await this.keys('*')).length
      case 'flushdb':
      case 'flushall':
        await this.clear()
        return 'OK'
    }
    if (this.kind === 'embedded') {
      await this.checkTypes(name, rest)
      await this.checkIncrement(name, rest)
      if (name === 'zadd') {
        const incr = await this.zaddIncr(embeddedArgs(name, rest))
        if (incr !== undefined) return incr
      }
    }
    try {
      const value = await invoke(
        this.client as unknown as Invocable,
        name,
        this.kind === 'embedded' ? embeddedArgs(name, rest) : rest,
      )
      return normalize(name, value)
    } catch (err) {
      throw new RedisCommandError(redisMessage(err))
    }
  }

  private async keys(pattern: string): Promise<string[]> {
    const found = await this.client.keys(`${this.prefix}${pattern}`)
    return found.map((k) => k.slice(this.prefix.length)).sort()
  }

  /**
   * SCAN within the prefix: MATCH, COUNT and TYPE as Redis reads them, and Upstash's own
   * WITHTYPE (each key followed by its type, what `@upstash/redis`'s `withType` asks). TYPE is
   * applied here to each batch, as Redis applies it (ioredis-mock knows no TYPE), so both
   * backends take one path.
   */
  private async scan(rest: readonly string[]): Promise<Reply> {
    const read = scanCursor(rest[0] ?? '0')
    if (read === undefined) throw new RedisCommandError('ERR invalid cursor')
    const cursor = String(read)
    const opts: string[] = []
    let match = '*'
    let type: string | undefined
    let withType = false
    for (let i = 1; i < rest.length; i++) {
      const opt = rest[i]!.toLowerCase()
      if (opt === 'withtype') {
        withType = true
        continue
      }
      const value = rest[++i]
      if (value === undefined) throw new RedisCommandError('ERR syntax error')
      if (opt === 'match') match = value
      else if (opt === 'type') type = value.toLowerCase()
      else if (opt === 'count') {
        const n = redisInteger(value)
        if (n === undefined) throw new RedisCommandError(NOT_INTEGER)
        if (n < 1n) throw new RedisCommandError('ERR syntax error')
        opts.push('COUNT', value)
      } else throw new RedisCommandError('ERR syntax error')
    }
    const client = this.client as unknown as { scan(...a: string[]): Promise<[string, string[]]> }
    let next: string
    let found: string[]
    try {
      ;[next, found] = await client.scan(cursor, 'MATCH', `${this.prefix}${match}`, ...opts)
    } catch (err) {
      throw new RedisCommandError(redisMessage(err))
    }
    const keys = found.map((k) => k.slice(this.prefix.length))
    if (type === undefined && !withType) return [next, keys]
    const types = await Promise.all(keys.map((k) => this.client.type(k)))
    const kept = keys.flatMap((k, i) => (type === undefined || types[i] === type ? [[k, types[i]!]] : []))
    return [next, withType ? kept.flat() : kept.map(([k]) => k!)]
  }

  /**
   * ZADD ... INCR on the embedded Redis (ioredis-mock answers 0 for it): ZINCRBY under ZADD's
   * conditions, answering the new score, or nil when a condition stops it, as Redis does.
   */
  private async zaddIncr(rest: readonly string[]): Promise<Reply | undefined> {
    const [key, ...tail] = rest
    const flags = new Set<string>()
    while (tail.length && ZADD_FLAGS.has(tail[0]!)) flags.add(tail.shift()!)
    if (!flags.has('INCR') || key === undefined) return undefined
    if (tail.length !== 2)
      throw new RedisCommandError('ERR INCR option supports a single increment-element pair')
    const [by, member] = tail as [string, string]
    const step = Number(by)
    if (!Number.isFinite(step)) throw new RedisCommandError(NOT_FLOAT)
    const before = await this.client.zscore(key, member)
    const old = before === null ? undefined : Number(before)
    if (flags.has('NX') && old !== undefined) return null
    if (flags.has('XX') && old === undefined) return null
    if (old !== undefined && flags.has('GT') && !(old + step > old)) return null
    if (old !== undefined && flags.has('LT') && !(old + step < old)) return null
    return String(await this.client.zincrby(key, step, member))
  }

  /**
   * ioredis-mock increments with JS numbers: a non-number value or increment is stored back as
   * "NaN" (a NaN score for ZINCRBY; the fake then answered the error), "1.5" counts as an
   * integer, and int64 overflow goes unnoticed. Redis refuses all of these and leaves the value
   * untouched, so the embedded backend checks the stored value, the increment and the result
   * first (valid integers beyond 2^53 still lose precision in ioredis-mock).
   */
  private async checkIncrement(name: string, rest: readonly string[]): Promise<void> {
    if (name === 'zincrby') {
      const [key, by, member] = rest as [string, string, string]
      const step = redisFloat(by)
      if (step === undefined) throw new RedisCommandError(NOT_FLOAT)
      const old = await this.client.zscore(key, member)
      if (Number.isNaN((old === null ? 0 : Number(old)) + step))
        throw new RedisCommandError('ERR resulting score is not a number (NaN)')
      return
    }
    const spec = INCREMENTS[name]
    if (!spec) return
    const [key, a, b] = rest as [string, string | undefined, string | undefined]
    const by = spec.hash ? b : a
    const stored = spec.hash ? await this.client.hget(key, a ?? '') : await this.client.get(key)
    const valueError = spec.hash
      ? `ERR hash value is not ${spec.float ? 'a float' : 'an integer'}`
      : undefined
    if (spec.float) {
      const step = by === undefined ? 0 : redisFloat(by)
      if (step === undefined) throw new RedisCommandError(NOT_FLOAT)
      const old = stored === null ? 0 : redisFloat(stored)
      if (old === undefined) throw new RedisCommandError(valueError ?? NOT_FLOAT)
      if (!Number.isFinite(old + step))
        throw new RedisCommandError('ERR increment would produce NaN or Infinity')
      return
    }
    const step = by === undefined ? 1n : redisInteger(by)
    if (step === undefined) throw new RedisCommandError(NOT_INTEGER)
    // Redis negates a DECRBY's step before adding it, so the one step it cannot negate is
    // refused first, whatever the key holds.
    if (spec.decrement && step === INT64_MIN) throw new RedisCommandError('ERR decrement would overflow')
    const old = stored === null ? 0n : redisInteger(stored)
    if (old === undefined) throw new RedisCommandError(valueError ?? NOT_INTEGER)
    const next = spec.decrement ? old - step : old + step
    if (next > INT64_MAX || next < INT64_MIN)
      throw new RedisCommandError('ERR increment or decrement would overflow')
  }

  private async checkTypes(name: string, rest: readonly string[]): Promise<void> {
    const wanted = requiredType(name)
    if (!wanted) return
    const all = getKeyIndexes(name, [...rest])
    // A *store command's destination is overwritten whatever it holds.
    const indexes = name.endsWith('store') ? all.slice(1) : all
    for (const i of indexes) {
      const key = rest[i]
      if (key === undefined) continue
      const type = await this.client.type(key)
      if (type !== 'none' && type !== wanted) throw new RedisCommandError(WRONGTYPE)
    }
  }
}

function redactUrl(url: string): string {
  try {
    const u = new URL(url)
    if (u.password) u.password = '***'
    return u.toString()
  } catch {
    return 'the given URL'
  }
}

function invoke(target: Invocable, name: string, rest: readonly string[]): Promise<unknown> {
  // The Buffer variant keeps values binary-safe (Upstash's base64 encoding is of the bytes).
  const fn = (target[`${name}Buffer`] ?? target[name]) as ((...a: string[]) => unknown) | undefined
  if (typeof fn !== 'function') {
    throw new RedisCommandError(
      `ERR command '${name}' is not supported by the embedded Redis (ioredis-mock); set MOCKS_UPSTASH_REDIS_URL to use a real Redis`,
    )
  }
  return Promise.resolve(fn.apply(target, [...rest]))
}

function redisMessage(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err)
  // Redis's own answers start with an upper-case code (ERR, WRONGTYPE, NOSCRIPT ...). Anything
  // else is a JavaScript error inside the embedded Redis: its text is not Redis's, and is not leaked.
  if (/^[A-Z]{2,}[A-Z_]* /.test(msg)) return msg
  if (/^Unsupported command/.test(msg)) {
    return 'ERR this command is not supported by the embedded Redis (ioredis-mock); set MOCKS_UPSTASH_REDIS_URL to use a real Redis'
  }
  if (/does not contain a/.test(msg)) return WRONGTYPE
  return 'ERR the embedded Redis (ioredis-mock) could not run this command; set MOCKS_UPSTASH_REDIS_URL to use a real Redis'
}

/** Back to Redis's reply shapes from what the ioredis API answers. */
function normalize(name: string, value: unknown): Reply {
  if (value === null || value === undefined) return null
  // ioredis-mock's INCRBYFLOAT/HINCRBYFLOAT/ZINCRBY of a non-number.
  if (FLOAT_INCREMENTS.has(name) && String(value) === 'NaN') throw new RedisCommandError(NOT_FLOAT)
  if (Buffer.isBuffer(value)) return value
  if (typeof value === 'string') return value
  if (typeof value === 'number') {
    if (Number.isNaN(value)) {
      // ioredis-mock's INCR of a non-number.
      throw new RedisCommandError(name.endsWith('float') ? NOT_FLOAT : NOT_INTEGER)
    }
    return BULK_NUMERIC.has(name) || !Number.isInteger(value) ? String(value) : value
  }
  if (typeof value === 'boolean') return value ? 1 : 0
  if (Array.isArray(value)) return value.map((v) => normalize(name, v))
  if (typeof value === 'object') {
    // ioredis turns HGETALL's flat array into an object; Upstash answers the flat array.
    return Object.entries(value as Record<string, unknown>).flatMap(([k, v]) => [k, normalize(name, v)])
  }
  return String(value)
}
