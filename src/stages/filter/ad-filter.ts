import type { AdFacts, CatalogIndex } from '../../catalog/catalog-index.js'
import type { FilterInput } from './filter-input.js'
import type { AdFilterName } from './filter-names.js'

/**
 * How a filter runs when the index is used:
 * - 'range': it shapes the candidate range itself (format picks the run of ordinals, floor cuts it);
 * - 'term': a bitset term ANDed over whole words of candidates (an inverted index);
 * - 'predicate': a check on each surviving candidate.
 * Without the index (the linear scan, explain), every filter runs as a predicate.
 */
export type FilterForm = 'range' | 'term' | 'predicate'

/**
 * One filter rule kind. Its two forms must agree on every (ad, request): the bitset term for the
 * indexed path, `keep` for a plain scan and explain. Filters are created per catalog and hold the
 * state their `prepare` computes for the current request, so the hot loops allocate nothing.
 */
export interface AdFilter {
  readonly name: AdFilterName
  readonly form: FilterForm
  /** 'request' filters are prepared once per auction, 'imp' filters once per imp. */
  readonly scope: 'request' | 'imp'
  /** Filled by `prepare` for 'term' filters: which bitsets to OR, and whether the result denies. */
  readonly term: BitsetTerm
  /**
   * A RESTRICTION bit (catalog-index.ts) when the filter can only reject ads that carry that kind
   * of restriction (an allow or block list, key-values, attributes): the engine skips it for a
   * batch of candidates none of which does. Absent: it may reject any ad.
   */
  readonly restriction?: number
  /** Reads the request (or imp) facts; false when the filter cannot reject anything this time. */
  prepare(x: FilterInput): boolean
  /** Keeps, in order, the candidates of ords[0..n) this filter accepts; returns how many. */
  keep(ords: Int32Array, n: number, x: FilterInput): number
  /** For explain: the list entry or policy rule that rejects `ord`; '' when the name says it all. */
  detail(ord: number, x: FilterInput): string
}

/** An OR of bitsets over creative ordinals, kept (allow) or removed (deny) from the candidates. */
export class BitsetTerm {
  readonly arrays: Uint32Array[] = []
  count = 0
  isDeny = false

  reset(isDeny: boolean): void {
    this.count = 0
    this.isDeny = isDeny
  }

  /**
   * Adds one bitset; absent postings (a value no ad targets) add nothing, and neither does one
   * already added (a category both the user and the page have): every bitset is read on every
   * block walked.
   */
  add(words: Uint32Array | null | undefined): void {
    if (words === undefined || words === null) return
    for (let i = 0; i < this.count; i++) if (this.arrays[i] === words) return
    this.arrays[this.count++] = words
  }
}

/** The ad a creative belongs to. */
export function adOf(ix: CatalogIndex, ord: number): AdFacts {
  return ix.ads[ix.creativeAd[ord]!]!
}

export function includesAny<T>(a: readonly T[], b: readonly T[]): boolean {
  for (let i = 0; i < a.length; i++) if (b.includes(a[i]!)) return true
  return false
}
