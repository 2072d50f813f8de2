import type { AdDaypart, AdMediaType, AdRecord, AdSize, AdTargeting } from './ad.js'
import { orInto, setBit, wordsFor } from './bitset.js'
import type { HouseCreative } from './house-catalog.js'
import { type CompiledPolicies, compilePolicies } from './policy-index.js'
import type { PolicyRule } from './policy-rule.js'

/** Daypart offset column value meaning "the user's timezone" (geo.utcoffset). */
export const USER_TIMEZONE = 0x7fffffff
/** Words of the 168-bit hour-of-week mask kept per ad. */
export const DAYPART_WORDS = 6

/**
 * One targetable dimension. `any`: the ads that leave it open. `postings`: per value, the ads that
 * serve where the request has that value (those that list it, plus `any`), so a request's check is
 * one bitset, not two.
 */
export interface AllowDimension {
  readonly any: Uint32Array
  readonly postings: ReadonlyMap<string, Uint32Array>
}

/**
 * Per ad, a short list of interned values (CSR: ad `a` has values[start[a] .. start[a+1])), for
 * dimensions few ads restrict. A compact column stays in cache where a bitset per value would not,
 * and the check runs only on candidates the bitset terms left.
 */
export interface AdValueLists {
  readonly ids: ReadonlyMap<string, number>
  readonly start: Int32Array
  readonly values: Int32Array
}

/** Creatives of one format: ordinals [start, end), best-paying first. */
export interface FormatRange {
  readonly start: number
  readonly end: number
}

/** An ad as the filters' per-ad checks read it: every list present, OS lower-cased. */
export interface AdFacts {
  readonly record: AdRecord
  readonly ordinal: number
  readonly priceCpm: number
  readonly mediaType: AdMediaType
  readonly isActive: boolean
  readonly countries: readonly string[]
  readonly regions: readonly string[]
  readonly deviceTypes: readonly number[]
  readonly os: readonly string[]
  readonly domains: readonly string[]
  readonly blockedDomains: readonly string[]
  readonly publishers: readonly string[]
  readonly blockedPublishers: readonly string[]
  readonly pageCategories: readonly string[]
  readonly userCategories: readonly string[]
  /** The ad's category plus targeting.categories: what "relevant to this user or page" matches. */
  readonly relevanceCategories: readonly string[]
  readonly attributes: readonly number[]
  readonly flightStartMs: number
  readonly flightEndMs: number
  readonly daypart: AdDaypart | null
  readonly keyValues: readonly (readonly [string, readonly string[]])[]
}

/**
 * Key-value constraints in CSR form: ad `a` has constraints [adStart[a], adStart[a+1]); constraint
 * `c` wants key `conKey[c]` to carry one of values[conValStart[c] .. conValStart[c+1]).
 * Keys and values are interned to small integers when the catalog is built.
 */
export interface KeyValueIndex {
  readonly keys: readonly string[]
  readonly valueIds: ReadonlyMap<string, number>
  readonly adStart: Int32Array
  readonly conKey: Int32Array
  readonly conValStart: Int32Array
  readonly values: Int32Array
}

/**
 * The catalog compiled for selection, built when the catalog changes and never mutated after.
 *
 * Creatives (one per ad and format) get ordinals grouped by format, each group sorted best-paying
 * first, so a format's candidates are one contiguous run of bits and a floor is a cut-off in it.
 * Dimensions most ads restrict (country, device type, categories, brand safety, status) and the
 * policy rules are bitsets over those ordinals: an inverted index, one bitset per value.
 * Dimensions few ads restrict (region, OS, site, publisher, block lists) are short per-ad lists,
 * and what bitsets cannot hold (time, key-values, viewability, ids for bcat/badv, attribute bits)
 * typed-array columns.
 */
