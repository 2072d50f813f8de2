import type { CatalogIndex } from '../../../catalog/catalog-index.js'
import { type AdFilter, BitsetTerm } from '../ad-filter.js'
import type { FilterInput } from '../filter-input.js'

/**
 * Size and media type: the creative must fit one of the imp's formats (banner.format or w/h,
 * video w/h). Indexed, it is the choice of runs of ordinals to walk.
 */
export class FormatFilter implements AdFilter {
  readonly name = 'format'
  readonly form = 'range'
  readonly scope = 'imp'
  readonly term = new BitsetTerm()
  constructor(readonly ix: CatalogIndex) {}

  prepare(): boolean {
    return true
  }

  keep(ords: Int32Array, n: number, x: FilterInput): number {
    const ix = this.ix
    let k = 0
    for (let i = 0; i < n; i++) {
      const o = ords[i]!
      if (x.formatPosition(ix.creativeMedia[o]!, ix.creativeW[o]!, ix.creativeH[o]!) >= 0) ords[k++] = o
    }
    return k
  }

  detail(ord: number): string {
    return `${this.ix.creativeW[ord]}x${this.ix.creativeH[ord]}`
  }
}

/** Price at or above the imp's floor. Indexed, it cuts each run (sorted by price) at the floor. */
export class FloorFilter implements AdFilter {
  readonly name = 'floor'
  readonly form = 'range'
  readonly scope = 'imp'
  readonly term = new BitsetTerm()
  constructor(readonly ix: CatalogIndex) {}

  prepare(x: FilterInput): boolean {
    return x.floorCpm > 0
  }

  keep(ords: Int32Array, n: number, x: FilterInput): number {
    const price = this.ix.creativePriceCpm
    const floor = x.floorCpm
    let k = 0
    for (let i = 0; i < n; i++) {
      const o = ords[i]!
      if (price[o]! >= floor) ords[k++] = o
    }
    return k
  }

  detail(_ord: number, x: FilterInput): string {
    return `floor ${x.floorCpm}`
  }
}

/** First ordinal in [start, end) priced under `floor` (runs are sorted best-paying first). */
export function floorCut(ix: CatalogIndex, start: number, end: number, floor: number): number {
  if (floor <= 0) return end
  const price = ix.creativePriceCpm
  let lo = start
  let hi = end
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (price[mid]! >= floor) lo = mid + 1
    else hi = mid
  }
  return lo
}
