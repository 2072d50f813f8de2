import type { CatalogIndex } from '../../../catalog/catalog-index.js'
import type { CompiledRule, KeyedRules } from '../../../catalog/policy-index.js'
import { type AdFilter, adOf, BitsetTerm, type FilterForm } from '../ad-filter.js'
import type { FilterInput } from '../filter-input.js'

/*
 * Policy rules are data (src/catalog/policy-rule.ts), many per kind. Indexed, a kind is one deny
 * term: the catalog folded every rule of the kind into one bitset per request key (publisher,
 * country, placement, domain), so the request's active rules cost one lookup. The per-ad form checks
 * each active rule in turn and names the rule that rejects.
 */

const NO_RULES: readonly CompiledRule[] = Object.freeze([])

/** Shared shape of the kinds keyed by one request fact. */
abstract class KeyedPolicyFilter implements AdFilter {
  abstract readonly name: 'advertiser_publisher' | 'publisher_category' | 'domain_min_cpm'
  readonly form = 'term'
  readonly scope = 'request'
  readonly term = new BitsetTerm()
  protected rules: readonly CompiledRule[] = NO_RULES
  constructor(
    readonly ix: CatalogIndex,
    private readonly keyed: KeyedRules<string>,
  ) {}

  protected abstract keyOf(x: FilterInput): string | null
  /** Whether `rule` rejects the creative `ord`. */
  protected abstract rejects(rule: CompiledRule, ord: number): boolean

  prepare(x: FilterInput): boolean {
    const key = this.keyOf(x)
    const deny = key === null ? undefined : this.keyed.deny.get(key)
    this.rules = (key === null ? undefined : this.keyed.rules.get(key)) ?? NO_RULES
    if (deny === undefined) return false
    this.term.reset(true)
    this.term.add(deny)
    return true
  }

  keep(ords: Int32Array, n: number): number {
    let k = 0
    for (let i = 0; i < n; i++) if (this.#rejectingRule(ords[i]!) === null) ords[k++] = ords[i]!
    return k
  }

  #rejectingRule(ord: number): CompiledRule | null {
    const rules = this.rules
    for (let r = 0; r < rules.length; r++) if (this.rejects(rules[r]!, ord)) return rules[r]!
    return null
  }

  detail(ord: number): string {
    return this.#rejectingRule(ord)?.id ?? ''
  }
}

/** Advertiser X never on publisher group Y. */
export class AdvertiserPublisherFilter extends KeyedPolicyFilter {
  readonly name = 'advertiser_publisher'
  constructor(ix: CatalogIndex) {
    super(ix, ix.policies.advertiserPublisher)
  }
  protected keyOf(x: FilterInput): string | null {
    return x.publisherId
  }
  protected rejects(rule: CompiledRule, ord: number): boolean {
    return rule.advertisers.has(adOf(this.ix, ord).record.advertiserDomain)
  }
}

/** Publisher Y refuses category Z. */
export class PublisherCategoryFilter extends KeyedPolicyFilter {
  readonly name = 'publisher_category'
  constructor(ix: CatalogIndex) {
    super(ix, ix.policies.publisherCategory)
  }
  protected keyOf(x: FilterInput): string | null {
    return x.publisherId
  }
  protected rejects(rule: CompiledRule, ord: number): boolean {
    return rule.categories.has(adOf(this.ix, ord).record.category)
  }
}

/** On domain group Y, ads (of categories Z) pay at least M. */
export class DomainMinCpmFilter extends KeyedPolicyFilter {
  readonly name = 'domain_min_cpm'
  constructor(ix: CatalogIndex) {
    super(ix, ix.policies.domainMinCpm)
  }
  protected keyOf(x: FilterInput): string | null {
    return x.domain
  }
  protected rejects(rule: CompiledRule, ord: number): boolean {
    const ad = adOf(this.ix, ord)
    return (
      ad.priceCpm < rule.minCpm && (rule.categories.size === 0 || rule.categories.has(ad.record.category))
    )
  }
}

/** Category Z only in countries W: every rule applies unless the request's country is one it allows. */
export class CategoryCountryFilter implements AdFilter {
  readonly name = 'category_country'
  readonly form = 'term'
  readonly scope = 'request'
  readonly term = new BitsetTerm()
  constructor(readonly ix: CatalogIndex) {}