export interface CatalogIndex {
  readonly creativeCount: number
  /** Ordinals in use, gaps between format runs included (see RUN_ALIGN). */
  readonly ordinalCount: number
  readonly wordCount: number
  /** By ordinal; undefined in the gaps between runs. */
  readonly creatives: readonly (HouseCreative | undefined)[]
  /** Ordinal → ad ordinal (ads are ranked by price, then id); -1 in the gaps. */
  readonly creativeAd: Int32Array
  readonly creativePriceCpm: Float64Array
  /** Ordinal → index into AD_MEDIA_TYPES, w, h of the creative. */
  readonly creativeMedia: Uint8Array
  readonly creativeW: Int32Array
  readonly creativeH: Int32Array
  readonly ads: readonly AdFacts[]
  readonly formats: ReadonlyMap<number, FormatRange>
  /** Every ordinal, ads in rank order: the walk a scan without indexes takes. */
  readonly byRank: Int32Array
  /** Ad `a`'s creatives are byRank[adOrdStart[a] .. adOrdStart[a + 1]). */
  readonly adOrdStart: Int32Array

  readonly country: AllowDimension
  readonly pageCategory: AllowDimension
  readonly userCategory: AllowDimension
  /** Device types are small integers: postings by number (with the open ads folded in, as above). */
  readonly deviceTypeAny: Uint32Array
  readonly deviceType: ReadonlyMap<number, Uint32Array>
  /** Ads whose category or targeting.categories is the key. */
  readonly relevance: ReadonlyMap<string, Uint32Array>
  /** Ads with no targeting.categories: what serves when no category is known. */
  readonly relevanceUntargeted: Uint32Array
  /** Allow lists (region "USA-CA", OS lower-cased, site domain, publisher id) and block lists. */
  readonly regionLists: AdValueLists
  readonly osLists: AdValueLists
  readonly domainLists: AdValueLists
  readonly publisherLists: AdValueLists
  readonly blockedDomainLists: AdValueLists
  readonly blockedPublisherLists: AdValueLists
  readonly category: ReadonlyMap<string, Uint32Array>
  readonly attribute: ReadonlyMap<number, Uint32Array>
  /** null when no ad is brand-safe: the filter has nothing to do. */
  readonly brandSafe: Uint32Array | null
  /**
   * Per ad, which kinds of restriction it carries (RESTRICTION bits): a filter that reads only
   * one of them (an allow list, a block list, key-values, attributes) cannot reject an ad without
   * it, so a batch of candidates none of which has it skips that filter.
   */
  readonly adRestrictions: Uint32Array
  /** Per ad, 1 when its status lets it serve. */
  readonly adIsActive: Uint8Array
  readonly hasInactiveAds: boolean
  /** The creatives of paused and archived ads; null when every ad is active. */
  readonly inactive: Uint32Array | null

  /** Categories and advertisers as small integers: a request's bcat/badv become lookup tables. */
  readonly categoryIds: ReadonlyMap<string, number>
  readonly advertiserIds: ReadonlyMap<string, number>
  readonly adCategory: Int32Array
  readonly adAdvertiser: Int32Array
  /** Per ad, its creative attributes below 32 as bits (AdCOM defines 1–17); others are in AdFacts. */
  readonly adAttributeMask: Uint32Array

  readonly hasFlights: boolean
  readonly flightStartMs: Float64Array
  readonly flightEndMs: Float64Array
  readonly hasDayparts: boolean
  /** Per ad, DAYPART_WORDS words of hour-of-week bits (0 = Sunday 00:00); offset in minutes or USER_TIMEZONE. */
  readonly daypartMask: Uint32Array
  readonly daypartOffsetMinutes: Int32Array
  readonly hasDaypart: Uint8Array
  readonly keyValues: KeyValueIndex
  readonly policies: CompiledPolicies
}

export type CreativeFactory = (ad: AdRecord, w: number, h: number) => HouseCreative

/** Format key: media type, width, height in one exact number (w, h < 100000). */
export function formatKey(media: number, w: number, h: number): number {
  return (media * 100_000 + w) * 100_000 + h
}

export function mediaIndex(media: AdMediaType): number {
  return media === 'video' ? 1 : 0
}

/** How many ads or creatives to handle between yields of a sliced build. */
const BUILD_BATCH = 256

function isBatchEnd(i: number): boolean {
  return i % BUILD_BATCH === BUILD_BATCH - 1
}

/**
 * Builds the index in steps: a generator that yields between batches, so the caller decides whether
 * to run it to completion at once (startup) or in slices between auctions (a live catalog change).
 */
