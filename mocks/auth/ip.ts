import { z } from 'zod'

// The `ipAddress` better-auth stores on a session, as a development server (the one a frontend
// runs beside) finds it: one valid address in X-Forwarded-For (no trusted proxies are set, so a
// chain of several is no answer), normalised as better-auth normalises it: an IPv4-mapped IPv6
// address as its IPv4, any other IPv6 address cut to its /64 and written out group by group;
// otherwise localhost (a production better-auth stores "" there). Its validators are zod's, as
// here; its IPv6 expansion splits on colons only, so an address with a dotted tail comes out
// with fewer groups there, and here: a client compares what it reads.

const LOCALHOST_IP = '127.0.0.1'
const IPV4 = z.ipv4()
const IPV6 = z.ipv6()

const isIPv4 = (ip: string): boolean => IPV4.safeParse(ip).success
const isIPv6 = (ip: string): boolean => IPV6.safeParse(ip).success

/** The address's groups, each padded to four digits, `::` filled with zero groups. */
function expand(ipv6: string): string[] {
  const pad = (groups: string[]) => groups.map((g) => g.padStart(4, '0'))
  if (!ipv6.includes('::')) return pad(ipv6.split(':'))
  const [left, right] = ipv6.split('::')
  const head = left ? left.split(':') : []
  const tail = right ? right.split(':') : []
  return [...pad(head), ...Array<string>(8 - head.length - tail.length).fill('0000'), ...pad(tail)]
}

/** The IPv4 address an IPv4-mapped IPv6 address carries, if it is one. */
function mappedIPv4(ipv6: string): string | null {
  const lower = ipv6.toLowerCase()
  if (lower.startsWith('::ffff:') && isIPv4(lower.slice(7))) return lower.slice(7)
  const parts = ipv6.split(':')
  if (parts.length === 7 && parts[5]?.toLowerCase() === 'ffff' && isIPv4(parts[6] ?? '')) return parts[6]!
  if (!lower.includes(':ffff:')) return null
  const g = expand(ipv6)
  if (g.length !== 8 || g.slice(0, 4).some((x) => x !== '0000') || g[4] !== '0000' || g[5] !== 'ffff')
    return null
  const hex = (x: string | undefined, at: number) => Number.parseInt(x?.slice(at, at + 2) ?? '', 16)
  return `${hex(g[6], 0)}.${hex(g[6], 2)}.${hex(g[7], 0)}.${hex(g[7], 2)}`
}

function normalise(ip: string): string {
  if (isIPv4(ip)) return ip.toLowerCase()
  const v4 = mappedIPv4(ip)
  if (v4) return v4.toLowerCase()
  // The /64: the first four groups kept, the rest zero.
  return expand(ip)
    .map((g, i) => (i < 4 ? g : '0000'))
    .join(':')
    .toLowerCase()
}

/** The session's `ipAddress` for a request carrying `forwardedFor` (X-Forwarded-For), if any. */
export function sessionIp(forwardedFor: string | undefined): string {
  if (forwardedFor === undefined) return LOCALHOST_IP
  const ips = forwardedFor
    .split(',')
    .map((ip) => ip.trim())
    .filter(Boolean)
  const ip = ips[0]
  if (ips.length !== 1 || !ip || !(isIPv4(ip) || isIPv6(ip))) return LOCALHOST_IP
  return normalise(ip)
}
