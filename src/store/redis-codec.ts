import type { AdRecord } from '../catalog/ad.js'
import { parseAdInput } from '../catalog/ad-input.js'
import type { ContextData, PublisherSettings, Sentiment } from './store.js'

/**
 * Key names and hash layouts in Dragonfly (DESIGN.md §4), in the `ad:` family operators already
 * write by hand with redis-cli. Reading is tolerant: a missing optional field takes its default,
 * a bad value makes the record unreadable (the caller skips it with a warning), never a crash.
 */
export const Keys = {
  /** Hash: id, title, category, clickURL, imageURL, price, sizes, adomain, campaign, targeting. */
  ad: (id: string) => `ad:metadata:${id}`,
  /** Set of ad ids. */
  category: (category: string) => `ad:category:${category}`,
  /** Set of every ad id, so loading the catalog needs no SCAN. */
  adIds: 'ad:ids',
  /** Set of categories. */
  userPreference: (userId: string) => `ad:user_preference:${userId}`,
  /** Hash: categories, flags, sentiment. */
  domainContext: (domain: string) => `ad:context:domain:${domain}`,
  pageContext: (url: string) => `ad:context:page:${url}`,
  /** Hash: floor, bcat, badv. */
  publisher: (id: string) => `ad:publisher:${id}`,
  /** INCR counter, bumped on every catalog write. */
  catalogVersion: 'ad:catalog:version',
  /** Pub/sub channel; the message is the new catalog version. */
  catalogEvents: 'ad:catalog:events',
} as const

/** Micros to a decimal CPM string, exactly: 2_500_000 → "2.50", 1_234_567 → "1.234567". */
export function microsToPrice(micros: number): string {
  const whole = Math.floor(micros / 1_000_000)
  let fraction = String(micros % 1_000_000).padStart(6, '0')
  while (fraction.length > 2 && fraction.endsWith('0')) fraction = fraction.slice(0, -1)
  return `${whole}.${fraction}`
}

/** The hash fields of an ad, as HSET arguments. A null campaign is left out. */
export function adToHash(ad: AdRecord): Record<string, string> {
  const hash: Record<string, string> = {
    id: ad.id,
    title: ad.title,
    category: ad.category,
    clickURL: ad.clickUrl,
    imageURL: ad.imageUrl,
    price: microsToPrice(ad.cpmMicros),
    sizes: ad.sizes.map((s) => `${s.w}x${s.h}`).join(','),
    adomain: ad.advertiserDomain,
    targeting: JSON.stringify(ad.targeting),
  }
  if (ad.campaignId !== null) hash['campaign'] = ad.campaignId
  return hash
}

/**
 * Reads an `ad:metadata:ID` hash. The id comes from the key (a hand-written hash may lack it).
 * Defaults: title = id, adomain = '', campaign = none, targeting = none. Required: category,
 * clickURL, imageURL, price, sizes. Validation is the admin API's (parseAdInput), so an ad the API
 * would refuse is refused here too.
 */
export function hashToAd(
  id: string,
  hash: Record<string, string>,
): { ad: AdRecord } | { problems: string[] } {
  let targeting: unknown // absent = no targeting (parseAdInput's default)
  const rawTargeting = hash['targeting']
  if (rawTargeting !== undefined && rawTargeting.trim() !== '') {
    try {
      targeting = JSON.parse(rawTargeting)
    } catch {
      return { problems: ['targeting is not valid JSON'] }
    }
  }
  const campaign = hash['campaign']
  return parseAdInput({
    id,
    title: nonEmpty(hash['title']) ?? id,
    category: hash['category'],
    clickURL: hash['clickURL'] ?? hash['clickUrl'],
    imageURL: hash['imageURL'] ?? hash['imageUrl'],
    price: hash['price'],
    sizes: hash['sizes'],
    adomain: nonEmpty(hash['adomain']), // absent = no advertiser domain
    campaign: campaign === undefined || campaign === '' ? null : campaign,
    targeting,
  })
}

export function contextToHash(data: ContextData): Record<string, string> {
  return {
    categories: data.categories.join(','),
    flags: data.brandSafetyFlags.join(','),
    sentiment: data.sentiment ?? '',
  }
}

/** Fields in HMGET order: categories, flags, sentiment. Missing fields are empty. */
export const CONTEXT_FIELDS = ['categories', 'flags', 'sentiment'] as const

export function fieldsToContext(
  categories: string | null | undefined,
  flags: string | null | undefined,
  sentiment: string | null | undefined,
): ContextData {
  return {
    categories: commaList(categories),
    brandSafetyFlags: commaList(flags),
    sentiment: toSentiment(sentiment),
  }
}

export function publisherToHash(settings: PublisherSettings): Record<string, string> {
  return {
    floor: settings.floorCpm === null ? '' : String(settings.floorCpm),
    bcat: settings.bcat.join(','),
    badv: settings.badv.join(','),
  }
}

/** Fields in HMGET order: floor, bcat, badv. */
export const PUBLISHER_FIELDS = ['floor', 'bcat', 'badv'] as const

/** A floor that is not a non-negative number reads as "no floor" (the auction keeps the imp's own). */
export function fieldsToPublisher(
  floor: string | null | undefined,
  bcat: string | null | undefined,
  badv: string | null | undefined,
): PublisherSettings {
  return { floorCpm: toFloor(floor), bcat: commaList(bcat), badv: commaList(badv) }
}

/** "IAB1, IAB2,,IAB3" → ['IAB1', 'IAB2', 'IAB3']. */
export function commaList(value: string | null | undefined): readonly string[] {
  if (value === null || value === undefined || value === '') return NO_STRINGS
  const out: string[] = []
  for (const part of value.split(',')) {
    const item = part.trim()
    if (item !== '') out.push(item)
  }
  return out.length === 0 ? NO_STRINGS : out
}

const NO_STRINGS: readonly string[] = Object.freeze([])

function toSentiment(value: string | null | undefined): Sentiment | null {
  const s = value?.trim().toLowerCase()
  return s === 'positive' || s === 'neutral' || s === 'negative' ? s : null
}

function toFloor(value: string | null | undefined): number | null {
  if (value === null || value === undefined || value.trim() === '') return null
  const n = Number(value)
  return Number.isFinite(n) && n >= 0 ? n : null
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value
}
