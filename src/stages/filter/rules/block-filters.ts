import type { CatalogIndex } from '../../../catalog/catalog-index.js'
import { type AdFilter, adOf, BitsetTerm, includesAny } from '../ad-filter.js'
import type { FilterInput } from '../filter-input.js'

/*
 * Blocks: the request (or the ad) names what must not meet. Indexed, each is one deny term: the
 * OR of the postings of the blocked values, removed from the candidates.
 */

/** Ads that list the request's site domain (or app bundle) among their blocked domains. */
export class BlockedDomainFilter implements AdFilter {
  readonly name = 'blocked_domain'
  readonly form = 'term'
  readonly scope = 'request'
  readonly term = new BitsetTerm()
  constructor(readonly ix: CatalogIndex) {}

  prepare(x: FilterInput): boolean {
    const words = x.domain === null ? undefined : this.ix.blockedDomain.get(x.domain)
    if (words === undefined) return false
    this.term.reset(true)
    this.term.add(words)
    return true
  }

  keep(ords: Int32Array, n: number, x: FilterInput): number {
    const domain = x.domain
    if (domain === null) return n
    let k = 0
    for (let i = 0; i < n; i++) if (!adOf(this.ix, ords[i]!).blockedDomains.includes(domain)) ords[k++] = ords[i]!
    return k
  }

  detail(_ord: number, x: FilterInput): string {
    return x.domain ?? ''
  }
}

export class BlockedPublisherFilter implements AdFilter {
  readonly name = 'blocked_publisher'
  readonly form = 'term'
  readonly scope = 'request'
  readonly term = new BitsetTerm()
  constructor(readonly ix: CatalogIndex) {}

  prepare(x: FilterInput): boolean {
    const words = x.publisherId === null ? undefined : this.ix.blockedPublisher.get(x.publisherId)
    if (words === undefined) return false
    this.term.reset(true)
    this.term.add(words)
    return true
  }

  keep(ords: Int32Array, n: number, x: FilterInput): number {
    const pub = x.publisherId
    if (pub === null) return n
    let k = 0
    for (let i = 0; i < n; i++) if (!adOf(this.ix, ords[i]!).blockedPublishers.includes(pub)) ords[k++] = ords[i]!
    return k
  }

  detail(_ord: number, x: FilterInput): string {
    return x.publisherId ?? ''
  }
}

/** The request's badv (merged with the publisher's) against the ad's advertiser domain. */
export class BadvFilter implements AdFilter {
  readonly name = 'badv'
  readonly form = 'term'
  readonly scope = 'request'
  readonly term = new BitsetTerm()
  constructor(readonly ix: CatalogIndex) {}

  prepare(x: FilterInput): boolean {
    this.term.reset(true)
    for (let i = 0; i < x.badv.length; i++) this.term.add(this.ix.advertiser.get(x.badv[i]!))
    return this.term.count > 0
  }

  keep(ords: Int32Array, n: number, x: FilterInput): number {
    const badv = x.badv
    let k = 0
    for (let i = 0; i < n; i++) if (!badv.includes(adOf(this.ix, ords[i]!).record.advertiserDomain)) ords[k++] = ords[i]!
    return k
  }

  detail(ord: number): string {
    return adOf(this.ix, ord).record.advertiserDomain
  }
}

/** The request's bcat (merged with the publisher's) against the ad's category. */
export class BcatFilter implements AdFilter {
  readonly name = 'bcat'
  readonly form = 'term'
  readonly scope = 'request'
  readonly term = new BitsetTerm()
  constructor(readonly ix: CatalogIndex) {}

  prepare(x: FilterInput): boolean {
    this.term.reset(true)
    for (let i = 0; i < x.bcat.length; i++) this.term.add(this.ix.category.get(x.bcat[i]!))
    return this.term.count > 0
  }

  keep(ords: Int32Array, n: number, x: FilterInput): number {
    const bcat = x.bcat
    let k = 0
    for (let i = 0; i < n; i++) if (!bcat.includes(adOf(this.ix, ords[i]!).record.category)) ords[k++] = ords[i]!
    return k
  }

  detail(ord: number): string {
    return adOf(this.ix, ord).record.category
  }
}

/** The imp's battr against the creative's attributes. */
export class BattrFilter implements AdFilter {
  readonly name = 'battr'
  readonly form = 'term'
  readonly scope = 'imp'
  readonly term = new BitsetTerm()
  constructor(readonly ix: CatalogIndex) {}

  prepare(x: FilterInput): boolean {
    this.term.reset(true)
    for (let i = 0; i < x.battr.length; i++) this.term.add(this.ix.attribute.get(x.battr[i]!))
    return this.term.count > 0
  }

  keep(ords: Int32Array, n: number, x: FilterInput): number {
    const battr = x.battr
    let k = 0
    for (let i = 0; i < n; i++) if (!includesAny(adOf(this.ix, ords[i]!).attributes, battr)) ords[k++] = ords[i]!
    return k
  }

  detail(ord: number, x: FilterInput): string {
    return adOf(this.ix, ord)
      .attributes.filter((a) => x.battr.includes(a))
      .join(',')
  }
}

/** Brand-safe ads stay off pages contextual data flagged unsafe. */
export class BrandSafetyFilter implements AdFilter {
  readonly name = 'brand_safety'
  readonly form = 'term'
  readonly scope = 'request'
  readonly term = new BitsetTerm()
  constructor(readonly ix: CatalogIndex) {}

  prepare(x: FilterInput): boolean {
    if (!x.brandUnsafe || this.ix.brandSafe === null) return false
    this.term.reset(true)
    this.term.add(this.ix.brandSafe)
    return true
  }

  keep(ords: Int32Array, n: number, x: FilterInput): number {
    if (!x.brandUnsafe) return n
    let k = 0
    for (let i = 0; i < n; i++) if (!adOf(this.ix, ords[i]!).record.targeting.brandSafe) ords[k++] = ords[i]!
    return k
  }

  detail(): string {
    return ''
  }
}

/** Paused and archived ads never serve. */
export class StatusFilter implements AdFilter {
  readonly name = 'status'
  readonly form = 'term'
  readonly scope = 'request'
  readonly term = new BitsetTerm()
  constructor(readonly ix: CatalogIndex) {}

  prepare(): boolean {
    if (this.ix.inactive === null) return false
    this.term.reset(true)
    this.term.add(this.ix.inactive)
    return true
  }

  keep(ords: Int32Array, n: number): number {
    let k = 0
    for (let i = 0; i < n; i++) if (adOf(this.ix, ords[i]!).isActive) ords[k++] = ords[i]!
    return k
  }

  detail(ord: number): string {
    return adOf(this.ix, ord).record.status ?? ''
  }
}