export function* buildCatalogIndex(
  input: readonly AdRecord[],
  policies: readonly PolicyRule[],
  createCreative: CreativeFactory,
): Generator<void, CatalogIndex> {
  const ranked = rankAds(input)
  yield
  const ads: AdFacts[] = new Array(ranked.length)
  for (let a = 0; a < ranked.length; a++) {
    ads[a] = adFacts(ranked[a]!, a)
    if (isBatchEnd(a)) yield
  }
  const layout = yield* layoutCreatives(ads, createCreative)
  const { creativeCount, adOrds } = layout
  const wordCount = wordsFor(layout.ordinalCount)
  const b = new BitsetBuilder(wordCount, adOrds)
  const dims = yield* buildDimensions(ads, b)
  const columns = yield* buildColumns(ads)
  const policyIndex = yield* compilePolicies(policies, ads, {
    wordCount,
    category: dims.category,
    attribute: dims.attribute,
    adOrds,
  })
  return {
    creativeCount,
    ordinalCount: layout.ordinalCount,
    wordCount,
    creatives: layout.creatives,
    creativeAd: layout.creativeAd,
    creativePriceCpm: layout.creativePriceCpm,
    creativeMedia: layout.creativeMedia,
    creativeW: layout.creativeW,
    creativeH: layout.creativeH,
    ads,
    formats: layout.formats,
    byRank: layout.byRank,
    adOrdStart: layout.adOrdStart,
    ...dims,
    ...columns,
    policies: policyIndex,
  }
}

/** One ad per id (the last wins, as in a map), ranked best-paying first, then by id. */
function rankAds(input: readonly AdRecord[]): AdRecord[] {
  const byId = new Map<string, AdRecord>()
  for (const ad of input) byId.set(ad.id, ad)
  return [...byId.values()].sort(
    (a, b) => b.cpmMicros - a.cpmMicros || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0),
  )
}

const NO_STRINGS: readonly string[] = Object.freeze([])
const NO_NUMBERS: readonly number[] = Object.freeze([])

function adFacts(ad: AdRecord, ordinal: number): AdFacts {
  const t: AdTargeting = ad.targeting
  const relevance = t.categories.includes(ad.category) ? t.categories : [ad.category, ...t.categories]
  return {
    record: ad,
    ordinal,
    priceCpm: ad.cpmMicros / 1e6,
    mediaType: ad.mediaType ?? 'banner',
    isActive: (ad.status ?? 'active') === 'active',
    countries: t.countries,
    regions: t.regions ?? NO_STRINGS,
    deviceTypes: t.deviceTypes,
    os: (t.os ?? NO_STRINGS).map((o) => o.toLowerCase()),
    domains: t.domains ?? NO_STRINGS,
    blockedDomains: t.blockedDomains,
    publishers: t.publishers ?? NO_STRINGS,
    blockedPublishers: t.blockedPublishers ?? NO_STRINGS,
    pageCategories: t.pageCategories ?? NO_STRINGS,
    userCategories: t.userCategories ?? NO_STRINGS,
    relevanceCategories: relevance,
    attributes: t.attributes ?? NO_NUMBERS,
    flightStartMs: ad.flight?.startMs ?? Number.NEGATIVE_INFINITY,
    flightEndMs: ad.flight?.endMs ?? Number.POSITIVE_INFINITY,
    daypart: t.daypart ?? null,
    keyValues: Object.entries(t.keyValues ?? {}).filter(([, values]) => values.length > 0),
  }
}

interface CreativeLayout {
  readonly creativeCount: number
  readonly ordinalCount: number
  readonly creatives: (HouseCreative | undefined)[]
  readonly creativeAd: Int32Array
  readonly creativePriceCpm: Float64Array
  readonly creativeMedia: Uint8Array
  readonly creativeW: Int32Array
  readonly creativeH: Int32Array
  readonly formats: Map<number, FormatRange>
  readonly byRank: Int32Array
  readonly adOrdStart: Int32Array
  /** Per ad, its creative ordinals (ascending). */
  readonly adOrds: readonly Int32Array[]
}

