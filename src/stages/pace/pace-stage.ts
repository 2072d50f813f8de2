import type { HouseCreative } from '../../catalog/house-catalog.js'
import { impressionCostMicros, isLive } from '../../pacing/campaign.js'
import type { Reservation } from '../../pacing/campaign-lease.js'
import { isCapReached } from '../../pacing/frequency.js'
import type { LeaseManager } from '../../pacing/lease-manager.js'
import { LocalFrequency } from '../../pacing/local-frequency.js'
import type { NoticeRewriter } from '../../pacing/notice-urls.js'
import type { AuctionContext } from '../../pipeline/auction-context.js'
import type { Stage } from '../../pipeline/stage.js'

export interface PaceStageDeps {
  readonly leases: LeaseManager
}

/** What the exchange needs from pacing: the leases, and the notice URLs written into responses. */
export interface PacingHooks {
  readonly leases: LeaseManager
  readonly rewriteNotices: NoticeRewriter
}

/**
 * Between filter and bid: per imp, walks the eligible house creatives best first and keeps the first
 * whose campaign may serve now (known, live, under its frequency caps, let through by its pacing
 * rate) and can pay, reserving its maximum cost (one impression at the ad's CPM) from this
 * instance's lease. No store round trip: Map lookups and integer math. Ads without a campaign are
 * not paced. The auction later releases the reservations of imps the house ad did not win.
 */
export function createPaceStage(deps: PaceStageDeps): Stage {
  const { leases } = deps
  return {
    name: 'pace',
    run(ctx) {
      const houseAds = ctx.houseAds
      let nowMs = -1
      for (let i = 0; i < houseAds.length; i++) {
        const list = houseAds[i]!
        if (list.length === 0) continue
        if (nowMs < 0) nowMs = leases.now()
        const chosen = choose(ctx, i, list, leases, nowMs)
        if (chosen === null) houseAds[i] = []
        else if (list.length > 1 || list[0] !== chosen) houseAds[i] = [chosen]
      }
      return undefined
    },
  }
}

function choose(
  ctx: AuctionContext,
  impIndex: number,
  list: readonly HouseCreative[],
  leases: LeaseManager,
  nowMs: number,
): HouseCreative | null {
  for (let j = 0; j < list.length; j++) {
    const c = list[j]!
    const campaignId = c.ad.campaignId
    if (campaignId === null) return c
    const lease = leases.campaign(campaignId)
    if (lease === undefined) {
      leases.skip('unknown_campaign')
      continue
    }
    if (!isLive(lease.campaign, nowMs)) {
      leases.skip('inactive')
      continue
    }
    let capKey: string | null = null
    if (lease.caps.length > 0) {
      const counts = ctx.signals?.frequency ?? null
      const userId = ctx.request.user?.id
      if (counts === null || userId === undefined || userId === '') {
        leases.skip('fcap_unavailable')
        continue
      }
      capKey = LocalFrequency.key(campaignId, userId)
      if (isCapReached(lease.caps, counts.get(campaignId), leases.frequency.extra(capKey, counts.readAtMs))) {
        leases.skip('fcap')
        continue
      }
    }
    if (!lease.participates()) {
      leases.skip('paced')
      continue
    }
    const cost = impressionCostMicros(c.ad.cpmMicros)
    if (lease.isBudgeted && (!leases.canSpend(nowMs) || !lease.tryReserve(cost, nowMs))) {
      if (lease.needsRefill) leases.requestRefill()
      leases.skip('no_budget')
      continue
    }
    const r = leases.newReservation(lease, c.ad, cost, capKey)
    const held = (ctx.reservations ??= new Array<Reservation | null>(ctx.houseAds.length).fill(null))
    held[impIndex] = r
    return c
  }
  return null
}

/**
 * After the auction (or when it ended early): a reservation whose house ad won its imp waits for the
 * billing notice; every other one is released at once. `isAnswered` false = no response will carry
 * a notice URL (no-bid, error), so everything is released.
 */
export function settleReservations(ctx: AuctionContext, leases: LeaseManager, isAnswered: boolean): void {
  const held = ctx.reservations
  if (held === null) return
  let nowMs = -1
  for (let i = 0; i < held.length; i++) {
    const r = held[i]
    if (r === null || r === undefined) continue
    const winner = isAnswered ? ctx.winners[i] : null
    if (winner != null && winner.candidate.dspIndex === -1 && winner.candidate.ad === r.ad) {
      if (nowMs < 0) nowMs = leases.now()
      leases.markWon(r, nowMs)
    } else {
      leases.release(r)
      held[i] = null
    }
  }
}
