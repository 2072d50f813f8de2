/**
 * The hard QPS cap that protects a DSP: a local token bucket refilled lazily from the clock passed
 * in. Its rate is this instance's share of the DSP's fleet-wide cap (`maxQps / live instances`), so
 * the fleet overshoots by at most the sum of the local bursts.
 */
export class TokenBucket {
  #ratePerMs = 0
  #capacity = 1
  #tokens = 1
  /** NaN until the first call: a new bucket starts full and is not refilled for time before it. */
  #refilledAt = Number.NaN

  /** `burstMs`: how much of a second's traffic may go out at once after an idle spell. */
  constructor(
    qps: number,
    readonly burstMs: number,
  ) {
    this.setRate(qps)
    this.#tokens = this.#capacity
  }

  /** Calls per second this bucket lets through. */
  get qps(): number {
    return this.#ratePerMs * 1000
  }

  setRate(qps: number): void {
    this.#ratePerMs = qps / 1000
    this.#capacity = Math.max(1, this.#ratePerMs * this.burstMs)
    if (this.#tokens > this.#capacity) this.#tokens = this.#capacity
  }

  tryTake(nowMs: number): boolean {
    const elapsedMs = nowMs - this.#refilledAt
    this.#refilledAt = nowMs
    const tokens =
      elapsedMs > 0 ? Math.min(this.#capacity, this.#tokens + elapsedMs * this.#ratePerMs) : this.#tokens
    if (tokens < 1) {
      this.#tokens = tokens
      return false
    }
    this.#tokens = tokens - 1
    return true
  }
}
