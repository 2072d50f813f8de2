import { orInto, popcount32, setBit } from './bitset.js'
import type { AdFacts } from './catalog-index.js'
import type { PolicyRule } from './policy-rule.js'

/** A rule as the per-ad check reads it: its id and its lists as sets. */
export interface CompiledRule {
  readonly id: string
  readonly advertisers: ReadonlySet<string>
  readonly categories: ReadonlySet<string>
  readonly countries: ReadonlySet<string>
  readonly attributes: ReadonlySet<number>
  /** domain_min_cpm only: the CPM an ad in scope must pay. */
  readonly minCpm: number
}

/** Rules of one kind keyed by a request fact, with the ads they deny folded into one bitset per key. */
export interface KeyedRules<K> {
  readonly rules: ReadonlyMap<K, readonly CompiledRule[]>
  readonly deny: ReadonlyMap<K, Uint32Array>
}

/**
 * Policy rules folded into the catalog's indexes. Each kind is keyed by the request fact its
 * condition reads (publisher, country, placement, domain), so a request finds the ads its active
 * rules deny with one lookup; the compiled rules stay beside it for per-ad checks and explain.
 */
export interface CompiledPolicies {
  readonly ruleCount: number
  readonly advertiserPublisher: KeyedRules<string>
  readonly publisherCategory: KeyedRules<string>
  readonly domainMinCpm: KeyedRules<string>
  /** category_country: every rule applies unless the request's country is one it allows. */
  readonly categoryCountry: {
    readonly rules: readonly CompiledRule[]
    readonly denyByCountry: ReadonlyMap<string, Uint32Array | null>
    readonly denyOther: Uint32Array | null
  }
  /** placement_attribute keyed by placementKey(pos, instl). */
  readonly placementAttribute: {
    readonly rules: readonly (readonly CompiledRule[])[]
    readonly deny: readonly (Uint32Array | null)[]
  }
  /**
   * min_viewability folded per ad: the strictest limit and the rule that sets it. As a bitset
   * term: the distinct limits ascending, and per limit the creatives of the ads that need at least
   * it (an imp of viewability v denies atLeast[j] for the first limit above v). Empty when there
   * are more than MAX_VIEWABILITY_LEVELS distinct limits (the filter then checks each candidate).
   */
  readonly minViewability: {
    readonly hasRules: boolean
    readonly byAd: Float64Array
    readonly ruleByAd: readonly (string | null)[]
    readonly levels: Float64Array
    readonly atLeast: readonly Uint32Array[]
  }
}

/** Distinct min_viewability limits kept as bitsets (one bitset per limit). */
export const MAX_VIEWABILITY_LEVELS = 64

export const PLACEMENT_KEYS = 16

/** banner.pos (AdCOM 0–7; others count as 0) and imp.instl in one small integer. */
export function placementKey(pos: number | undefined, instl: number | undefined): number {
  const p = pos !== undefined && pos >= 0 && pos <= 7 ? pos | 0 : 0
  return p * 2 + (instl === 1 ? 1 : 0)
}

interface ScopeSources {
  readonly wordCount: number
  readonly category: ReadonlyMap<string, Uint32Array>
  readonly attribute: ReadonlyMap<number, Uint32Array>
  readonly adOrds: readonly Int32Array[]
}

