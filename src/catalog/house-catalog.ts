import type { AdRecord } from './ad.js'
import { buildCatalogIndex, type CatalogIndex, formatKey, mediaIndex } from './catalog-index.js'
import type { PolicyRule } from './policy-rule.js'

/** A house ad at one of its sizes, with its markup built once when the catalog is built. */
export interface HouseCreative {
  readonly ad: AdRecord
  readonly w: number
  readonly h: number
  /** CPM in the exchange currency (cpmMicros / 1e6). */
  readonly priceCpm: number
  readonly adm: string
}

const NO_POLICIES: readonly PolicyRule[] = Object.freeze([])
/** CPU a sliced build takes before it lets auctions run: well under an auction's budget. */
const DEFAULT_SLICE_MS = 2

export interface HouseCatalogOptions {
  /** Exchange policy rules, folded into the catalog's indexes. */
  readonly policies?: readonly PolicyRule[]
}

/**
 * The house-ad catalog as the request path reads it: immutable, with its selection index
 * (creatives grouped by format and ranked best-paying first, bitsets per targeting value, policy
 * rules folded in). A change builds a new catalog off the request path, in slices that let
 * auctions run in between (buildInSlices), and swaps the reference (see CatalogHolder).
 */
export class HouseCatalog {
  readonly #byId: Map<string, AdRecord>

  private constructor(
    ads: readonly AdRecord[],
    readonly version: number,
    readonly index: CatalogIndex,
    readonly policies: readonly PolicyRule[],
  ) {
    this.#byId = new Map()
    for (const ad of ads) this.#byId.set(ad.id, ad)
  }

  /** Builds at once: for startup and tests, where nothing is serving yet. */
  static build(ads: readonly AdRecord[], version: number, options: HouseCatalogOptions = {}): HouseCatalog {
    const policies = options.policies ?? NO_POLICIES
    const steps = buildCatalogIndex(ads, policies, createCreative)
    for (;;) {
      const step = steps.next()
      if (step.done === true) return new HouseCatalog(ads, version, step.value, policies)
    }
  }

  /**
   * Builds in slices of about `sliceMs` of CPU, yielding to the event loop between them, so a
   * catalog change never stalls the auctions in flight (a 10,000-ad build takes about 100 ms).
   */
  static buildInSlices(
    ads: readonly AdRecord[],
    version: number,
    options: HouseCatalogOptions & { readonly sliceMs?: number } = {},
  ): Promise<HouseCatalog> {
    const policies = options.policies ?? NO_POLICIES
    const sliceMs = options.sliceMs ?? DEFAULT_SLICE_MS
    const steps = buildCatalogIndex(ads, policies, createCreative)
    return new Promise((resolve, reject) => {
      const runSlice = (): void => {
        try {
          const until = performance.now() + sliceMs
          for (;;) {
            const step = steps.next()
            if (step.done === true) return resolve(new HouseCatalog(ads, version, step.value, policies))
            if (performance.now() >= until) return void setImmediate(runSlice)
          }
        } catch (err) {
          reject(err)
        }
      }
      setImmediate(runSlice)
    })
  }

  static readonly EMPTY = HouseCatalog.build([], 0)

  get size(): number {
    return this.#byId.size
  }

  get(id: string): AdRecord | undefined {
    return this.#byId.get(id)
  }

  ads(): IterableIterator<AdRecord> {
    return this.#byId.values()
  }

  /** Banner creatives of one size, best first; an empty list when none. */
  creativesOfSize(w: number, h: number): readonly HouseCreative[] {
    const range = this.index.formats.get(formatKey(mediaIndex('banner'), w, h))
    return range === undefined
      ? NONE
      : (this.index.creatives.slice(range.start, range.end) as HouseCreative[])
  }
}

function createCreative(ad: AdRecord, w: number, h: number): HouseCreative {
  const adm = ad.mediaType === 'video' ? houseVideoMarkup(ad) : houseAdMarkup(ad, w, h)
  return { ad, w, h, priceCpm: ad.cpmMicros / 1e6, adm }
}

const NONE: readonly HouseCreative[] = Object.freeze([])

/** A plain, safe banner: the image linked to the click URL. Attributes are HTML-escaped. */
export function houseAdMarkup(ad: AdRecord, w: number, h: number): string {
  return (
    `<a href="${escapeHtml(ad.clickUrl)}" target="_blank" rel="noopener">` +
    `<img src="${escapeHtml(ad.imageUrl)}" width="${w}" height="${h}" alt="${escapeHtml(ad.title)}" border="0"></a>`
  )
}

/**
 * A video house ad: its imageURL names the ad's VAST document, wrapped so the player fetches it
 * and reports the click through our markup.
 */
export function houseVideoMarkup(ad: AdRecord): string {
  return (
    `<VAST version="4.0"><Ad id="${escapeHtml(ad.id)}"><Wrapper><AdSystem>house</AdSystem>` +
    `<VASTAdTagURI><![CDATA[${cdata(ad.imageUrl)}]]></VASTAdTagURI>` +
    `<Creatives><Creative><Linear><VideoClicks><ClickTracking><![CDATA[${cdata(ad.clickUrl)}]]></ClickTracking>` +
    '</VideoClicks></Linear></Creative></Creatives></Wrapper></Ad></VAST>'
  )
}

/** A CDATA section cannot hold "]]>": split it across two sections. */
function cdata(s: string): string {
  return s.replaceAll(']]>', ']]]]><![CDATA[>')
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
