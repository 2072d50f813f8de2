import { type CatalogIndex, RESTRICTION } from '../../../catalog/catalog-index.js'
import { type AdFilter, BitsetTerm } from '../ad-filter.js'
import type { FilterInput } from '../filter-input.js'

/** Values one key may carry on one imp (a list in imp.ext or site.ext); more are ignored. */
const MAX_VALUES_PER_KEY = 16
/** The request carries a value no ad asks for: it matches no constraint. */
const UNKNOWN_VALUE = -1

/**
 * Key-values: every key an ad lists must carry one of its values in imp.ext (first) or
 * site.ext / app.ext. Keys and values are interned when the catalog is built; per imp the request's
 * values become small integers once, and each candidate's check compares integers.
 */
export class KeyValueFilter implements AdFilter {
  readonly name = 'key_value'
  readonly form = 'predicate'
  readonly scope = 'imp'
  readonly term = new BitsetTerm()
  readonly restriction = RESTRICTION.keyValues
  /** Per catalog key, the request's value ids: [reqStart[k], reqStart[k+1]) of reqValues. */
  readonly #reqStart: Int32Array
  readonly #reqValues: Int32Array
  constructor(readonly ix: CatalogIndex) {
    this.#reqStart = new Int32Array(ix.keyValues.keys.length + 1)
    this.#reqValues = new Int32Array(ix.keyValues.keys.length * MAX_VALUES_PER_KEY)
  }

  prepare(x: FilterInput): boolean {
    const kv = this.ix.keyValues
    if (kv.keys.length === 0) return false
    let n = 0
    for (let k = 0; k < kv.keys.length; k++) {
      this.#reqStart[k] = n
      const key = kv.keys[k]!
      n = this.#addValues(x.impExt?.[key] ?? x.siteExt?.[key], n)
    }
    this.#reqStart[kv.keys.length] = n
    return true
  }

  #addValues(v: unknown, n: number): number {
    if (v === undefined || v === null) return n
    if (!Array.isArray(v)) return this.#addValue(v, n)
    for (let i = 0; i < v.length && i < MAX_VALUES_PER_KEY; i++) n = this.#addValue(v[i], n)
    return n
  }

  #addValue(v: unknown, n: number): number {
    if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean') return n
    this.#reqValues[n] = this.ix.keyValues.valueIds.get(String(v)) ?? UNKNOWN_VALUE
    return n + 1
  }

  keep(ords: Int32Array, n: number): number {
    const creativeAd = this.ix.creativeAd
    const adStart = this.ix.keyValues.adStart
    let k = 0
    for (let i = 0; i < n; i++) {
      const o = ords[i]!
      const a = creativeAd[o]!
      if (adStart[a] === adStart[a + 1] || this.#firstUnmet(a) < 0) ords[k++] = o
    }
    return k
  }

  /** The first of the ad's constraints the request does not meet; -1 when all are met. */
  #firstUnmet(a: number): number {
    const kv = this.ix.keyValues
    for (let c = kv.adStart[a]!; c < kv.adStart[a + 1]!; c++) {
      const key = kv.conKey[c]!
      if (!this.#meets(c, this.#reqStart[key]!, this.#reqStart[key + 1]!)) return c
    }
    return -1
  }

  #meets(c: number, from: number, to: number): boolean {
    const kv = this.ix.keyValues
    for (let r = from; r < to; r++) {
      const v = this.#reqValues[r]!
      for (let j = kv.conValStart[c]!; j < kv.conValStart[c + 1]!; j++) if (kv.values[j] === v) return true
    }
    return false
  }

  detail(ord: number): string {
    const c = this.#firstUnmet(this.ix.creativeAd[ord]!)
    return c < 0 ? '' : (this.ix.keyValues.keys[this.ix.keyValues.conKey[c]!] ?? '')
  }
}
