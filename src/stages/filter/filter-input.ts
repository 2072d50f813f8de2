import type { CatalogIndex } from '../../catalog/catalog-index.js'
import { formatKey } from '../../catalog/catalog-index.js'
import { placementKey } from '../../catalog/policy-index.js'
import type { BidRequest, Imp } from '../../openrtb/types.js'
import type { RequestSignals } from '../../pipeline/auction-context.js'
import { EMPTY_LIST } from '../../pipeline/auction-context.js'

/** Formats one imp may offer (banner formats plus a video size); more are ignored. */
export const MAX_IMP_FORMATS = 32

/**
 * The request facts every filter reads, taken from the request once per auction and from the imp
 * once per imp. One instance per engine, refilled in place: the same hidden class every time and
 * no allocation per auction beyond a lower-cased OS string.
 */
export class FilterInput {
  index: CatalogIndex | null = null
  nowMs = 0
  /** Minutes since the epoch, now. */
  nowMinutes = 0
  country: string | null = null
  region: string | null = null
  deviceType = -1
  /** device.os, lower-cased. */
  os: string | null = null
  /** site.domain, else app.domain, else app.bundle. */
  domain: string | null = null
  publisherId: string | null = null
  /** geo.utcoffset in minutes; 0 (UTC) when the request does not say. */
  userUtcOffsetMinutes = 0
  userCategories: readonly string[] = EMPTY_LIST
  pageCategories: readonly string[] = EMPTY_LIST
  bcat: readonly string[] = EMPTY_LIST
  badv: readonly string[] = EMPTY_LIST
  brandUnsafe = false
  /** site.ext or app.ext: where key-values live when the imp does not carry them. */
  siteExt: Record<string, unknown> | null = null

  impIndex = -1
  impExt: Record<string, unknown> | null = null
  floorCpm = 0
  battr: readonly number[] = EMPTY_LIST
  /** placementKey(banner.pos, instl). */
  placement = 0
  /** imp.ext.viewability (0–100); 0 when unknown. */
  viewability = 0
  /** The imp's formats as formatKey numbers, in the imp's order. */
  readonly formatKeys = new Float64Array(MAX_IMP_FORMATS)
  formatCount = 0

  beginAuction(index: CatalogIndex, request: BidRequest, signals: RequestSignals, nowMs: number): void {
    this.index = index
    this.nowMs = nowMs
    this.nowMinutes = Math.floor(nowMs / 60_000)
    const device = request.device
    const userGeo = request.user?.geo
    const geo = device?.geo?.country !== undefined ? device.geo : (userGeo ?? device?.geo)
    this.country = geo?.country ?? null
    this.region = geo?.region ?? null
    const offset = geo?.utcoffset
    this.userUtcOffsetMinutes =
      typeof offset === 'number' && Math.abs(offset) <= 14 * 60 ? Math.trunc(offset) : 0
    this.deviceType = device?.devicetype ?? -1
    this.os = typeof device?.os === 'string' ? device.os.toLowerCase() : null
    const site = request.site
    const app = request.app
    this.domain = site?.domain ?? app?.domain ?? app?.bundle ?? null
    this.publisherId = site?.publisher?.id ?? app?.publisher?.id ?? null
    this.siteExt = site?.ext ?? app?.ext ?? null
    this.userCategories = signals.userCategories
    this.pageCategories = signals.pageCategories
    this.bcat = signals.bcat
    this.badv = signals.badv
    this.brandUnsafe = signals.brandUnsafe
  }

  beginImp(impIndex: number, imp: Imp, floorCpm: number): void {
    this.impIndex = impIndex
    this.impExt = imp.ext ?? null
    this.floorCpm = floorCpm
    const banner = imp.banner
    const video = imp.video
    this.battr = mergeBattr(banner?.battr, video?.battr)
    this.placement = placementKey(banner?.pos ?? video?.pos, imp.instl)
    const viewability = imp.ext?.['viewability']
    this.viewability = typeof viewability === 'number' && viewability > 0 ? viewability : 0
    this.formatCount = 0
    if (banner !== undefined) {
      const formats = banner.format
      if (formats !== undefined && formats.length > 0) {
        for (let i = 0; i < formats.length; i++) this.addFormat(0, formats[i]!.w, formats[i]!.h)
      } else this.addFormat(0, banner.w, banner.h)
    }
    if (video !== undefined) this.addFormat(1, video.w, video.h)
  }

  /** Position of the creative's format among the imp's formats; -1 when the imp does not take it. */
  formatPosition(media: number, w: number, h: number): number {
    const key = formatKey(media, w, h)
    for (let i = 0; i < this.formatCount; i++) if (this.formatKeys[i] === key) return i
    return -1
  }

  private addFormat(media: number, w: number | undefined, h: number | undefined): void {
    if (w === undefined || h === undefined || this.formatCount === MAX_IMP_FORMATS) return
    const key = formatKey(media, w, h)
    for (let i = 0; i < this.formatCount; i++) if (this.formatKeys[i] === key) return
    this.formatKeys[this.formatCount++] = key
  }
}

/** banner.battr and video.battr: the imp takes either, so a creative must clear both. */
function mergeBattr(a: readonly number[] | undefined, b: readonly number[] | undefined): readonly number[] {
  if (a === undefined || a.length === 0) return b ?? EMPTY_LIST
  if (b === undefined || b.length === 0) return a
  return [...a, ...b]
}
