import { type AdValueLists, type CatalogIndex, RESTRICTION } from '../../../catalog/catalog-index.js'
import { type AdFilter, BitsetTerm } from '../ad-filter.js'
import type { FilterInput } from '../filter-input.js'
import type { AdFilterName } from '../filter-names.js'

/** Does ad `a`'s list hold value `id`? Lists are short: a scan beats a search. */
function listHas(lists: AdValueLists, a: number, id: number): boolean {
  const values = lists.values
  for (let i = lists.start[a]!, end = lists.start[a + 1]!; i < end; i++) if (values[i] === id) return true
  return false
}

/** The request's value for a dimension, as the catalog writes it; null when the request lacks it. */
type RequestKey = (x: FilterInput) => string | null

/**
 * An allow list few ads use (region, OS, site domain, publisher): the ad serves where its list is
 * empty or holds the request's value. Checked per candidate on an interned-id column.
 */
export class AllowListFilter implements AdFilter {
  readonly form = 'predicate'
  readonly scope = 'request'
  readonly term = new BitsetTerm()
  #id = -1
  #key: string | null = null
  constructor(
    readonly name: AdFilterName,
    readonly ix: CatalogIndex,
    private readonly lists: AdValueLists,
    private readonly keyOf: RequestKey,
    readonly restriction: number,
  ) {}

  prepare(x: FilterInput): boolean {
    if (this.lists.values.length === 0) return false
    this.#key = this.keyOf(x)
    this.#id = this.#key === null ? -1 : (this.lists.ids.get(this.#key) ?? -1)
    return true
  }

  keep(ords: Int32Array, n: number): number {
    const creativeAd = this.ix.creativeAd
    const start = this.lists.start
    const id = this.#id
    let k = 0
    for (let i = 0; i < n; i++) {
      const o = ords[i]!
      const a = creativeAd[o]!
      if (start[a] === start[a + 1] || (id >= 0 && listHas(this.lists, a, id))) ords[k++] = o
    }
    return k
  }

  detail(): string {
    return this.#key ?? `${this.name} unknown`
  }
}

/** An ad's own block list (site domains, publishers): it never serves where the request's value is on it. */
export class BlockListFilter implements AdFilter {
  readonly form = 'predicate'
  readonly scope = 'request'
  readonly term = new BitsetTerm()
  #id = -1
  #key: string | null = null
  constructor(
    readonly name: AdFilterName,
    readonly ix: CatalogIndex,
    private readonly lists: AdValueLists,
    private readonly keyOf: RequestKey,
    readonly restriction: number,
  ) {}

  prepare(x: FilterInput): boolean {
    this.#key = this.keyOf(x)
    this.#id = this.#key === null ? -1 : (this.lists.ids.get(this.#key) ?? -1)
    return this.#id >= 0
  }

  keep(ords: Int32Array, n: number): number {
    const creativeAd = this.ix.creativeAd
    const id = this.#id
    let k = 0
    for (let i = 0; i < n; i++) {
      const o = ords[i]!
      if (!listHas(this.lists, creativeAd[o]!, id)) ords[k++] = o
    }
    return k
  }

  detail(): string {
    return this.#key ?? ''
  }
}

/** Regions are written "USA-CA": the request's country, a dash, its geo.region. */
export function regionKey(x: FilterInput): string | null {
  return x.country !== null && x.region !== null ? `${x.country}-${x.region}` : null
}

export function createListFilters(ix: CatalogIndex) {
  return {
    region: new AllowListFilter('region', ix, ix.regionLists, regionKey, RESTRICTION.region),
    os: new AllowListFilter('os', ix, ix.osLists, (x) => x.os, RESTRICTION.os),
    siteDomain: new AllowListFilter('site_domain', ix, ix.domainLists, (x) => x.domain, RESTRICTION.domains),
    publisher: new AllowListFilter(
      'publisher',
      ix,
      ix.publisherLists,
      (x) => x.publisherId,
      RESTRICTION.publishers,
    ),
    blockedDomain: new BlockListFilter(
      'blocked_domain',
      ix,
      ix.blockedDomainLists,
      (x) => x.domain,
      RESTRICTION.blockedDomains,
    ),
    blockedPublisher: new BlockListFilter(
      'blocked_publisher',
      ix,
      ix.blockedPublisherLists,
      (x) => x.publisherId,
      RESTRICTION.blockedPublishers,
    ),
  }
}
