export const BREAKER_CLOSED = 0
export const BREAKER_HALF_OPEN = 1
export const BREAKER_OPEN = 2
export type BreakerState = typeof BREAKER_CLOSED | typeof BREAKER_HALF_OPEN | typeof BREAKER_OPEN

export interface CircuitBreakerOptions {
  /** Failures are counted over windows of this length. */
  readonly windowMs: number
  /** A window opens the breaker with at least this many failures… */
  readonly minFailures: number
  /** …making at least this share of its answered calls. */
  readonly failureRatio: number
  /** First open period; each failed recovery doubles it, up to maxOpenMs. */
  readonly openMs: number
  readonly maxOpenMs: number
  /** Calls let through while half-open; all of them must succeed to close. */
  readonly probes: number
}

/**
 * Per-DSP circuit breaker (PBS-Java style): opens on a burst of failures (timeouts, connection
 * errors, bad statuses, bad bodies), stays open for a while, then half-opens and lets a few probe
 * calls through. Every probe succeeding closes it; one failing re-opens it for twice as long.
 * Time comes in as an argument: no timers, no clock reads of its own.
 */
export class CircuitBreaker {
  state: BreakerState = BREAKER_CLOSED
  #windowStartedAt = Number.NEGATIVE_INFINITY
  #windowCalls = 0
  #windowFailures = 0
  #openUntil = 0
  #openMs: number
  #probesSent = 0
  #probeSuccesses = 0
  #halfOpenedAt = 0

  constructor(readonly options: CircuitBreakerOptions) {
    this.#openMs = options.openMs
  }

  /** May a call go out now? Moves open → half-open when the open period is over. */
  allows(nowMs: number): boolean {
    if (this.state === BREAKER_CLOSED) return true
    if (this.state === BREAKER_OPEN) {
      if (nowMs < this.#openUntil) return false
      this.#halfOpen(nowMs)
    }
    // Probes whose answers never came (the auction ended first) must not wedge the breaker half-open.
    if (this.#probesSent >= this.options.probes && nowMs - this.#halfOpenedAt > this.#openMs)
      this.#halfOpen(nowMs)
    return this.#probesSent < this.options.probes
  }

  /** A call passed every check and was sent: while half-open, it is a probe. */
  onSent(): void {
    if (this.state === BREAKER_HALF_OPEN) this.#probesSent++
  }

  onResult(isFailure: boolean, nowMs: number): void {
    if (this.state === BREAKER_OPEN) return // answers to calls sent before it opened
    if (this.state === BREAKER_HALF_OPEN) {
      if (isFailure) return this.#open(nowMs, Math.min(this.#openMs * 2, this.options.maxOpenMs))
      if (++this.#probeSuccesses >= this.options.probes) this.#close()
      return
    }
    if (nowMs - this.#windowStartedAt >= this.options.windowMs) {
      this.#windowStartedAt = nowMs
      this.#windowCalls = 0
      this.#windowFailures = 0
    }
    this.#windowCalls++
    if (!isFailure) return
    this.#windowFailures++
    const o = this.options
    if (this.#windowFailures >= o.minFailures && this.#windowFailures >= o.failureRatio * this.#windowCalls) {
      this.#open(nowMs, o.openMs)
    }
  }

  #open(nowMs: number, openMs: number): void {
    this.state = BREAKER_OPEN
    this.#openMs = openMs
    this.#openUntil = nowMs + openMs
  }

  #halfOpen(nowMs: number): void {
    this.state = BREAKER_HALF_OPEN
    this.#halfOpenedAt = nowMs
    this.#probesSent = 0
    this.#probeSuccesses = 0
  }

  #close(): void {
    this.state = BREAKER_CLOSED
    this.#openMs = this.options.openMs
    this.#windowStartedAt = Number.NEGATIVE_INFINITY
  }
}
