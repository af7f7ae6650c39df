import http from 'node:http'
import os from 'node:os'

// HTTP helpers for the load side: raw node:http (no fetch), so what is timed is the request.

export interface Captured {
  status: number
  /** Response headers minus the per-connection ones Node writes itself (date, connection, keep-alive). */
  headers: Record<string, string>
  body: Buffer
}

const PER_CONNECTION = new Set(['date', 'connection', 'keep-alive', 'transfer-encoding'])

export function request(
  url: string,
  opts: {
    method?: string
    headers?: Record<string, string>
    body?: Buffer | string
    agent?: http.Agent | false
  } = {},
): Promise<Captured> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      { method: opts.method ?? 'GET', headers: opts.headers, agent: opts.agent ?? false },
      (res) => {
        const chunks: Buffer[] = []
        res.on('data', (c: Buffer) => chunks.push(c))
        res.on('end', () => {
          const headers: Record<string, string> = {}
          for (const [k, v] of Object.entries(res.headers)) {
            if (!PER_CONNECTION.has(k) && v !== undefined) headers[k] = Array.isArray(v) ? v.join(', ') : v
          }
          resolve({ status: res.statusCode ?? 0, headers, body: Buffer.concat(chunks) })
        })
        res.on('error', reject)
      },
    )
    req.setTimeout(30_000, () => req.destroy(new Error(`${url}: no answer in 30 s`)))
    req.on('error', reject)
    req.end(opts.body)
  })
}

export async function json<T>(
  url: string,
  opts: { method?: string; body?: unknown; headers?: Record<string, string> } = {},
): Promise<T> {
  const res = await request(url, {
    ...(opts.method ? { method: opts.method } : {}),
    headers: { 'content-type': 'application/json', ...opts.headers },
    ...(opts.body === undefined ? {} : { body: JSON.stringify(opts.body) }),
  })
  if (res.status >= 300)
    throw new Error(`${opts.method ?? 'GET'} ${url}: ${res.status} ${res.body.toString()}`)
  return (res.body.length ? JSON.parse(res.body.toString()) : undefined) as T
}

// Ports for servers the bench starts later (peers, cold starts): the tests' helper, below the
// kernel's ephemeral range, so a port-0 pick cannot be taken meanwhile.
export { freePorts } from '../tests/ports.ts'

/** One GET that succeeds only with a 200, for start-up polling. */
export function answers200(url: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = http.get(url, { agent: false }, (res) => {
      res.resume()
      res.on('end', () => resolve(res.statusCode === 200))
      res.on('error', () => resolve(false))
    })
    req.setTimeout(2000, () => req.destroy())
    req.on('error', () => resolve(false))
  })
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms))

export const load1 = () => os.loadavg()[0] ?? 0
