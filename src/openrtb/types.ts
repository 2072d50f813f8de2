/**
 * OpenRTB 2.6 types (from iab-openrtb) and the enums the exchange uses. Types only, no logic.
 * A validated request is typed as `BidRequest`; fields we do not read stay as the publisher sent them.
 */
export type {
  Audio,
  Banner,
  Bid,
  BidRequest,
  BidResponse,
  Deal,
  Format,
  Imp,
  Native,
  SeatBid,
  Video,
} from 'iab-openrtb/v26'

/** OpenRTB 2.6 §5.24 no-bid reason codes the exchange sends (`BidResponse.nbr`). */
export const NoBidReason = {
  UnknownError: 0,
  TechnicalError: 1,
  InvalidRequest: 2,
  KnownWebCrawler: 3,
  SuspectedNonHumanTraffic: 4,
  CloudDataCenterProxyIp: 5,
  UnsupportedDevice: 6,
  BlockedPublisherOrSite: 7,
  UnmatchedUser: 8,
  InsufficientAuctionTime: 15,
  /** Exchange-specific (500+): no eligible demand answered with a valid bid. */
  NoDemand: 500,
  /** Exchange-specific: the request accepts no currency the exchange transacts in. */
  UnsupportedCurrency: 502,
  /** Exchange-specific: shed at the door because the exchange is overloaded. */
  Overloaded: 501,
} as const
export type NoBidReason = (typeof NoBidReason)[keyof typeof NoBidReason]

/** Label values for metrics: one per NoBidReason, a closed set. */
export const NO_BID_REASON_LABEL: Readonly<Record<NoBidReason, string>> = {
  0: 'unknown_error',
  1: 'technical_error',
  2: 'invalid_request',
  3: 'known_web_crawler',
  4: 'non_human_traffic',
  5: 'datacenter_ip',
  6: 'unsupported_device',
  7: 'blocked_publisher',
  8: 'unmatched_user',
  15: 'insufficient_time',
  500: 'no_demand',
  501: 'overloaded',
  502: 'unsupported_currency',
}
