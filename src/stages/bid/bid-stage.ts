import type { HouseCreative } from '../../catalog/house-catalog.js'
import type { Bid } from '../../openrtb/types.js'
import type { AuctionContext } from '../../pipeline/auction-context.js'
import type { Stage } from '../../pipeline/stage.js'
import type { DspEndpoint } from './dsp-endpoints.js'
import { FanOut, type FanOutSettings } from './fan-out.js'
import { type ExchangeIdentity, serialiseOutbound } from './openrtb-adapter.js'

export interface BidStageDeps {
  readonly dsps: readonly DspEndpoint[]
  readonly identity: ExchangeIdentity
  readonly settings: FanOutSettings
  readonly houseSeat: string
  /** Unique ids for the bids and transactions we create. */
  readonly nextId: () => string
  readonly onHouseBid: () => void
}

/**
 * Collects the auction's candidates: the best eligible house creative per imp, and the bids of
 * every DSP called, under the auction's deadline. DSP failures are recorded values, never
 * exceptions: the auction goes on with whatever arrived in time.
 */
export function createBidStage(deps: BidStageDeps): Stage {
  const { dsps, identity, settings } = deps
  return {
    name: 'bid',
    run(ctx) {
      addHouseBids(ctx, deps)
      if (
        dsps.length === 0 ||
        ctx.deadline.remainingMs() < settings.minDspBudgetMs + settings.networkBufferMs
      ) {
        return undefined
      }
      const open = serialiseOutbound(ctx, identity, deps.nextId())
      return new FanOut(ctx, settings).run(dsps, open).then(NO_RESULT)
    },
  }
}

const NO_RESULT = (): undefined => undefined

function addHouseBids(ctx: AuctionContext, deps: BidStageDeps): void {
  const houseAds = ctx.houseAds
  for (let i = 0; i < houseAds.length; i++) {
    const best = houseAds[i]![0]
    if (best === undefined) continue
    ctx.bids.push({
      impIndex: i,
      price: best.priceCpm,
      bid: houseBid(best, ctx.request.imp[i]!.id, deps.nextId()),
      seat: deps.houseSeat,
      dspIndex: -1,
      responseBidId: null,
      ad: best.ad,
    })
    deps.onHouseBid()
  }
}

function houseBid(c: HouseCreative, impid: string, id: string): Bid {
  return {
    id,
    impid,
    price: c.priceCpm,
    adid: c.ad.id,
    crid: c.ad.id,
    adomain: [c.ad.advertiserDomain],
    cat: [c.ad.category],
    w: c.w,
    h: c.h,
    adm: c.adm,
  } as Bid
}
