import type { AdRecord } from '../catalog/ad.js'
import type { HouseCreative } from '../catalog/house-catalog.js'
import type { Bid, BidRequest } from '../openrtb/types.js'
import type { Reservation } from '../pacing/campaign-lease.js'
import type { FrequencyCounts } from '../pacing/frequency.js'
import type { Deadline } from './deadline.js'

/**
 * What the decorate stage learned about the request: store data merged with the request's own
 * fields, in the form the later stages read. Lists are small; `includes` beats a Set at that size.
 */
export interface RequestSignals {
  /** Categories the user prefers (ad:user_preference:USER). */
  readonly userCategories: readonly string[]
  /** Page and domain categories: contextual data plus site.cat/pagecat/sectioncat. */
  readonly pageCategories: readonly string[]
  /** Contextual data flagged the page or domain as unsafe for brand-safe ads. */
  readonly brandUnsafe: boolean
  /** Publisher floor (CPM, exchange currency); 0 when none. */
  readonly publisherFloorCpm: number
  /** The request's bcat/badv merged with the publisher's settings. */
  readonly bcat: readonly string[]
  readonly badv: readonly string[]
  /** The store could not be read in time: capped or personalised demand must not rely on it. */
  readonly degraded: boolean
  /** The user's frequency counters; absent or null = unknown (no user id, store unread): capped ads stay out. */
  readonly frequency?: FrequencyCounts | null
}

export const EMPTY_LIST: readonly never[] = Object.freeze([])

/** A bid that takes part in the auction: from a DSP, or a house ad priced by its CPM. */
export interface CandidateBid {
  readonly impIndex: number
  /** CPM in the exchange currency. */
  readonly price: number
  /** The OpenRTB bid as the DSP sent it, or as built for a house ad. */
  readonly bid: Bid
  readonly seat: string
  /** Index of the DSP in config order; -1 for a house ad. */
  readonly dspIndex: number
  /** The DSP's BidResponse.bidid, for ${AUCTION_BID_ID}. */
  readonly responseBidId: string | null
  readonly ad: AdRecord | null
}

/** The winner of one imp and what it pays. */
export interface ImpWinner {
  readonly candidate: CandidateBid
  /** Clearing price, CPM, exchange currency. */
  readonly price: number
}

/**
 * Everything one auction knows. Every field is assigned at construction so all contexts share one
 * hidden class; each stage fills in the fields it owns.
 */
export class AuctionContext {
  /** decorate */
  signals: RequestSignals | null = null
  /** decorate: per imp, the floor in force (max of imp.bidfloor and the publisher floor); -1 = unbiddable. */
  floors: number[] = []
  /** filter: per imp, eligible house creatives, best first (a few at most). */
  houseAds: HouseCreative[][] = []
  /** pace: per imp, the house impression reserved for it; null until the pace stage reserves one. */
  reservations: (Reservation | null)[] | null = null
  /** bid: DSP and house candidates. */
  readonly bids: CandidateBid[] = []
  /** bid: how many DSPs were called. */
  dspCalls = 0
  /** bid: how long the auction waited for DSP answers (ms; set by the fan-out), for the exchange-added latency. */
  dspWaitMs = 0
  /** auction: per imp, the winner or null. */
  winners: (ImpWinner | null)[] = []

  constructor(
    readonly request: BidRequest,
    readonly deadline: Deadline,
    /** performance.now() at arrival. */
    readonly receivedAt: number,
  ) {}
}