/** Groups creatives by format (ads already in rank order inside each group) and numbers them. */
function* layoutCreatives(
  ads: readonly AdFacts[],
  createCreative: CreativeFactory,
): Generator<void, CreativeLayout> {
  const groups = new Map<number, { media: number; size: AdSize; ads: number[] }>()
  for (const ad of ads) {
    if (isBatchEnd(ad.ordinal)) yield
    const media = mediaIndex(ad.mediaType)
    for (const size of ad.record.sizes) {
      const key = formatKey(media, size.w, size.h)
      let group = groups.get(key)
      if (group === undefined) groups.set(key, (group = { media, size, ads: [] }))
      if (group.ads.at(-1) !== ad.ordinal) group.ads.push(ad.ordinal) // the same size listed twice
    }
  }
  let creativeCount = 0
  let ordinalCount = 0
  for (const g of groups.values()) {
    creativeCount += g.ads.length
    ordinalCount = alignRun(ordinalCount) + g.ads.length
  }
  const creatives: (HouseCreative | undefined)[] = new Array(ordinalCount)
  const creativeAd = new Int32Array(ordinalCount).fill(-1)
  const creativePriceCpm = new Float64Array(ordinalCount)
  const creativeMedia = new Uint8Array(ordinalCount)
  const creativeW = new Int32Array(ordinalCount)
  const creativeH = new Int32Array(ordinalCount)
  const formats = new Map<number, FormatRange>()
  const perAd: number[][] = ads.map(() => [])
  let ord = 0
  for (const [key, g] of groups) {
    ord = alignRun(ord)
    const start = ord
    for (const a of g.ads) {
      const ad = ads[a]!
      creatives[ord] = createCreative(ad.record, g.size.w, g.size.h)
      creativeAd[ord] = a
      creativePriceCpm[ord] = ad.priceCpm
      creativeMedia[ord] = g.media
      creativeW[ord] = g.size.w
      creativeH[ord] = g.size.h
      perAd[a]!.push(ord)
      if (++ord % BUILD_BATCH === 0) yield
    }
    formats.set(key, { start, end: ord })
  }
  const adOrds = perAd.map((list) => Int32Array.from(list))
  const byRank = new Int32Array(creativeCount)
  const adOrdStart = new Int32Array(ads.length + 1)
  let r = 0
  for (let a = 0; a < adOrds.length; a++) {
    adOrdStart[a] = r
    for (const o of adOrds[a]!) byRank[r++] = o
  }
  adOrdStart[ads.length] = r
  return {
    creativeCount,
    ordinalCount,
    creatives,
    creativeAd,
    creativePriceCpm,
    creativeMedia,
    creativeW,
    creativeH,
    formats,
    byRank,
    adOrdStart,
    adOrds,
  }
}

/**
 * Each format's run starts on a multiple of RUN_ALIGN ordinals (8 words), so the first block a
 * walk reads is the run's own best creatives, not the tail of the run before. The gaps hold no
 * creative (creativeAd -1) and no run covers them.
 */
const RUN_ALIGN = 256

function alignRun(ord: number): number {
  return Math.ceil(ord / RUN_ALIGN) * RUN_ALIGN
}

/** Sets an ad's creative bits in bitsets created on first use. */
class BitsetBuilder {
  constructor(
    readonly wordCount: number,
    readonly adOrds: readonly Int32Array[],
  ) {}

  create(): Uint32Array {
    return new Uint32Array(this.wordCount)
  }

  mark(words: Uint32Array, ad: number): void {
    const ords = this.adOrds[ad]!
    for (let i = 0; i < ords.length; i++) setBit(words, ords[i]!)
  }

  markIn<K>(postings: Map<K, Uint32Array>, key: K, ad: number): void {
    let words = postings.get(key)
    if (words === undefined) postings.set(key, (words = this.create()))
    this.mark(words, ad)
  }

  allow(
    dim: { any: Uint32Array; postings: Map<string, Uint32Array> },
    values: readonly string[],
    ad: number,
  ): void {
    if (values.length === 0) this.mark(dim.any, ad)
    else for (const v of values) this.markIn(dim.postings, v, ad)
  }
}

