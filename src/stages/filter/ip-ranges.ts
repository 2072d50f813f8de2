/**
 * CIDR ranges (IPv4 and IPv6) compiled for lookup: IPv4 as sorted, merged [start, end] pairs of
 * 32-bit integers searched by bisection; IPv6 as a short list of (prefix words, bits) compared
 * word by word. Addresses are parsed without allocating for IPv4, the common case.
 */
export interface IpRanges {
  readonly size: number
  has(ip: string): boolean
}

export function compileIpRanges(cidrs: readonly string[]): IpRanges {
  const v4: [number, number][] = []
  const v6: { words: Uint32Array; bits: number }[] = []
  for (const cidr of cidrs) {
    const slash = cidr.indexOf('/')
    const address = slash < 0 ? cidr : cidr.slice(0, slash)
    const v4Start = parseIpv4(address)
    if (v4Start >= 0) {
      const bits = slash < 0 ? 32 : Number(cidr.slice(slash + 1))
      if (!Number.isInteger(bits) || bits < 0 || bits > 32) throw new Error(`bad IPv4 CIDR: ${cidr}`)
      const size = 2 ** (32 - bits)
      const start = v4Start - (v4Start % size)
      v4.push([start, start + size - 1])
      continue
    }
    const words = parseIpv6(address)
    const bits = slash < 0 ? 128 : Number(cidr.slice(slash + 1))
    if (words === null || !Number.isInteger(bits) || bits < 0 || bits > 128)
      throw new Error(`bad CIDR: ${cidr}`)
    v6.push({ words, bits })
  }
  const merged = mergeRanges(v4)
  const starts = Float64Array.from(merged, (r) => r[0])
  const ends = Float64Array.from(merged, (r) => r[1])
  return {
    size: cidrs.length,
    has(ip: string): boolean {
      const v = parseIpv4(ip)
      if (v >= 0) return inRanges(starts, ends, v)
      if (v6.length === 0) return false
      const words = parseIpv6(ip)
      return words !== null && v6.some((r) => prefixMatches(words, r.words, r.bits))
    },
  }
}

function mergeRanges(ranges: [number, number][]): [number, number][] {
  ranges.sort((a, b) => a[0] - b[0])
  const out: [number, number][] = []
  for (const r of ranges) {
    const last = out.at(-1)
    if (last !== undefined && r[0] <= last[1] + 1) last[1] = Math.max(last[1], r[1])
    else out.push([r[0], r[1]])
  }
  return out
}

function inRanges(starts: Float64Array, ends: Float64Array, v: number): boolean {
  let lo = 0
  let hi = starts.length - 1
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1
    if (v < starts[mid]!) hi = mid - 1
    else if (v > ends[mid]!) lo = mid + 1
    else return true
  }
  return false
}

/** Dotted quad to an unsigned 32-bit number; -1 when it is not one. */
export function parseIpv4(s: string): number {
  let value = 0
  let part = 0
  let digits = 0
  let dots = 0
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c >= 48 && c <= 57) {
      part = part * 10 + (c - 48)
      if (++digits > 3 || part > 255) return -1
    } else if (c === 46 && digits > 0 && dots < 3) {
      value = value * 256 + part
      part = 0
      digits = 0
      dots++
    } else return -1
  }
  if (dots !== 3 || digits === 0) return -1
  return value * 256 + part
}

/** IPv6 text (with :: and an optional dotted-quad tail) to four 32-bit words; null when invalid. */
export function parseIpv6(s: string): Uint32Array | null {
  const halves = s.split('::')
  if (halves.length > 2) return null
  const head = halves[0] === '' ? [] : halves[0]!.split(':')
  const tail = halves.length === 2 && halves[1] !== '' ? halves[1]!.split(':') : []
  const groups: number[] = []
  for (const part of [...head, ...tail]) if (!pushGroup(groups, part)) return null
  const missing = 8 - groups.length
  if (halves.length === 1 ? missing !== 0 : missing < 1) return null
  const all = [
    ...groups.slice(0, groupCount(head)),
    ...new Array<number>(missing).fill(0),
    ...groups.slice(groupCount(head)),
  ]
  const words = new Uint32Array(4)
  for (let i = 0; i < 4; i++) words[i] = ((all[2 * i]! << 16) | all[2 * i + 1]!) >>> 0
  return words
}

/** Groups a list of parts yields: a dotted-quad tail counts twice. */
function groupCount(parts: readonly string[]): number {
  return parts.reduce((n, p) => n + (p.includes('.') ? 2 : 1), 0)
}

function pushGroup(groups: number[], part: string): boolean {
  if (part.includes('.')) {
    const v4 = parseIpv4(part)
    if (v4 < 0) return false
    groups.push(Math.floor(v4 / 65536), v4 % 65536)
    return true
  }
  if (!/^[0-9a-f]{1,4}$/i.test(part)) return false
  groups.push(Number.parseInt(part, 16))
  return true
}

function prefixMatches(ip: Uint32Array, prefix: Uint32Array, bits: number): boolean {
  for (let i = 0; i < 4 && bits > 0; i++, bits -= 32) {
    const mask = bits >= 32 ? 0xffffffff : (0xffffffff << (32 - bits)) >>> 0
    if ((ip[i]! & mask) >>> 0 !== (prefix[i]! & mask) >>> 0) return false
  }
  return true
}
