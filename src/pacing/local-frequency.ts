interface Entry {
  /** Reservations of this campaign for this user not yet released or billed. */
  pending: number
  /** When each recent billing was counted here (ascending). */
  readonly recentAtMs: number[]
}

/**
 * What this instance knows about a user's impressions that the counters it read may not show yet:
 * impressions reserved here (in this auction, or won and waiting for billing), and billings counted
 * here after the counters were read (a cached read may predate them; `recentMs` ≥ the cache TTL).
 * Added to the read counts, it keeps one instance from overshooting a cap on its own; across
 * instances the overshoot is bounded by the cache TTL and the billing delay (README).
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

  /** Impressions the counters read at `readAtMs` do not show yet. */
  extra(key: string, readAtMs: number): number {
    const e = this.#entries.get(key)
    if (e === undefined) return 0
    let unseen = 0
    for (let i = e.recentAtMs.length - 1; i >= 0 && e.recentAtMs[i]! >= readAtMs; i--) unseen++
    return e.pending + unseen
  }

  addPending(key: string): void {
    const e = this.#entries.get(key)
    if (e === undefined) this.#entries.set(key, { pending: 1, recentAtMs: [] })
    else e.pending++
  }

  removePending(key: string): void {
    const e = this.#entries.get(key)
    if (e !== undefined && e.pending > 0) e.pending--
  }

  /** A billing was counted for this user and campaign (here, or learned from the store). */
  addRecent(key: string, nowMs: number): void {
    const e = this.#entries.get(key)
    if (e === undefined) this.#entries.set(key, { pending: 0, recentAtMs: [nowMs] })
    else e.recentAtMs.push(nowMs)
  }

  /** Forgets billings every read from now on includes (older than `recentMs`); off the request path. */
  sweep(nowMs: number): void {
    const cutoff = nowMs - this.recentMs
    for (const [key, e] of this.#entries) {
      let stale = 0
      while (stale < e.recentAtMs.length && e.recentAtMs[stale]! < cutoff) stale++
      if (stale > 0) e.recentAtMs.splice(0, stale)
      if (e.pending === 0 && e.recentAtMs.length === 0) this.#entries.delete(key)
    }
  }
}