function* buildDimensions(ads: readonly AdFacts[], b: BitsetBuilder) {
  const allowDim = () => ({ any: b.create(), postings: new Map<string, Uint32Array>() })
  const country = allowDim()
  const pageCategory = allowDim()
  const userCategory = allowDim()
  const deviceTypeAny = b.create()
  const deviceType = new Map<number, Uint32Array>()
  const relevance = new Map<string, Uint32Array>()
  const relevanceUntargeted = b.create()
  const category = new Map<string, Uint32Array>()
  const attribute = new Map<number, Uint32Array>()
  let brandSafe: Uint32Array | null = null
  let inactive: Uint32Array | null = null
  for (const ad of ads) {
    const a = ad.ordinal
    b.allow(country, ad.countries, a)
    b.allow(pageCategory, ad.pageCategories, a)
    b.allow(userCategory, ad.userCategories, a)
    if (ad.deviceTypes.length === 0) b.mark(deviceTypeAny, a)
    for (const d of ad.deviceTypes) b.markIn(deviceType, d, a)
    for (const c of ad.relevanceCategories) b.markIn(relevance, c, a)
    if (ad.record.targeting.categories.length === 0) b.mark(relevanceUntargeted, a)
    b.markIn(category, ad.record.category, a)
    for (const attr of ad.attributes) b.markIn(attribute, attr, a)
    if (ad.record.targeting.brandSafe) b.mark((brandSafe ??= b.create()), a)
    if (!ad.isActive) b.mark((inactive ??= b.create()), a)
    if (isBatchEnd(a)) yield
  }
  for (const dim of [country, pageCategory, userCategory]) {
    foldOpen(dim.postings, dim.any)
    yield
  }
  foldOpen(deviceType, deviceTypeAny)
  return {
    country,
    pageCategory,
    userCategory,
    deviceTypeAny,
    deviceType,
    relevance,
    relevanceUntargeted,
    category,
    attribute,
    brandSafe,
    inactive,
  }
}

/** Ads open on a dimension serve whatever the value: fold them into every value's postings. */
function foldOpen<K>(postings: Map<K, Uint32Array>, any: Uint32Array): void {
  for (const words of postings.values()) orInto(words, any)
}

function* valueLists(
  ads: readonly AdFacts[],
  valuesOf: (ad: AdFacts) => readonly string[],
): Generator<void, AdValueLists> {
  const ids = new Map<string, number>()
  const start = new Int32Array(ads.length + 1)
  const values: number[] = []
  for (const ad of ads) {
    start[ad.ordinal] = values.length
    for (const v of valuesOf(ad)) values.push(intern(ids, v))
    if (isBatchEnd(ad.ordinal)) yield
  }
  start[ads.length] = values.length
  return { ids, start, values: Int32Array.from(values) }
}

/** Per ad: category and advertiser ids, attribute bits. */
function* buildIdColumns(ads: readonly AdFacts[]) {
  const categoryIds = new Map<string, number>()
  const advertiserIds = new Map<string, number>()
  const adCategory = new Int32Array(ads.length)
  const adAdvertiser = new Int32Array(ads.length)
  const adAttributeMask = new Uint32Array(ads.length)
  for (const ad of ads) {
    adCategory[ad.ordinal] = intern(categoryIds, ad.record.category)
    adAdvertiser[ad.ordinal] = intern(advertiserIds, ad.record.advertiserDomain)
    for (const attr of ad.attributes) if (attr >= 0 && attr < 32) adAttributeMask[ad.ordinal]! |= 1 << attr
    if (isBatchEnd(ad.ordinal)) yield
  }
  return { categoryIds, advertiserIds, adCategory, adAdvertiser, adAttributeMask }
}

function intern(ids: Map<string, number>, value: string): number {
  let id = ids.get(value)
  if (id === undefined) ids.set(value, (id = ids.size))
  return id
}

