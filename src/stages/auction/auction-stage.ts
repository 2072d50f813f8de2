import { NoBidReason } from '../../openrtb/types.js'
import type { CandidateBid, ImpWinner } from '../../pipeline/auction-context.js'
import type { Stage } from '../../pipeline/stage.js'
import { pickWinner, rejectBid } from './rank-bids.js'

export interface AuctionStageDeps {
  readonly priceIncrement: number
  /** Called for each bid dropped by validation, with the DSP index (-1 = house). */
  readonly onRejected: (dspIndex: number) => void
  readonly onWon: (candidate: CandidateBid) => void
}

/**
 * Runs one auction per imp over the house and DSP candidates: validation (imp, price, floor,
 * deals, blocks), then first or second price. Ends with NoDemand when no imp has a winner.
 */
export function createAuctionStage(deps: AuctionStageDeps): Stage {
  return {
    name: 'auction',
    runsPastDeadline: true,
    run(ctx) {
      const imps = ctx.request.imp
      const byImp: CandidateBid[][] = new Array(imps.length)
      for (let i = 0; i < imps.length; i++) byImp[i] = []
      for (const c of ctx.bids) {
        if (rejectBid(c, ctx.request, c.impIndex >= 0 ? ctx.floors[c.impIndex]! : 0, ctx.signals) === null) {
          byImp[c.impIndex]!.push(c)
        } else {
          deps.onRejected(c.dspIndex)
        }
      }
      const auctionType = ctx.request.at ?? 2
      const winners: (ImpWinner | null)[] = new Array(imps.length)
      let won = 0
      for (let i = 0; i < imps.length; i++) {
        const floor = Math.max(0, ctx.floors[i] ?? 0)
        const winner = pickWinner(byImp[i]!, { auctionType, floor, increment: deps.priceIncrement })
        winners[i] = winner
        if (winner !== null) {
          won++
          deps.onWon(winner.candidate)
        }
      }
      ctx.winners = winners
      return won === 0 ? NoBidReason.NoDemand : undefined
    },
  }
}
