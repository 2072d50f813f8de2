import type { HistogramChild } from '../metrics/metrics.js'
import { NoBidReason } from '../openrtb/types.js'
import type { AuctionContext } from './auction-context.js'
import type { Stage, StageResult } from './stage.js'

/**
 * Runs the stages in order, timing each, and stops at the first no-bid or at the deadline
 * (the fan-out ends at the deadline; the auction stage then runs in the reserve kept after it).
 * It awaits only when a stage actually returned a promise, so synchronous stages run back to back.
 */
export async function runPipeline(
  stages: readonly Stage[],
  timers: readonly HistogramChild[],
  ctx: AuctionContext,
): Promise<StageResult> {
  for (let i = 0; i < stages.length; i++) {
    const stage = stages[i]!
    if (stage.runsPastDeadline !== true && ctx.deadline.isExpired())
      return NoBidReason.InsufficientAuctionTime
    const startedAt = performance.now()
    let result = stage.run(ctx)
    if (result instanceof Promise) result = await result
    timers[i]!.observe((performance.now() - startedAt) / 1000)
    if (result !== undefined) return result
  }
  return undefined
}