export function* compilePolicies(
  rules: readonly PolicyRule[],
  ads: readonly AdFacts[],
  src: ScopeSources,
): Generator<void, CompiledPolicies> {
  const ap = new KeyedBuilder<string>(src.wordCount)
  const pc = new KeyedBuilder<string>(src.wordCount)
  const dm = new KeyedBuilder<string>(src.wordCount)
  const cc: { rule: CompiledRule; scope: Uint32Array }[] = []
  const pa = new KeyedBuilder<number>(src.wordCount)
  const mvByAd = new Float64Array(ads.length)
  const mvRuleByAd: (string | null)[] = new Array(ads.length).fill(null)
  let hasViewabilityRules = false
  const byAdvertiser = groupAds(ads, (ad) => ad.record.advertiserDomain)
  const byCategory = groupAds(ads, (ad) => ad.record.category)
  for (const rule of rules) {
    const compiled = compileRule(rule)
    switch (rule.kind) {
      case 'advertiser_publisher':
        ap.add(compiled, rule.publishers, creativesOf(src, byAdvertiser, rule.advertisers))
        break
      case 'publisher_category':
        pc.add(compiled, rule.publishers, union(src.category, rule.categories, src.wordCount))
        break
      case 'domain_min_cpm':
        dm.add(compiled, rule.domains, underPriced(ads, compiled, src))
        break
      case 'category_country':
        cc.push({ rule: compiled, scope: union(src.category, rule.categories, src.wordCount) })
        break
      case 'placement_attribute':
        pa.add(
          compiled,
          placementKeysOf(rule.positions, rule.interstitial),
          union(src.attribute, rule.attributes, src.wordCount),
        )
        break
      case 'min_viewability':
        hasViewabilityRules = true
        for (const a of adsUnder(byAdvertiser, rule.advertisers).concat(
          adsUnder(byCategory, rule.categories),
        )) {
          if (rule.minPercent <= mvByAd[a]!) continue
          mvByAd[a] = rule.minPercent // the strictest rule over an ad decides
          mvRuleByAd[a] = rule.id
        }
        break
    }
    yield
  }
  return {
    ruleCount: rules.length,
    advertiserPublisher: ap.result(),
    publisherCategory: pc.result(),
    domainMinCpm: dm.result(),
    categoryCountry: foldCategoryCountry(cc, src.wordCount),
    placementAttribute: placementResult(pa),
    minViewability: {
      hasRules: hasViewabilityRules,
      byAd: mvByAd,
      ruleByAd: mvRuleByAd,
      ...(yield* viewabilityLevels(mvByAd, src)),
    },
  }
}

/** Per distinct limit (ascending), the creatives of the ads whose limit is at least it. */
function* viewabilityLevels(
  byAd: Float64Array,
  src: ScopeSources,
): Generator<void, { levels: Float64Array; atLeast: Uint32Array[] }> {
  const distinct = [...new Set(byAd.filter((v) => v > 0))].sort((a, b) => a - b)
  if (distinct.length > MAX_VIEWABILITY_LEVELS) return { levels: new Float64Array(0), atLeast: [] }
  const atLeast = distinct.map(() => new Uint32Array(src.wordCount))
  for (let a = 0; a < byAd.length; a++) {
    if (a % 256 === 255) yield
    const limit = byAd[a]!
    if (limit <= 0) continue
    const ords = src.adOrds[a]!
    // An ad with limit L is denied wherever v < L: in every level's set up to its own.
    for (let j = 0; j < distinct.length && distinct[j]! <= limit; j++) {
      for (let i = 0; i < ords.length; i++) setBit(atLeast[j]!, ords[i]!)
    }
  }
  return { levels: Float64Array.from(distinct), atLeast }
}

function compileRule(rule: PolicyRule): CompiledRule {
  const none = { advertisers: NONE, categories: NONE, countries: NONE, attributes: NONE, minCpm: 0 }
  switch (rule.kind) {
    case 'advertiser_publisher':
      return { ...none, id: rule.id, advertisers: new Set(rule.advertisers) }
    case 'publisher_category':
      return { ...none, id: rule.id, categories: new Set(rule.categories) }
    case 'category_country':
      return {
        ...none,
        id: rule.id,
        categories: new Set(rule.categories),
        countries: new Set(rule.countries),
      }
    case 'domain_min_cpm':
      return { ...none, id: rule.id, categories: new Set(rule.categories), minCpm: rule.minCpmMicros / 1e6 }
    case 'placement_attribute':
      return { ...none, id: rule.id, attributes: new Set(rule.attributes) }
    case 'min_viewability':
      return {
        ...none,
        id: rule.id,
        advertisers: new Set(rule.advertisers),
        categories: new Set(rule.categories),
      }
  }
}

const NONE: ReadonlySet<never> = new Set()

class KeyedBuilder<K> {
  readonly rules = new Map<K, CompiledRule[]>()
  readonly deny = new Map<K, Uint32Array>()
  constructor(readonly wordCount: number) {}

  add(rule: CompiledRule, keys: Iterable<K>, scope: Uint32Array): void {
    for (const key of keys) {
      let list = this.rules.get(key)
      if (list === undefined) this.rules.set(key, (list = []))
      if (list.includes(rule)) continue
      list.push(rule)
      let words = this.deny.get(key)
      if (words === undefined) this.deny.set(key, (words = new Uint32Array(this.wordCount)))
      orInto(words, scope)
    }
  }

  /**
   * Keys whose rules deny the same ads share one bitset (every domain of a one-rule domain list,
   * say): less memory, and requests for different keys read the same cache lines.
   */
  result(): KeyedRules<K> {
    const canonical = new Map<string, Uint32Array>()
    for (const [key, words] of this.deny) {
      const digest = digestWords(words)
      const same = canonical.get(digest)
      if (same !== undefined && sameWords(same, words)) this.deny.set(key, same)
      else if (same === undefined) canonical.set(digest, words)
    }
    return { rules: this.rules, deny: this.deny }
  }
}

