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
  /**
   * How much sooner than its deadline an auction admitted now should plan to end: twice the
   * loop's recent lag. A request that arrives while the loop is busy has already waited about that
   * long in the socket before its handler ran (a wait its arrival time cannot see), and its
   * auction's timer will fire about that late. O(1), no allocation.
   */
  deadlineSlackMs(): number
  readonly lagMs: number
  stop(): void
}

const TICK_MS = 10
/** Per tick, the recent lag keeps this share of its value: a stall is remembered for ~50 ms. */
const RECENT_LAG_DECAY = 0.7
/** The most a deadline comes in, whatever the shed threshold (a tmax is ~100 ms). */
const MAX_SLACK_MS = 50

/**
 * Decides at the door whether a new auction can still be served in time. Lag is measured as the
 * drift of a 10 ms timer: when the loop is busy the timer fires late, and queued requests would
 * answer late too, so refusing fast (503) is kinder to the SSP than answering after tmax.
 * The lag decays when the loop recovers, so shedding stops by itself.
 */
export function createLoadShedder(options: LoadShedderOptions): LoadShedder {
  let lagMs = 0
  let recentLagMs = 0
  let expectedAt = performance.now() + TICK_MS
  const maxSlackMs = Math.min(2 * options.maxEventLoopLagMs, MAX_SLACK_MS)
  // Lag under a quarter of the shed threshold is jitter (a GC, a burst), not a loop too busy to
  // keep its timers: deadlines stay as they are (5 ms at the default 20 ms threshold).
  const slackFloorMs = options.maxEventLoopLagMs / 4
  const timer = setInterval(() => {
    const now = performance.now()
    lagMs = Math.max(0, now - expectedAt)
    recentLagMs = Math.max(lagMs, recentLagMs * RECENT_LAG_DECAY)
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
    deadlineSlackMs() {
      const lag = Math.max(recentLagMs, performance.now() - expectedAt)
      return lag < slackFloorMs ? 0 : Math.min(2 * lag, maxSlackMs)
    },
    get lagMs() {
      return lagMs
    },
    stop() {
      clearInterval(timer)
    },
  }
}
