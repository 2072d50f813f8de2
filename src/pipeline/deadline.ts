/**
 * The auction's time budget, fixed at arrival (not when parsing ended). Pure time arithmetic:
 * the one timer an auction may need belongs to the DSP fan-out (see stages/bid/fan-out.ts), so
 * auctions answered from memory cost no timer at all.
 */
export class Deadline {
  /** performance.now() timestamp after which the auction must have answered. */
  readonly at: number

  constructor(receivedAt: number, budgetMs: number) {
    this.at = receivedAt + budgetMs
  }

  remainingMs(): number {
    return this.at - performance.now()
  }

  isExpired(): boolean {
    return performance.now() >= this.at
  }
}

export interface TimeBudgetConfig {
  readonly defaultTmaxMs: number
  readonly maxTmaxMs: number
  readonly responseReserveMs: number
}

/**
 * Same rule as prebid-server's auction_timeouts_ms: the default when tmax is absent (or 0), capped
 * always, minus what we keep back to run the auction and write the answer.
 */
export function auctionBudgetMs(tmax: number | undefined, t: TimeBudgetConfig): number {
  const requested = tmax !== undefined && tmax > 0 ? tmax : t.defaultTmaxMs
  return Math.max(0, Math.min(requested, t.maxTmaxMs) - t.responseReserveMs)
}
