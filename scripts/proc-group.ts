import { readdirSync, readFileSync } from 'node:fs'

// The processes of a process group, read from /proc (Linux): the cold-start bench sums their CPU
// and memory, the install tests check that a stopped command left none alive.

export interface ProcStat {
  pid: number
  /** R, S, D, Z (zombie: exited, not yet reaped; its sockets are closed), ... */
  state: string
  pgrp: number
  /** CPU time in clock ticks (USER_HZ, 100 a second on Linux). */
  utime: number
  stime: number
}

/** /proc/<pid>/stat; undefined when the process is gone (or this is not Linux). */
export function procStat(pid: number | string): ProcStat | undefined {
  let text: string
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8')
  } catch {
    return undefined
  }
  // `pid (comm) state ppid pgrp ...`: the name may hold spaces and parentheses.
  const f = text.slice(text.lastIndexOf(')') + 2).split(' ')
  // After the name: state(0) ppid(1) pgrp(2) ... utime(11) stime(12)
  return {
    pid: Number(pid),
    state: f[0] ?? '',
    pgrp: Number(f[2]),
    utime: Number(f[11]),
    stime: Number(f[12]),
  }
}

/** Every process of a group, zombies included; undefined when /proc cannot be read. */
export function groupProcesses(pgid: number): ProcStat[] | undefined {
  let pids: string[]
  try {
    pids = readdirSync('/proc').filter((d) => /^\d+$/.test(d))
  } catch {
    return undefined
  }
  return pids.flatMap((pid) => {
    const stat = procStat(pid)
    return stat?.pgrp === pgid ? [stat] : []
  })
}
