import { type CatalogIndex, RESTRICTION } from '../../../catalog/catalog-index.js'
import { type AdFilter, adOf, BitsetTerm, includesAny } from '../ad-filter.js'
import type { FilterInput } from '../filter-input.js'

/*
 * Blocks: the request (or the ad) names what must not meet. Brand safety and status are deny terms
 * (a bitset the catalog builds once); the ad's own block lists are in list-filters.ts.
 */

/**
 * A request-sized set of ids as a lookup table over a catalog's ids: set for one request, cleared
 * by undoing exactly what was set, so a long table costs nothing per request.
 */
class IdFlags {
  readonly flags: Uint8Array
  readonly #set: Int32Array
  #count = 0
  constructor(size: number) {
    this.flags = new Uint8Array(size)
    this.#set = new Int32Array(size)
  }

  /** Flags the ids of `values` the catalog knows; returns how many it flagged. */
  reset(ids: ReadonlyMap<string, number>, values: readonly string[]): number {
    for (let i = 0; i < this.#count; i++) this.flags[this.#set[i]!] = 0
    let count = 0
    for (let i = 0; i < values.length; i++) {
      const id = ids.get(values[i]!)
      if (id === undefined || this.flags[id] === 1) continue
      this.flags[id] = 1
      this.#set[count++] = id
    }
    this.#count = count
    return count
  }
}

const NO_NUMBERS: readonly number[] = Object.freeze([])

/*
 * badv, bcat and battr name a set of values checked against one small fact of the ad. A bitset
 * term would OR one posting per listed value over every word walked (a long badv is a dozen cache
 * lines per block); as a lookup per surviving candidate it costs one table read.
 */

/** The request's badv (merged with the publisher's) against the ad's advertiser domain. */
export class BadvFilter implements AdFilter {
  readonly name = 'badv'
  readonly form = 'predicate'
  readonly scope = 'request'
  readonly term = new BitsetTerm()
  readonly #blocked: IdFlags
  constructor(readonly ix: CatalogIndex) {
    this.#blocked = new IdFlags(ix.advertiserIds.size)
  }

  prepare(x: FilterInput): boolean {
    return this.#blocked.reset(this.ix.advertiserIds, x.badv) > 0
  }

  keep(ords: Int32Array, n: number): number {
    const creativeAd = this.ix.creativeAd
    const advertiser = this.ix.adAdvertiser
    const blocked = this.#blocked.flags
    let k = 0
    for (let i = 0; i < n; i++) {
      const o = ords[i]!
      if (blocked[advertiser[creativeAd[o]!]!] === 0) ords[k++] = o
    }
    return k
  }

  detail(ord: number): string {
    return adOf(this.ix, ord).record.advertiserDomain
  }
}

/** The request's bcat (merged with the publisher's) against the ad's category. */
export class BcatFilter implements AdFilter {
  readonly name = 'bcat'
  readonly form = 'predicate'
  readonly scope = 'request'
  readonly term = new BitsetTerm()
  readonly #blocked: IdFlags
  constructor(readonly ix: CatalogIndex) {
    this.#blocked = new IdFlags(ix.categoryIds.size)
  }

  prepare(x: FilterInput): boolean {
    return this.#blocked.reset(this.ix.categoryIds, x.bcat) > 0
  }

  keep(ords: Int32Array, n: number): number {
    const creativeAd = this.ix.creativeAd
    const category = this.ix.adCategory
    const blocked = this.#blocked.flags
    let k = 0
    for (let i = 0; i < n; i++) {
      const o = ords[i]!
      if (blocked[category[creativeAd[o]!]!] === 0) ords[k++] = o
    }
    return k
  }

  detail(ord: number): string {
    return adOf(this.ix, ord).record.category
  }
}

/** The imp's battr against the creative's attributes: one AND of attribute bits per candidate. */
export class BattrFilter implements AdFilter {
  readonly name = 'battr'
  readonly form = 'predicate'
  readonly scope = 'imp'
  readonly term = new BitsetTerm()
  readonly restriction = RESTRICTION.attributes
  #mask = 0
  /** battr values past 31 (none in AdCOM 1.0), checked against the ad's list; usually none. */
  #others: readonly number[] = NO_NUMBERS
  constructor(readonly ix: CatalogIndex) {}

  prepare(x: FilterInput): boolean {
    let mask = 0
    let hasOthers = false
    for (let i = 0; i < x.battr.length; i++) {
      const attr = x.battr[i]!
      if (attr >= 0 && attr < 32) mask |= 1 << attr
      else hasOthers = true
    }
    this.#mask = mask
    this.#others = hasOthers ? x.battr.filter((a) => a < 0 || a >= 32) : NO_NUMBERS
    return mask !== 0 || hasOthers
  }

  keep(ords: Int32Array, n: number): number {
    const creativeAd = this.ix.creativeAd
    const attributes = this.ix.adAttributeMask
    const mask = this.#mask
    let k = 0
    for (let i = 0; i < n; i++) {
      const o = ords[i]!
      const a = creativeAd[o]!
      if (
        (attributes[a]! & mask) === 0 &&
        (this.#others.length === 0 || !includesAny(this.ix.ads[a]!.attributes, this.#others))
      ) {
        ords[k++] = o
      }
    }
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

/**
 * Paused and archived ads never serve. Indexed, a deny term over a bitset the catalog builds once
 * (the same for every request); per candidate, one byte per ad.
 */
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
    const creativeAd = this.ix.creativeAd
    const isActive = this.ix.adIsActive
    let k = 0
    for (let i = 0; i < n; i++) {
      const o = ords[i]!
      if (isActive[creativeAd[o]!] === 1) ords[k++] = o
    }
    return k
  }

  detail(ord: number): string {
    return adOf(this.ix, ord).record.status ?? ''
  }
}
