export interface ErrorThrottleOptions {
  /** Error rate (timeouts + errors per answered call, smoothed) above which the DSP is throttled. */
  readonly maxErrorRate: number
  /** Weight of the last tick in the smoothed error rate (EWMA). */
  readonly smoothing: number
  /** Multiplicative decrease per tick while over the limit (AIMD β). */
  readonly decrease: number
  /** Additive recovery per tick while under it (AIMD α), as a share of full traffic. */
  readonly recover: number
  /** The share never goes below this, so the DSP keeps being measured. */
  readonly minShare: number
}

/**
 * Google-style error throttling: while a DSP's smoothed error rate is over the limit, the share of
 * its eligible calls that go out is cut multiplicatively each control tick, then restored
 * additively once it is healthy again (AIMD). The share is applied by a credit accumulator, not a
 * random draw: exactly `share` of the calls pass, evenly spread.
 */
export class ErrorThrottle {
  share = 1
  errorRate = 0
  #credit = 0
  #calls = 0
  #errors = 0

  constructor(readonly options: ErrorThrottleOptions) {}

  allows(): boolean {
    if (this.share >= 1) return true
    this.#credit += this.share
    if (this.#credit < 1) return false
    this.#credit -= 1
    return true
  }

  onResult(isError: boolean): void {
    this.#calls++
    if (isError) this.#errors++
  }

  /** Once per control tick: update the smoothed error rate, then the share. */
  tick(): void {
    const o = this.options
    if (this.#calls > 0) {
      this.errorRate += o.smoothing * (this.#errors / this.#calls - this.errorRate)
      this.#calls = 0
      this.#errors = 0
    }
    if (this.errorRate > o.maxErrorRate) this.share = Math.max(o.minShare, this.share * (1 - o.decrease))
    else this.share = Math.min(1, this.share + o.recover)
  }
}
