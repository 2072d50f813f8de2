/**
 * A house ad as ad operations define it (admin API, seed file or `ad:metadata:ID` hash in Dragonfly).
 * The first six fields are the ones publishers of this data already use; the rest drive selection.
 * Money is integer micros of the exchange currency (1 USD CPM = 1_000_000).
 */
export interface AdRecord {
  readonly id: string
  readonly title: string
  /** IAB content category of the ad (e.g. "IAB1"); matched against user and page categories. */
  readonly category: string
  readonly clickUrl: string
  readonly imageUrl: string
  /** Price the advertiser pays per thousand impressions, in micros. */
  readonly cpmMicros: number
  /** Banner sizes the creative fits. */
  readonly sizes: readonly AdSize[]
  /** Advertiser domain, checked against the request's `badv`. */
  readonly advertiserDomain: string
  /** Campaign the ad spends from; null = not paced. */
  readonly campaignId: string | null
  readonly targeting: AdTargeting
}

export interface AdSize {
  readonly w: number
  readonly h: number
}

/** Every list is "any" when empty. */
export interface AdTargeting {
  /** ISO-3166-1 alpha-3 country codes (OpenRTB geo.country). */
  readonly countries: readonly string[]
  /** OpenRTB device types. */
  readonly deviceTypes: readonly number[]
  /** Serve only to users or pages in these categories; empty = anywhere. */
  readonly categories: readonly string[]
  /** Site domains never to serve on. */
  readonly blockedDomains: readonly string[]
  /** Refuse pages flagged unsafe by contextual data. */
  readonly brandSafe: boolean
  /** Creative attributes (OpenRTB / AdCOM list), checked against `battr`. */
  readonly attributes: readonly number[]
}

export const EMPTY_TARGETING: AdTargeting = Object.freeze({
  countries: [],
  deviceTypes: [],
  categories: [],
  blockedDomains: [],
  brandSafe: false,
  attributes: [],
})
