import type { AdRecord } from './ad.js'

/** A house ad at one of its sizes, with its markup built once when the catalog is built. */
export interface HouseCreative {
  readonly ad: AdRecord
  readonly w: number
  readonly h: number
  /** CPM in the exchange currency (cpmMicros / 1e6). */
  readonly priceCpm: number
  readonly adm: string
}

/**
 * The house-ad catalog as the request path reads it: immutable, indexed by banner size with each
 * size's creatives sorted best-paying first, so the filter stops at the first eligible one.
 * A change builds a new catalog off the request path and swaps the reference (see CatalogHolder).
 */
export class HouseCatalog {
  readonly #bySize: Map<string, HouseCreative[]>
  readonly #byId: Map<string, AdRecord>

  private constructor(
    ads: readonly AdRecord[],
    readonly version: number,
  ) {
    this.#bySize = new Map()
    this.#byId = new Map()
    for (const ad of ads) {
      this.#byId.set(ad.id, ad)
      for (const size of ad.sizes) {
        const key = sizeKey(size.w, size.h)
        let list = this.#bySize.get(key)
        if (list === undefined) this.#bySize.set(key, (list = []))
        list.push({
          ad,
          w: size.w,
          h: size.h,
          priceCpm: ad.cpmMicros / 1e6,
          adm: houseAdMarkup(ad, size.w, size.h),
        })
      }
    }
    for (const list of this.#bySize.values()) list.sort(byPriceThenId)
  }

  static build(ads: readonly AdRecord[], version: number): HouseCatalog {
    return new HouseCatalog(ads, version)
  }

  static readonly EMPTY = new HouseCatalog([], 0)

  get size(): number {
    return this.#byId.size
  }

  get(id: string): AdRecord | undefined {
    return this.#byId.get(id)
  }

  ads(): IterableIterator<AdRecord> {
    return this.#byId.values()
  }

  /** Creatives of one size, best first; an empty list when none. */
  creativesOfSize(w: number, h: number): readonly HouseCreative[] {
    return this.#bySize.get(sizeKey(w, h)) ?? NONE
  }
}

const NONE: readonly HouseCreative[] = Object.freeze([])

function sizeKey(w: number, h: number): string {
  return `${w}x${h}`
}

function byPriceThenId(a: HouseCreative, b: HouseCreative): number {
  return b.ad.cpmMicros - a.ad.cpmMicros || (a.ad.id < b.ad.id ? -1 : a.ad.id > b.ad.id ? 1 : 0)
}

/** A plain, safe banner: the image linked to the click URL. Attributes are HTML-escaped. */
export function houseAdMarkup(ad: AdRecord, w: number, h: number): string {
  return (
    `<a href="${escapeHtml(ad.clickUrl)}" target="_blank" rel="noopener">` +
    `<img src="${escapeHtml(ad.imageUrl)}" width="${w}" height="${h}" alt="${escapeHtml(ad.title)}" border="0"></a>`
  )
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c]!)
}

const HTML_ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
}

/** The current catalog; readers take `current` once per auction, writers swap it whole. */
export class CatalogHolder {
  current: HouseCatalog = HouseCatalog.EMPTY
  #isLoaded = false

  swap(next: HouseCatalog): void {
    this.current = next
    this.#isLoaded = true
  }

  get isLoaded(): boolean {
    return this.#isLoaded
  }
}
