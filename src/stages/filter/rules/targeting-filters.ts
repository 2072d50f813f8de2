import type { AllowDimension, CatalogIndex } from '../../../catalog/catalog-index.js'
import { type AdFilter, adOf, BitsetTerm, includesAny } from '../ad-filter.js'
import type { FilterInput } from '../filter-input.js'

/*
 * Targeting: an ad that lists values for a dimension serves only where the request has one of
 * them; an empty list means anywhere. Dimensions most ads restrict (country, device type,
 * categories) are bitset terms: the postings of the request's value with the open ads folded in.
 * Dimensions few ads restrict (region, OS, site, publisher) are per-ad lists checked on the
 * candidates the terms left (list-filters.ts).
 */

/** Allow term for a single-valued request fact; false when no ad restricts the dimension. */
function allowOne(term: BitsetTerm, dim: AllowDimension, value: string | null): boolean {
  if (dim.postings.size === 0) return false
  term.reset(false)
  term.add((value === null ? undefined : dim.postings.get(value)) ?? dim.any)
  return true
}

/** Allow term for a request fact with several values (categories): the OR of their postings. */
function allowAnyOf(term: BitsetTerm, dim: AllowDimension, values: readonly string[]): boolean {
  if (dim.postings.size === 0) return false
  term.reset(false)
  for (let i = 0; i < values.length; i++) term.add(dim.postings.get(values[i]!))
  if (term.count === 0) term.add(dim.any)
  return true
}

export class CountryFilter implements AdFilter {
  readonly name = 'country'
  readonly form = 'term'
  readonly scope = 'request'
  readonly term = new BitsetTerm()
  constructor(readonly ix: CatalogIndex) {}

  prepare(x: FilterInput): boolean {
    return allowOne(this.term, this.ix.country, x.country)
  }

  keep(ords: Int32Array, n: number, x: FilterInput): number {
    const c = x.country
    let k = 0
    for (let i = 0; i < n; i++) {
      const list = adOf(this.ix, ords[i]!).countries
      if (list.length === 0 || (c !== null && list.includes(c))) ords[k++] = ords[i]!
    }
    return k
  }

  detail(_ord: number, x: FilterInput): string {
    return x.country ?? 'country unknown'
  }
}

export class DeviceTypeFilter implements AdFilter {
  readonly name = 'device_type'
  readonly form = 'term'
  readonly scope = 'request'
  readonly term = new BitsetTerm()
  constructor(readonly ix: CatalogIndex) {}

  prepare(x: FilterInput): boolean {
    if (this.ix.deviceType.size === 0) return false
    this.term.reset(false)
    this.term.add(
      (x.deviceType >= 0 ? this.ix.deviceType.get(x.deviceType) : undefined) ?? this.ix.deviceTypeAny,
    )
    return true
  }

  keep(ords: Int32Array, n: number, x: FilterInput): number {
    const d = x.deviceType
    let k = 0
    for (let i = 0; i < n; i++) {
      const list = adOf(this.ix, ords[i]!).deviceTypes
      if (list.length === 0 || list.includes(d)) ords[k++] = ords[i]!
    }
    return k
  }

  detail(_ord: number, x: FilterInput): string {
    return x.deviceType >= 0 ? `devicetype ${x.deviceType}` : 'devicetype unknown'
  }
}

export class PageCategoryFilter implements AdFilter {
  readonly name = 'page_category'
  readonly form = 'term'
  readonly scope = 'request'
  readonly term = new BitsetTerm()
  constructor(readonly ix: CatalogIndex) {}

  prepare(x: FilterInput): boolean {
    return allowAnyOf(this.term, this.ix.pageCategory, x.pageCategories)
  }

  keep(ords: Int32Array, n: number, x: FilterInput): number {
    const cats = x.pageCategories
    let k = 0
    for (let i = 0; i < n; i++) {
      const list = adOf(this.ix, ords[i]!).pageCategories
      if (list.length === 0 || includesAny(list, cats)) ords[k++] = ords[i]!
    }
    return k
  }

  detail(_ord: number, x: FilterInput): string {
    return x.pageCategories.join(',') || 'page categories unknown'
  }
}

export class UserCategoryFilter implements AdFilter {
  readonly name = 'user_category'
  readonly form = 'term'
  readonly scope = 'request'
  readonly term = new BitsetTerm()
  constructor(readonly ix: CatalogIndex) {}

  prepare(x: FilterInput): boolean {
    return allowAnyOf(this.term, this.ix.userCategory, x.userCategories)
  }

  keep(ords: Int32Array, n: number, x: FilterInput): number {
    const cats = x.userCategories
    let k = 0
    for (let i = 0; i < n; i++) {
      const list = adOf(this.ix, ords[i]!).userCategories
      if (list.length === 0 || includesAny(list, cats)) ords[k++] = ords[i]!
    }
    return k
  }

  detail(_ord: number, x: FilterInput): string {
    return x.userCategories.join(',') || 'user categories unknown'
  }
}

/**
 * "Ads for this user or page": when the user's preferences or the page's categories are known,
 * only ads in one of them (by category or targeting.categories) serve; when none is known, only
 * ads without targeting.categories do.
 */
export class RelevanceFilter implements AdFilter {
  readonly name = 'relevance'
  readonly form = 'term'
  readonly scope = 'request'
  readonly term = new BitsetTerm()
  readonly #hasCategoryTargeting: boolean
  constructor(readonly ix: CatalogIndex) {
    this.#hasCategoryTargeting = ix.ads.some((ad) => ad.record.targeting.categories.length > 0)
  }

  prepare(x: FilterInput): boolean {
    const user = x.userCategories
    const page = x.pageCategories
    if (user.length === 0 && page.length === 0) {
      if (!this.#hasCategoryTargeting) return false
      this.term.reset(false)
      this.term.add(this.ix.relevanceUntargeted)
      return true
    }
    this.term.reset(false)
    for (let i = 0; i < user.length; i++) this.term.add(this.ix.relevance.get(user[i]!))
    for (let i = 0; i < page.length; i++) this.term.add(this.ix.relevance.get(page[i]!))
    return true
  }

  keep(ords: Int32Array, n: number, x: FilterInput): number {
    const user = x.userCategories
    const page = x.pageCategories
    const isUnknown = user.length === 0 && page.length === 0
    let k = 0
    for (let i = 0; i < n; i++) {
      const ad = adOf(this.ix, ords[i]!)
      const ok = isUnknown
        ? ad.record.targeting.categories.length === 0
        : includesAny(ad.relevanceCategories, user) || includesAny(ad.relevanceCategories, page)
      if (ok) ords[k++] = ords[i]!
    }
    return k
  }

  detail(ord: number): string {
    return adOf(this.ix, ord).relevanceCategories.join(',')
  }
}
