import { type ChildProcess, fork } from 'node:child_process'
import { createRequire } from 'node:module'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import { ROOT } from './machine.ts'

// Servers under test run in child processes (bench/host.ts), so the load generator in this
// process never shares an event loop with them; they are driven over IPC.

export type HostRole = 'mocks' | 'baseline'

export interface HostOptions {
  /** mocks: which fakes to start (all by default). */
  services?: string[]
}

export interface Host {
  readonly pid: number
  call<T = unknown>(cmd: string, args?: unknown): Promise<T>
  close(): Promise<void>
}

interface Reply {
  id?: number
  ready?: boolean
  ok?: boolean
  result?: unknown
  error?: string
}

const TSX_LOADER = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href
const HOST = path.join(ROOT, 'bench', 'host.ts')

/** `pnpm bench --cpu-prof <dir>`: each host writes a V8 CPU profile there when it exits. */
export const PROFILE_DIR_ENV = 'BENCH_CPU_PROF_DIR'

export async function startHost(role: HostRole, opts: HostOptions = {}): Promise<Host> {
  const profileDir = process.env[PROFILE_DIR_ENV]
  const child: ChildProcess = fork(HOST, [role, JSON.stringify(opts)], {
    cwd: ROOT,
    execArgv: [
      '--import',
      TSX_LOADER,
      '--expose-gc',
      // One folder per host: Node writes a profile per thread (tsx's loader has its own).
      ...(profileDir
        ? ['--cpu-prof', `--cpu-prof-dir=${path.join(profileDir, `${role}-${Date.now()}`)}`]
        : []),
    ],
    // Production log level, output discarded: what `pnpm start` costs, minus a terminal.
    env: { ...process.env, MOCKS_LOG_LEVEL: 'info' },
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
  })
  let stderr = ''
  child.stderr?.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-4000)
  })
  const pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>()
  let nextId = 1
  let exited = false
  const failAll = (why: string) => {
    for (const p of pending.values()) p.reject(new Error(why))
    pending.clear()
  }
  const ready = new Promise<void>((resolve, reject) => {
    child.on('message', (msg: Reply) => {
      if (msg.ready) return resolve()
      const p = msg.id === undefined ? undefined : pending.get(msg.id)
      if (!p) return
      pending.delete(msg.id!)
      if (msg.ok) p.resolve(msg.result)
      else p.reject(new Error(`bench host (${role}): ${msg.error}`))
    })
    child.once('exit', (code, signal) => {
      exited = true
      const why = `bench host (${role}) exited (code ${code}, signal ${signal})${stderr ? `:\n${stderr}` : ''}`
      reject(new Error(why))
      failAll(why)
    })
  })
  await ready
  return {
    pid: child.pid!,
    call<T>(cmd: string, args?: unknown): Promise<T> {
      if (exited) return Promise.reject(new Error(`bench host (${role}) is not running`))
      const id = nextId++
      return new Promise<T>((resolve, reject) => {
        pending.set(id, { resolve: resolve as (v: unknown) => void, reject })
        child.send({ id, cmd, args })
      })
    },
    async close() {
      if (exited) return
      const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()))
      child.send({ id: 0, cmd: 'exit' })
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000)
      await gone
      clearTimeout(timer)
    },
  }
}