  prepare(x: FilterInput): boolean {
    const cc = this.ix.policies.categoryCountry
    const deny =
      x.country !== null && cc.denyByCountry.has(x.country) ? cc.denyByCountry.get(x.country) : cc.denyOther
    if (deny === null || deny === undefined) return false
    this.term.reset(true)
    this.term.add(deny)
    return true
  }

  keep(ords: Int32Array, n: number, x: FilterInput): number {
    let k = 0
    for (let i = 0; i < n; i++) if (this.#rejectingRule(ords[i]!, x) === null) ords[k++] = ords[i]!
    return k
  }

  #rejectingRule(ord: number, x: FilterInput): CompiledRule | null {
    const category = adOf(this.ix, ord).record.category
    for (const rule of this.ix.policies.categoryCountry.rules) {
      if (rule.categories.has(category) && (x.country === null || !rule.countries.has(x.country))) return rule
    }
    return null
  }

  detail(ord: number, x: FilterInput): string {
    return this.#rejectingRule(ord, x)?.id ?? ''
  }
}

/** Creative attributes not allowed at a placement (banner.pos, interstitial). */
export class PlacementAttributeFilter implements AdFilter {
  readonly name = 'placement_attribute'
  readonly form = 'term'
  readonly scope = 'imp'
  readonly term = new BitsetTerm()
  constructor(readonly ix: CatalogIndex) {}

  prepare(x: FilterInput): boolean {
    const deny = this.ix.policies.placementAttribute.deny[x.placement]
    if (deny === null || deny === undefined) return false
    this.term.reset(true)
    this.term.add(deny)
    return true
  }

  keep(ords: Int32Array, n: number, x: FilterInput): number {
    let k = 0
    for (let i = 0; i < n; i++) if (this.#rejectingRule(ords[i]!, x) === null) ords[k++] = ords[i]!
    return k
  }

  #rejectingRule(ord: number, x: FilterInput): CompiledRule | null {
    const attributes = adOf(this.ix, ord).attributes
    for (const rule of this.ix.policies.placementAttribute.rules[x.placement] ?? NO_RULES) {
      for (let i = 0; i < attributes.length; i++) if (rule.attributes.has(attributes[i]!)) return rule
    }
    return null
  }

  detail(ord: number, x: FilterInput): string {
    return this.#rejectingRule(ord, x)?.id ?? ''
  }
}

/**
 * The strictest min_viewability rule over the ad, against imp.ext.viewability. Indexed, a deny
 * term: the catalog keeps, per distinct limit, the ads that need at least it, and the imp's
 * viewability picks one (the first limit above it).
 */
export class MinViewabilityFilter implements AdFilter {
  readonly name = 'min_viewability'
  readonly form: FilterForm
  readonly scope = 'imp'
  readonly term = new BitsetTerm()
  constructor(readonly ix: CatalogIndex) {
    const mv = ix.policies.minViewability
    this.form = mv.hasRules && mv.levels.length === 0 ? 'predicate' : 'term'
  }

  prepare(x: FilterInput): boolean {
    const mv = this.ix.policies.minViewability
    if (!mv.hasRules) return false
    if (this.form === 'predicate') return true
    const levels = mv.levels
    let j = 0
    while (j < levels.length && levels[j]! <= x.viewability) j++
    if (j === levels.length) return false // the imp is viewable enough for every rule
    this.term.reset(true)
    this.term.add(mv.atLeast[j])
    return true
  }

  keep(ords: Int32Array, n: number, x: FilterInput): number {
    const creativeAd = this.ix.creativeAd
    const minByAd = this.ix.policies.minViewability.byAd
    const viewability = x.viewability
    let k = 0
    for (let i = 0; i < n; i++) {
      const o = ords[i]!
      if (minByAd[creativeAd[o]!]! <= viewability) ords[k++] = o
    }
    return k
  }

  detail(ord: number): string {
    return this.ix.policies.minViewability.ruleByAd[this.ix.creativeAd[ord]!] ?? ''
  }
}
