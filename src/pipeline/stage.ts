import type { StageName } from '../metrics/metrics.js'
import type { NoBidReason } from '../openrtb/types.js'
import type { AuctionContext } from './auction-context.js'

/** `undefined` lets the auction go on; a reason ends it with a no-bid answer. */
export type StageResult = NoBidReason | undefined

/**
 * One step of the auction pipeline. A stage writes only the AuctionContext fields it owns, keeps
 * no reference to the context after `run` settles, and returns expected outcomes (no bid, filtered
 * out) instead of throwing. A synchronous stage returns its result directly: no Promise, no
 * extra microtask.
 */
export interface Stage {
  readonly name: StageName
  /**
   * Runs even when the deadline has passed: the auction stage ranks what arrived in the time
   * kept back for it (auction.responseReserveMs). Every other stage is skipped once expired.
   */
  readonly runsPastDeadline?: boolean
  run(ctx: AuctionContext): StageResult | Promise<StageResult>
}