/** A short fingerprint of a bitset (FNV-1a over its words, with its population). */
function digestWords(words: Uint32Array): string {
  let h = 0x811c9dc5
  let bits = 0
  for (let i = 0; i < words.length; i++) {
    const w = words[i]!
    h = Math.imul(h ^ w, 0x01000193)
    bits += popcount32(w)
  }
  return `${h >>> 0}:${bits}`
}

function sameWords(a: Uint32Array, b: Uint32Array): boolean {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

function union<K>(postings: ReadonlyMap<K, Uint32Array>, keys: readonly K[], wordCount: number): Uint32Array {
  const out = new Uint32Array(wordCount)
  for (const k of keys) {
    const words = postings.get(k)
    if (words !== undefined) orInto(out, words)
  }
  return out
}

/** Creatives of ads in the rule's categories (all when none) priced under its minimum. */
function underPriced(ads: readonly AdFacts[], rule: CompiledRule, src: ScopeSources): Uint32Array {
  return adsOf(
    ads,
    src,
    (ad) =>
      ad.priceCpm < rule.minCpm && (rule.categories.size === 0 || rule.categories.has(ad.record.category)),
  )
}

/** Ad ordinals by a key (advertiser, category). */
function groupAds(ads: readonly AdFacts[], keyOf: (ad: AdFacts) => string): Map<string, number[]> {
  const out = new Map<string, number[]>()
  for (const ad of ads) {
    const key = keyOf(ad)
    let list = out.get(key)
    if (list === undefined) out.set(key, (list = []))
    list.push(ad.ordinal)
  }
  return out
}

function adsUnder(groups: ReadonlyMap<string, number[]>, keys: readonly string[]): number[] {
  return keys.flatMap((key) => groups.get(key) ?? [])
}

/** The creatives of the ads filed under any of `keys`. */
function creativesOf(
  src: ScopeSources,
  groups: ReadonlyMap<string, number[]>,
  keys: readonly string[],
): Uint32Array {
  const out = new Uint32Array(src.wordCount)
  for (const a of adsUnder(groups, keys)) {
    const ords = src.adOrds[a]!
    for (let i = 0; i < ords.length; i++) setBit(out, ords[i]!)
  }
  return out
}

/** The creatives of the ads that `test` picks. */
function adsOf(ads: readonly AdFacts[], src: ScopeSources, test: (ad: AdFacts) => boolean): Uint32Array {
  const out = new Uint32Array(src.wordCount)
  for (const ad of ads) {
    if (!test(ad)) continue
    const ords = src.adOrds[ad.ordinal]!
    for (let i = 0; i < ords.length; i++) setBit(out, ords[i]!)
  }
  return out
}

function placementKeysOf(positions: readonly number[], interstitial: boolean): number[] {
  const keys: number[] = []
  for (let key = 0; key < PLACEMENT_KEYS; key++) {
    const pos = key >>> 1
    if (positions.includes(pos) || (interstitial && (key & 1) === 1)) keys.push(key)
  }
  return keys
}

function placementResult(pa: KeyedBuilder<number>): CompiledPolicies['placementAttribute'] {
  const rules: (readonly CompiledRule[])[] = []
  const deny: (Uint32Array | null)[] = []
  for (let key = 0; key < PLACEMENT_KEYS; key++) {
    rules.push(pa.rules.get(key) ?? [])
    deny.push(pa.deny.get(key) ?? null)
  }
  return { rules, deny }
}

/** Per country a rule names, the ads denied there; every other country gets `denyOther`. */
function foldCategoryCountry(
  cc: readonly { rule: CompiledRule; scope: Uint32Array }[],
  wordCount: number,
): CompiledPolicies['categoryCountry'] {
  const countries = new Set<string>()
  for (const { rule } of cc) for (const c of rule.countries) countries.add(c)
  const denyFor = (country: string | null): Uint32Array | null => {
    let out: Uint32Array | null = null
    for (const { rule, scope } of cc) {
      if (country !== null && rule.countries.has(country)) continue
      orInto((out ??= new Uint32Array(wordCount)), scope)
    }
    return out
  }
  const denyByCountry = new Map<string, Uint32Array | null>()
  for (const c of countries) denyByCountry.set(c, denyFor(c))
  return { rules: cc.map((x) => x.rule), denyByCountry, denyOther: denyFor(null) }
}
