/**
 * Online ordering of filters by measured cost and rejection rate.
 *
 * For independent filters, running them in increasing cost / P(reject) minimises the expected
 * cost per candidate (each candidate stops at its first rejection): a filter that costs little
 * and rejects much should see every candidate, an expensive one that rarely rejects should see
 * only what is left. Both figures are exponentially weighted averages of profiles taken on
 * sampled auctions, so the order follows the traffic as it shifts.
 */
export class FilterOrder {
  /** Nanoseconds per candidate. */
  readonly costNs: Float64Array
  /** Probability that a candidate is rejected. */
  readonly rejectRate: Float64Array
  readonly samples: Uint32Array
  /** Filter indices, the order to run them in. */
  readonly order: Int32Array
  readonly isAdaptive: boolean

  constructor(count: number, fixedOrder: readonly number[] | null = null) {
    this.costNs = new Float64Array(count).fill(PRIOR_COST_NS)
    this.rejectRate = new Float64Array(count).fill(PRIOR_REJECT_RATE)
    this.samples = new Uint32Array(count)
    this.order = new Int32Array(count)
    this.isAdaptive = fixedOrder === null
    const seen = new Set(fixedOrder ?? [])
    const initial = [
      ...(fixedOrder ?? []),
      ...Array.from({ length: count }, (_, i) => i).filter((i) => !seen.has(i)),
    ]
    this.order.set(initial)
  }

  /** Folds one profile of filter `f` into its averages; the first profile replaces the prior. */
  record(f: number, costNs: number, rejectRate: number): void {
    const n = this.samples[f]!
    const weight = n === 0 ? 1 : Math.max(SMOOTHING, 1 / (n + 1))
    this.costNs[f] = this.costNs[f]! + weight * (Math.max(costNs, MIN_COST_NS) - this.costNs[f]!)
    this.rejectRate[f] = this.rejectRate[f]! + weight * (rejectRate - this.rejectRate[f]!)
    this.samples[f] = n + 1
  }

  /** Expected cost of the filter per rejection it makes: lower runs earlier. */
  rank(f: number): number {
    return this.costNs[f]! / Math.max(this.rejectRate[f]!, MIN_REJECT_RATE)
  }

  /** Re-sorts by rank (insertion sort: a handful of filters, nearly sorted between profiles). */
  reorder(): void {
    if (!this.isAdaptive) return
    const order = this.order
    for (let i = 1; i < order.length; i++) {
      const f = order[i]!
      const r = this.rank(f)
      let j = i - 1
      while (j >= 0 && this.rank(order[j]!) > r) {
        order[j + 1] = order[j]!
        j--
      }
      order[j + 1] = f
    }
  }
}

/** Before any profile, every filter looks alike and the starting order holds. */
const PRIOR_COST_NS = 1
const PRIOR_REJECT_RATE = 0.5
/** Weight of a new profile once a filter has a few: about the last 16 profiles count. */
const SMOOTHING = 1 / 16
/** Timer noise can make a measurement zero or negative; no filter is free. */
const MIN_COST_NS = 0.001
/** A filter that never rejects still gets a finite rank: it goes last, in a stable order. */
const MIN_REJECT_RATE = 1e-6
