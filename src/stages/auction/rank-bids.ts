import type { Bid, BidRequest, Deal, Imp } from '../../openrtb/types.js'
import type { CandidateBid, ImpWinner, RequestSignals } from '../../pipeline/auction-context.js'

/** Why a bid was dropped before ranking; counted per DSP. */
export type BidRejection =
  | 'unknown_imp'
  | 'bad_price'
  | 'below_floor'
  | 'missing_fields'
  | 'blocked_adomain'
  | 'blocked_category'
  | 'blocked_attribute'
  | 'deal_required'
  | 'unknown_deal'
  | 'seat_not_allowed'
  | 'malformed_field'

/**
 * Checks one candidate against its imp. Returns null when the bid may compete. `floor` is the
 * floor in force for the imp (request and publisher merged); a deal bid is held to its deal's floor.
 */
export function rejectBid(
  c: CandidateBid,
  req: BidRequest,
  floor: number,
  signals: RequestSignals | null,
): BidRejection | null {
  if (c.impIndex < 0) return 'unknown_imp'
  const imp = req.imp[c.impIndex]!
  const bid = c.bid
  if (typeof bid.id !== 'string' || bid.id === '') return 'missing_fields'
  if (typeof bid.adm !== 'string' && typeof bid.nurl !== 'string') return 'missing_fields'
  if (!(c.price > 0) || !(c.price <= MAX_BID_CPM)) return 'bad_price'
  // The block checks read these as lists: a string or null in their place could slip a blocked
  // advertiser or category past them, so such a bid is refused outright.
  if (!isListOrAbsent(bid.adomain) || !isListOrAbsent(bid.cat) || !isListOrAbsent(bid.attr))
    return 'malformed_field'
  // A bid nested deeper than any real one (e.g. a hostile ext) could not even be serialised into
  // our answer: JSON.stringify would overflow the stack.
  if (isDeeperThan(bid, MAX_BID_DEPTH)) return 'malformed_field'
  const deal = dealOf(imp, bid)
  if (deal === UNKNOWN_DEAL) return 'unknown_deal'
  if (deal === null && imp.pmp?.private_auction === 1) return 'deal_required'
  if (deal !== null && deal.wseat !== undefined && deal.wseat.length > 0 && !deal.wseat.includes(c.seat)) {
    return 'seat_not_allowed'
  }
  const effectiveFloor = deal?.bidfloor !== undefined && deal.bidfloor > 0 ? deal.bidfloor : floor
  if (floor < 0 || c.price < effectiveFloor) return 'below_floor'
  const badv = signals?.badv ?? req.badv
  if (badv !== undefined && badv.length > 0 && anyIn(bid.adomain, badv)) return 'blocked_adomain'
  const bcat = signals?.bcat ?? req.bcat
  if (bcat !== undefined && bcat.length > 0 && anyIn(bid.cat, bcat)) return 'blocked_category'
  const battr = (imp.banner?.battr ?? imp.video?.battr ?? imp.audio?.battr) as readonly number[] | undefined
  if (battr !== undefined && battr.length > 0 && anyIn(bid.attr as number[] | undefined, battr))
    return 'blocked_attribute'
  return null
}

const UNKNOWN_DEAL = Object.freeze({ id: '' }) as Deal

/** The deal a bid claims, null when it claims none, UNKNOWN_DEAL when the imp has no such deal. */
function dealOf(imp: Imp, bid: Bid): Deal | null {
  if (bid.dealid === undefined || bid.dealid === '') return null
  const deals = imp.pmp?.deals
  if (deals !== undefined) for (const d of deals) if (d.id === bid.dealid) return d
  return UNKNOWN_DEAL
}

/**
 * No real CPM comes near this (in the exchange currency); a bid above it is a DSP bug (or 1e308),
 * and its price would not survive the integer-micros arithmetic of billing.
 */
export const MAX_BID_CPM = 10_000

const MAX_BID_DEPTH = 16

/** Whether objects/arrays nest deeper than `maxDepth` below `value`; stops at that depth. */
function isDeeperThan(value: unknown, maxDepth: number): boolean {
  if (typeof value !== 'object' || value === null) return false
  if (maxDepth === 0) return true
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) if (isDeeperThan(value[i], maxDepth - 1)) return true
    return false
  }
  for (const key in value)
    if (isDeeperThan((value as Record<string, unknown>)[key], maxDepth - 1)) return true
  return false
}

function isListOrAbsent(v: unknown): boolean {
  return v === undefined || Array.isArray(v)
}

function anyIn<T>(values: readonly T[] | undefined, blocked: readonly T[]): boolean {
  if (values === undefined) return false
  for (let i = 0; i < values.length; i++) if (blocked.includes(values[i]!)) return true
  return false
}

export interface PricingRules {
  /** OpenRTB `at`: 1 first price, 2 second price plus, 3 fixed (deal) price; absent = 2. */
  readonly auctionType: number
  readonly floor: number
  readonly increment: number
}

/**
 * Picks the winner of one imp among its valid candidates (highest price; ties go to the earliest
 * arrival, house ads first) and sets the clearing price:
 *   at=1 (and exchange-specific types ≥ 500): the winning bid;
 *   at=2: max(second-highest bid, floor) + increment, never above the winning bid;
 *   at=3: the floor (the deal's fixed price), never above the winning bid.
 */
export function pickWinner(valid: readonly CandidateBid[], rules: PricingRules): ImpWinner | null {
  if (valid.length === 0) return null
  let best = valid[0]!
  let secondPrice = 0
  for (let i = 1; i < valid.length; i++) {
    const c = valid[i]!
    if (c.price > best.price) {
      secondPrice = best.price
      best = c
    } else if (c.price > secondPrice) {
      secondPrice = c.price
    }
  }
  return { candidate: best, price: clearingPrice(best.price, secondPrice, rules) }
}

function clearingPrice(winning: number, second: number, rules: PricingRules): number {
  if (rules.auctionType === 2)
    return roundCpm(Math.min(winning, Math.max(second, rules.floor) + rules.increment))
  if (rules.auctionType === 3) return roundCpm(Math.min(winning, rules.floor > 0 ? rules.floor : winning))
  return winning
}

/** CPMs are quoted to 1/10,000 of the currency unit; this removes float dust like 1.2100000000000002. */
function roundCpm(v: number): number {
  return Math.round(v * 10_000) / 10_000
}
