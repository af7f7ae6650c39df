import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { Readable } from 'node:stream'
import { describe, expect, it } from 'vitest'
import {
  breakdown,
  countParts,
  gapText,
  PARTS,
  type Part,
  parseFrame,
  partOf,
  perfDuring,
  perfUnavailable,
  scaledTo,
} from './perf.ts'

// The perf breakdown's classifier on stacks as `perf script -F ip,sym,dso` prints them, and
// (where perf can sample the kernel) one real sampling of a server process.

const K = '[kernel.kallsyms]'
const NODE = '/usr/bin/node'
const stack = (...frames: [string, string][]) => frames.map(([sym, dso]) => ({ sym, dso }))

describe('partOf', () => {
  it('tells sending, waking the client, reading and polling apart in the kernel', () => {
    const send = stack(
      ['_copy_from_iter', K],
      ['tcp_sendmsg_locked', K],
      ['tcp_sendmsg', K],
      ['__GI___writev', '/lib/libc.so.6'],
    )
    expect(partOf(send)).toBe(PARTS[0])
    const wake = stack(
      ['pvm_irq_enable', K],
      ['sock_def_readable', K],
      ['tcp_rcv_established', K],
      ['tcp_sendmsg', K],
    )
    expect(partOf(wake)).toBe('kernel: waking the client to read an answer')
    expect(partOf(stack(['skb_copy_datagram_iter', K], ['tcp_recvmsg', K], ['read', '/lib/libc.so.6']))).toBe(
      'kernel: reading requests',
    )
    expect(partOf(stack(['ep_poll', K], ['do_epoll_wait', K], ['epoll_pwait', '/lib/libc.so.6']))).toBe(
      'kernel: the event loop waiting (epoll)',
    )
    // A collector's own kernel time (a page fault while it copies) is the collector's.
    const gcFault = stack(
      ['clear_page_erms', K],
      ['asm_exc_page_fault', K],
      ['v8::internal::Scavenger::Process', NODE],
    )
    expect(partOf(gcFault)).toBe('V8 garbage collection (all threads)')
    expect(partOf(stack(['pvm_irq_enable', K], ['handle_softirqs', K]))).toBe(
      'kernel: other (interrupts, timers, scheduling)',
    )
  })

  it('tells GC, JIT code, V8 builtins, Node and libc apart in user space', () => {
    const gc = stack(
      ['v8::internal::Scavenger::ScavengeObject<x>', NODE],
      ['v8::internal::Heap::Scavenge', NODE],
    )
    expect(partOf(gc)).toBe('V8 garbage collection (all threads)')
    expect(partOf(stack(['[unknown]', '[unknown]'], ['uv_run', NODE]))).toBe('JavaScript (JIT-compiled code)')
    expect(partOf(stack(['JS:*handler file:///x.js', '/tmp/perf-123.map']))).toBe(
      'JavaScript (JIT-compiled code)',
    )
    expect(partOf(stack(['Builtins_LoadIC', NODE]))).toBe(PARTS[7])
    expect(partOf(stack(['llhttp__internal_execute', NODE]))).toBe('Node.js C++, libuv and llhttp')
    expect(partOf(stack(['std::_Rb_tree<x>::erase', NODE]))).toBe('Node.js C++, libuv and llhttp')
    expect(partOf(stack(['_int_malloc', '/usr/lib/x86_64-linux-gnu/libc.so.6']))).toBe(
      'libc (copies, malloc)',
    )
    expect(partOf(stack(['[unknown]', '[vdso]']))).toBe('other')
    expect(partOf([])).toBe('other')
  })
})

describe('parsing perf script output', () => {
  it('reads frames and counts one part per sample', async () => {
    expect(parseFrame('\tffffffff8207cc74 __tcp_transmit_skb ([kernel.kallsyms])')).toEqual({
      sym: '__tcp_transmit_skb',
      dso: K,
    })
    expect(parseFrame('\t    7f7e3a6f2ad7 [unknown] ([unknown])')).toEqual({
      sym: '[unknown]',
      dso: '[unknown]',
    })
    expect(parseFrame('not a frame')).toBeUndefined()
    const text = [
      '\tffffffff1 sock_def_readable ([kernel.kallsyms])',
      '\tffffffff2 tcp_sendmsg ([kernel.kallsyms])',
      '',
      '\t1234 Builtins_LoadIC (/usr/bin/node)',
      '',
      '',
      '\t5678 [unknown] ([unknown])',
    ].join('\n')
    const counts = await countParts(Readable.from(text.split('\n')))
    expect(Object.fromEntries(counts)).toEqual({
      'kernel: waking the client to read an answer': 1,
      [PARTS[7]]: 1,
      'JavaScript (JIT-compiled code)': 1,
    })
  })

  it('turns sample counts into CPU per request and states a gap', () => {
    // 4 samples of 1 ms over 100 requests: 40 µs a request.
    const a = breakdown(
      'a',
      new Map<Part, number>([
        [PARTS[0], 3],
        ['other', 1],
      ]),
      100,
    )
    expect(a.totalUs).toBe(40)
    expect(a.parts[PARTS[0]]).toBe(30)
    const b = breakdown('b', new Map<Part, number>([[PARTS[0], 1]]), 100)
    expect(gapText(a, b)).toBe(`${PARTS[0]} +20 µs, other +10 µs`)
    // Shares kept, scaled to a CPU per request measured without perf.
    const s = scaledTo(a, 20)
    expect(s.totalUs).toBe(20)
    expect(s.parts[PARTS[0]]).toBe(15)
    expect(s.parts.other).toBe(5)
    expect(scaledTo(breakdown('none', new Map(), 0), 20).parts.other).toBe(0)
    expect(breakdown('none', new Map(), 0).totalUs).toBe(0)
  })
})

const why = perfUnavailable()

// CI installs Debian's linux-perf: there, a missing or refused perf is a failure, not a skip.
describe.skipIf(why !== null && !process.env.CI)('perfDuring (Linux perf on a real server)', () => {
  it('samples a server process while it serves, kernel included', async () => {
    expect(why).toBeNull()
    const body = Buffer.alloc(8192, 'x')
    const server = http.createServer((_req, res) => res.end(body))
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const { port } = server.address() as AddressInfo
    const agent = new http.Agent({ keepAlive: true, maxSockets: 4 })
    const get = () =>
      new Promise<void>((resolve, reject) => {
        http
          .get({ port, host: '127.0.0.1', agent }, (res) => res.resume().on('end', resolve))
          .on('error', reject)
      })
    try {
      const result = await perfDuring('bare node:http (this process)', process.pid, async () => {
        let n = 0
        const until = Date.now() + 1000
        while (Date.now() < until) {
          await Promise.all([get(), get(), get(), get()])
          n += 4
        }
        return n
      })
      expect(result.requests).toBeGreaterThan(100)
      expect(result.samples).toBeGreaterThan(0)
      expect(result.totalUs).toBeGreaterThan(0)
      // Serving over loopback costs the kernel something, and the classifier saw it.
      expect(
        result.parts[PARTS[0]] + result.parts['kernel: waking the client to read an answer'],
      ).toBeGreaterThan(0)
    } finally {
      agent.destroy()
      server.close()
    }
  }, 30_000)
})
