/** A seeded generator (mulberry32) with the draws the traffic generator needs. */
export class Prng {
  #state: number

  constructor(seed: number) {
    this.#state = seed >>> 0
  }

  /** Uniform in [0, 1). */
  next(): number {
    this.#state = (this.#state + 0x6d2b79f5) >>> 0
    let t = this.#state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }

  int(n: number): number {
    return Math.floor(this.next() * n)
  }

  between(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1)
  }

  chance(p: number): boolean {
    return this.next() < p
  }

  pick<T>(list: readonly T[]): T {
    return list[this.int(list.length)]!
  }

  /** Rank-frequency draw (Zipf, exponent s): a few values are common, most are rare. */
  zipf<T>(list: readonly T[], s = 1): T {
    const weights = zipfWeights(list.length, s)
    let r = this.next() * weights.total
    for (let i = 0; i < list.length; i++) {
      r -= weights.w[i]!
      if (r < 0) return list[i]!
    }
    return list[list.length - 1]!
  }

  /** `count` distinct values, Zipf-weighted. */
  some<T>(list: readonly T[], count: number, s = 1): T[] {
    const out = new Set<T>()
    const want = Math.min(count, list.length)
    while (out.size < want) out.add(this.zipf(list, s))
    return [...out]
  }

  weighted<T>(choices: readonly (readonly [T, number])[]): T {
    let total = 0
    for (const [, w] of choices) total += w
    let r = this.next() * total
    for (const [v, w] of choices) {
      r -= w
      if (r < 0) return v
    }
    return choices[choices.length - 1]![0]
  }

  /** Log-normal around `median` (sigma in log space). */
  logNormal(median: number, sigma: number): number {
    const u = Math.max(this.next(), 1e-12)
    const v = this.next()
    return median * Math.exp(sigma * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v))
  }
}

const zipfCache = new Map<string, { w: Float64Array; total: number }>()

function zipfWeights(n: number, s: number): { w: Float64Array; total: number } {
  const key = `${n}:${s}`
  let found = zipfCache.get(key)
  if (found === undefined) {
    const w = new Float64Array(n)
    let total = 0
    for (let i = 0; i < n; i++) total += w[i] = 1 / (i + 1) ** s
    zipfCache.set(key, (found = { w, total }))
  }
  return found
}
