import type { ShedReason } from '../metrics/metrics.js'

export interface LoadShedderOptions {
  /** Auctions in progress above which new ones are refused. */
  readonly maxInFlight: number
  /** Event-loop lag above which new auctions are refused: they could not meet their deadline. */
  readonly maxEventLoopLagMs: number
  readonly onLag?: (lagMs: number) => void
}

export interface LoadShedder {
  /** Why this request should be refused now, or null to serve it. O(1), no allocation. */
  shedReason(inFlight: number): ShedReason | null
  readonly lagMs: number
  stop(): void
}

const TICK_MS = 10

/**
 * Decides at the door whether a new auction can still be served in time. Lag is measured as the
 * drift of a 10 ms timer: when the loop is busy the timer fires late, and queued requests would
 * answer late too, so refusing fast (503) is kinder to the SSP than answering after tmax.
 * The lag decays when the loop recovers, so shedding stops by itself.
 */
export function createLoadShedder(options: LoadShedderOptions): LoadShedder {
  let lagMs = 0
  let expectedAt = performance.now() + TICK_MS
  const timer = setInterval(() => {
    const now = performance.now()
    lagMs = Math.max(0, now - expectedAt)
    expectedAt = now + TICK_MS
    options.onLag?.(lagMs)
  }, TICK_MS)
  timer.unref()
  return {
    shedReason(inFlight) {
      if (inFlight >= options.maxInFlight) return 'in_flight'
      // The timer may not have run while the loop was blocked: judge by how late it is now too.
      if (Math.max(lagMs, performance.now() - expectedAt) > options.maxEventLoopLagMs) return 'event_loop'
      return null
    },
    get lagMs() {
      return lagMs
    },
    stop() {
      clearInterval(timer)
    },
  }
}
