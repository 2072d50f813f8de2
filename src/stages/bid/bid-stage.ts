import type { HouseCreative } from '../../catalog/house-catalog.js'
import type { Bid } from '../../openrtb/types.js'
import type { AuctionContext } from '../../pipeline/auction-context.js'
import type { Stage } from '../../pipeline/stage.js'
import type { DspEndpoint } from './dsp-endpoints.js'
import { FanOut, type FanOutEnv, type FanOutSettings } from './fan-out.js'
import { type ExchangeIdentity, OutboundBodies } from './outbound-bodies.js'
import { createTrafficShaper, type TrafficShaper } from './traffic-shaper.js'

export interface BidStageDeps {
  readonly dsps: readonly DspEndpoint[]
  readonly identity: ExchangeIdentity
  readonly settings: FanOutSettings
  readonly houseSeat: string
  /** Unique ids for the bids and transactions we create. */
  readonly nextId: () => string
  readonly onHouseBid: () => void
  /** Worker threads of this instance, each running its own bid stage (WORKERS); default 1. */
  readonly workers?: number
  /**
   * Who decides which DSPs an auction calls; built from `dsps` when absent. Pass one in to share
   * it, e.g. with the code that feeds it the live instance count (`setInstanceCount`).
   */
  readonly shaper?: TrafficShaper
}

export interface BidStage extends Stage {
  readonly shaper: TrafficShaper
}

/**
 * Collects the auction's candidates: the best eligible house creative per imp, and the bids of
 * every DSP the shaper lets through, under the auction's deadline. DSP failures are recorded
 * values, never exceptions: the auction goes on with whatever arrived in time.
 */
export function createBidStage(deps: BidStageDeps): BidStage {
  const { dsps, settings } = deps
  const shaper =
    deps.shaper ??
    createTrafficShaper(dsps, {
      minDspBudgetMs: settings.minDspBudgetMs,
      workersPerInstance: deps.workers ?? 1,
    })
  const env: FanOutEnv = { dsps, settings, shaper, bodies: new OutboundBodies(deps.identity, deps.nextId) }
  return {
    name: 'bid',
    shaper,
    run(ctx) {
      addHouseBids(ctx, deps)
      if (dsps.length === 0) return undefined
      return new FanOut(ctx, env).run()?.then(NO_RESULT)
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