function* buildColumns(ads: readonly AdFacts[]) {
  const n = ads.length
  const flightStartMs = new Float64Array(n)
  const flightEndMs = new Float64Array(n)
  const daypartMask = new Uint32Array(n * DAYPART_WORDS)
  const daypartOffsetMinutes = new Int32Array(n)
  const hasDaypart = new Uint8Array(n)
  let hasFlights = false
  let hasDayparts = false
  for (const ad of ads) {
    const a = ad.ordinal
    flightStartMs[a] = ad.flightStartMs
    flightEndMs[a] = ad.flightEndMs
    if (Number.isFinite(ad.flightStartMs) || Number.isFinite(ad.flightEndMs)) hasFlights = true
    if (isBatchEnd(a)) yield
    const d = ad.daypart
    if (d === null) continue
    hasDayparts = true
    hasDaypart[a] = 1
    daypartOffsetMinutes[a] = d.utcOffsetMinutes === 'user' ? USER_TIMEZONE : d.utcOffsetMinutes
    writeDaypartMask(d, daypartMask, a * DAYPART_WORDS)
  }
  return {
    hasFlights,
    flightStartMs,
    flightEndMs,
    hasDayparts,
    daypartMask,
    daypartOffsetMinutes,
    hasDaypart,
    keyValues: yield* buildKeyValues(ads),
    ...(yield* buildIdColumns(ads)),
    regionLists: yield* valueLists(ads, (ad) => ad.regions),
    osLists: yield* valueLists(ads, (ad) => ad.os),
    domainLists: yield* valueLists(ads, (ad) => ad.domains),
    publisherLists: yield* valueLists(ads, (ad) => ad.publishers),
    blockedDomainLists: yield* valueLists(ads, (ad) => ad.blockedDomains),
    blockedPublisherLists: yield* valueLists(ads, (ad) => ad.blockedPublishers),
    adRestrictions: Uint32Array.from(ads, restrictionsOf),
    adIsActive: Uint8Array.from(ads, (ad) => (ad.isActive ? 1 : 0)),
    hasInactiveAds: ads.some((ad) => !ad.isActive),
  }
}

/** Kinds of per-ad restriction, as bits of CatalogIndex.adRestrictions. */
export const RESTRICTION = {
  region: 1,
  os: 2,
  domains: 4,
  publishers: 8,
  blockedDomains: 16,
  blockedPublishers: 32,
  keyValues: 64,
  attributes: 128,
} as const

function restrictionsOf(ad: AdFacts): number {
  return (
    (ad.regions.length > 0 ? RESTRICTION.region : 0) |
    (ad.os.length > 0 ? RESTRICTION.os : 0) |
    (ad.domains.length > 0 ? RESTRICTION.domains : 0) |
    (ad.publishers.length > 0 ? RESTRICTION.publishers : 0) |
    (ad.blockedDomains.length > 0 ? RESTRICTION.blockedDomains : 0) |
    (ad.blockedPublishers.length > 0 ? RESTRICTION.blockedPublishers : 0) |
    (ad.keyValues.length > 0 ? RESTRICTION.keyValues : 0) |
    (ad.attributes.length > 0 ? RESTRICTION.attributes : 0)
  )
}

function writeDaypartMask(d: AdDaypart, mask: Uint32Array, at: number): void {
  for (let day = 0; day < 7; day++) {
    if (d.days.length > 0 && !d.days.includes(day)) continue
    for (let hour = 0; hour < 24; hour++) {
      if (d.hours.length > 0 && !d.hours.includes(hour)) continue
      const bit = day * 24 + hour
      mask[at + (bit >>> 5)]! |= 1 << (bit & 31)
    }
  }
}

function* buildKeyValues(ads: readonly AdFacts[]): Generator<void, KeyValueIndex> {
  const keyIds = new Map<string, number>()
  const valueIds = new Map<string, number>()
  const adStart = new Int32Array(ads.length + 1)
  const conKey: number[] = []
  const conValStart: number[] = [0]
  const values: number[] = []
  for (const ad of ads) {
    adStart[ad.ordinal] = conKey.length
    for (const [key, allowed] of ad.keyValues) {
      let k = keyIds.get(key)
      if (k === undefined) keyIds.set(key, (k = keyIds.size))
      conKey.push(k)
      for (const v of allowed) {
        let id = valueIds.get(v)
        if (id === undefined) valueIds.set(v, (id = valueIds.size))
        values.push(id)
      }
      conValStart.push(values.length)
    }
    if (isBatchEnd(ad.ordinal)) yield
  }
  adStart[ads.length] = conKey.length
  return {
    keys: [...keyIds.keys()],
    valueIds,
    adStart,
    conKey: Int32Array.from(conKey),
    conValStart: Int32Array.from(conValStart),
    values: Int32Array.from(values),
  }
}
