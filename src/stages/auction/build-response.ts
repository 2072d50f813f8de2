import type { Bid, NoBidReason } from '../../openrtb/types.js'
import type { AuctionContext, ImpWinner } from '../../pipeline/auction-context.js'

/**
 * The BidResponse JSON for an auction with at least one winner: `id` = request id, one seatbid per
 * seat, `cur` = the exchange currency. The winner's adm/nurl/burl/lurl get the OpenRTB auction
 * macros substituted, with the clearing price. `ext` (debug auctions only: the filter stage's
 * explanation) is written as the response's ext; ordinary auctions pass none.
 */
export function buildBidResponse(
  ctx: AuctionContext,
  currency: string,
  bidId: string,
  rewriteNotices?: (ctx: AuctionContext, winner: ImpWinner, bid: Bid) => void,
  ext?: Readonly<Record<string, unknown>>,
): string {
  const seats = new Map<string, Bid[]>()
  for (const winner of ctx.winners) {
    if (winner === null) continue
    const seat = winner.candidate.seat
    const bid = winningBid(ctx, winner, currency)
    // Our signed notice URLs, carrying the DSP's own (macros substituted) to forward to: pacing/notice-urls.ts
    rewriteNotices?.(ctx, winner, bid)
    const list = seats.get(seat)
    if (list === undefined) seats.set(seat, [bid])
    else list.push(bid)
  }
  const seatbid: { seat: string; bid: Bid[] }[] = []
  for (const [seat, bid] of seats) seatbid.push({ seat, bid })
  const id = ctx.request.id
  return JSON.stringify(
    ext === undefined
      ? { id, bidid: bidId, seatbid, cur: currency }
      : { id, bidid: bidId, seatbid, cur: currency, ext },
  )
}

/**
 * The answer to a debug auction (test: 1, ext.debug) that ends without a bid: instead of a bodiless
 * 204, a 200 BidResponse with no seat bids, the OpenRTB no-bid reason (`nbr`, as 2.5 §7.2 allows)
 * and the explanation in `ext`, so a publisher debugging an integration sees why.
 */
export function buildNoBidResponse(
  requestId: string,
  reason: NoBidReason,
  ext: Readonly<Record<string, unknown>> | undefined,
): string {
  return JSON.stringify(
    ext === undefined
      ? { id: requestId, seatbid: [], nbr: reason }
      : { id: requestId, seatbid: [], nbr: reason, ext },
  )
}

function winningBid(ctx: AuctionContext, winner: ImpWinner, currency: string): Bid {
  const c = winner.candidate
  const source = c.bid
  const macros: AuctionMacros = {
    auctionId: ctx.request.id,
    bidId: c.responseBidId ?? source.id,
    impId: ctx.request.imp[c.impIndex]!.id,
    seatId: c.seat,
    adId: typeof source.adid === 'string' ? source.adid : '',
    price: String(winner.price),
    currency,
  }
  const out: Bid = { ...source, price: winner.price }
  if (typeof source.adm === 'string') out.adm = substituteMacros(source.adm, macros)
  if (typeof source.nurl === 'string') out.nurl = substituteMacros(source.nurl, macros)
  if (typeof source.burl === 'string') out.burl = substituteMacros(source.burl, macros)
  if (typeof source.lurl === 'string') out.lurl = substituteMacros(source.lurl, macros)
  return out
}

export interface AuctionMacros {
  readonly auctionId: string
  readonly bidId: string
  readonly impId: string
  readonly seatId: string
  readonly adId: string
  readonly price: string
  readonly currency: string
}

const MACRO = /\$\{AUCTION_(ID|BID_ID|IMP_ID|SEAT_ID|AD_ID|PRICE|CURRENCY)\}/g

/** Replaces the OpenRTB 2.6 §4.4 substitution macros; other `${...}` text is left alone. */
export function substituteMacros(text: string, m: AuctionMacros): string {
  if (!text.includes('${AUCTION_')) return text
  return text.replace(MACRO, (_, name: string) => {
    switch (name) {
      case 'ID':
        return m.auctionId
      case 'BID_ID':
        return m.bidId
      case 'IMP_ID':
        return m.impId
      case 'SEAT_ID':
        return m.seatId
      case 'AD_ID':
        return m.adId
      case 'PRICE':
        return m.price
      default:
        return m.currency
    }
  })
}
