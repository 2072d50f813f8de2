interface Entry {
  /** Reservations of this campaign for this user not yet released or billed. */
  pending: number
  /** Until when each recent billing counted here still counts locally (ascending). */
  readonly recentUntilMs: number[]
}

/**
 * What this instance knows about a user's impressions that the counters it read may not show yet:
 * impressions reserved here (in this auction, or won and waiting for billing), and billings counted
 * here within `recentMs` (the counters in the decoration cache may predate them). Added to the read
 * counts, it keeps one instance from overshooting a cap on its own; across instances the overshoot
 * is bounded by the cache TTL and the billing delay (README).
 */
export class LocalFrequency {
  readonly #entries = new Map<string, Entry>()

  constructor(readonly recentMs: number) {}

  static key(campaignId: string, userId: string): string {
    return `${campaignId}\n${userId}`
  }

  get size(): number {
    return this.#entries.size
  }

  extra(key: string, nowMs: number): number {
    const e = this.#entries.get(key)
    if (e === undefined) return 0
    let live = 0
    for (let i = e.recentUntilMs.length - 1; i >= 0 && e.recentUntilMs[i]! > nowMs; i--) live++
    return e.pending + live
  }

  addPending(key: string): void {
    const e = this.#entries.get(key)
    if (e === undefined) this.#entries.set(key, { pending: 1, recentUntilMs: [] })
    else e.pending++
  }

  removePending(key: string): void {
    const e = this.#entries.get(key)
    if (e !== undefined && e.pending > 0) e.pending--
  }

  /** A billing was counted for this user and campaign (here, or learned from the store). */
  addRecent(key: string, nowMs: number): void {
    const until = nowMs + this.recentMs
    const e = this.#entries.get(key)
    if (e === undefined) this.#entries.set(key, { pending: 0, recentUntilMs: [until] })
    else e.recentUntilMs.push(until)
  }

  /** Forgets what no longer counts; run off the request path. */
  sweep(nowMs: number): void {
    for (const [key, e] of this.#entries) {
      let stale = 0
      while (stale < e.recentUntilMs.length && e.recentUntilMs[stale]! <= nowMs) stale++
      if (stale > 0) e.recentUntilMs.splice(0, stale)
      if (e.pending === 0 && e.recentUntilMs.length === 0) this.#entries.delete(key)
    }
  }
}
