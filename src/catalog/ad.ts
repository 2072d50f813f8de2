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
  /** How the creative renders; 'banner' when absent. A video ad fills imp.video at its sizes. */
  readonly mediaType?: AdMediaType
  /** Only 'active' ads serve; 'active' when absent. */
  readonly status?: AdStatus
  /** Serve only inside this window; open-ended when absent. */
  readonly flight?: AdFlight
}

export type AdMediaType = 'banner' | 'video'
export const AD_MEDIA_TYPES: readonly AdMediaType[] = ['banner', 'video']

export type AdStatus = 'active' | 'paused' | 'archived'
export const AD_STATUSES: readonly AdStatus[] = ['active', 'paused', 'archived']

/** Epoch milliseconds; start inclusive, end exclusive; a missing end never ends. */
export interface AdFlight {
  readonly startMs?: number
  readonly endMs?: number
}

/**
 * Hours of the week an ad serves. Read in the user's timezone (geo.utcoffset; UTC when the request
 * does not say) or at a fixed UTC offset. Fixed offsets, not IANA zones: the check stays a table
 * lookup, and operators who need DST write two flights.
 */
export interface AdDaypart {
  /** 0 = Sunday … 6 = Saturday; empty = every day. */
  readonly days: readonly number[]
  /** 0–23; empty = every hour. */
  readonly hours: readonly number[]
  /** Minutes east of UTC, or 'user'. */
  readonly utcOffsetMinutes: number | 'user'
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
  /** "USA-CA": the request's geo.country, a dash, geo.region. */
  readonly regions?: readonly string[]
  /** device.os, compared case-insensitively ("iOS", "Android"). */
  readonly os?: readonly string[]
  /** Serve only on these site domains or app bundles. */
  readonly domains?: readonly string[]
  /** Serve only for these publisher ids (site/app.publisher.id). */
  readonly publishers?: readonly string[]
  readonly blockedPublishers?: readonly string[]
  /** Page and context categories (site.cat/pagecat + contextual data); any one matches. */
  readonly pageCategories?: readonly string[]
  /** The user's preferred categories (ad:user_preference:USER); any one matches. */
  readonly userCategories?: readonly string[]
  readonly daypart?: AdDaypart
  /**
   * Key-values the placement must carry: every key listed must have one of its values in imp.ext
   * (first) or site.ext / app.ext. E.g. { section: ['sports', 'news'] }.
   */
  readonly keyValues?: Readonly<Record<string, readonly string[]>>
}

export const EMPTY_TARGETING: AdTargeting = Object.freeze({
  countries: [],
  deviceTypes: [],
  categories: [],
  blockedDomains: [],
  brandSafe: false,
  attributes: [],
  regions: [],
  os: [],
  domains: [],
  publishers: [],
  blockedPublishers: [],
  pageCategories: [],
  userCategories: [],
  keyValues: {},
})
