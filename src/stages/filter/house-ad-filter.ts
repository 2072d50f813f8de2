import type { HouseCreative } from '../../catalog/house-catalog.js'
import type { Imp } from '../../openrtb/types.js'
import type { AuctionContext, RequestSignals } from '../../pipeline/auction-context.js'

/** The request facts every ad is checked against, read once per auction. */
export interface AdCheckInput {
  readonly signals: RequestSignals
  readonly domain: string | null
  readonly country: string | null
  readonly deviceType: number | null
  /** Categories an ad must match when any are known: user preferences and page context. */
  readonly relevantCategories: readonly string[]
}

export function adCheckInput(ctx: AuctionContext, signals: RequestSignals): AdCheckInput {
  const req = ctx.request
  const relevant =
    signals.userCategories.length === 0
      ? signals.pageCategories
      : signals.pageCategories.length === 0
        ? signals.userCategories
        : [...signals.userCategories, ...signals.pageCategories]
  return {
    signals,
    domain: req.site?.domain ?? null,
    country: req.device?.geo?.country ?? req.user?.geo?.country ?? null,
    deviceType: req.device?.devicetype ?? null,
    relevantCategories: relevant,
  }
}

/**
 * Whether a house creative may serve on this imp. Cheap, most-rejecting checks first; the first
 * failing check ends it. When the user's or page's categories are known, only ads in those
 * categories serve (the "ads for this user" behaviour); with none known, untargeted ads serve.
 */
export function isEligible(
  c: HouseCreative,
  floor: number,
  battr: readonly number[] | undefined,
  x: AdCheckInput,
): boolean {
  const ad = c.ad
  const t = ad.targeting
  if (c.priceCpm < floor) return false
  if (x.signals.badv.length > 0 && x.signals.badv.includes(ad.advertiserDomain)) return false
  if (x.signals.bcat.length > 0 && x.signals.bcat.includes(ad.category)) return false
  if (t.brandSafe && x.signals.brandUnsafe) return false
  if (t.countries.length > 0 && (x.country === null || !t.countries.includes(x.country))) return false
  if (t.deviceTypes.length > 0 && (x.deviceType === null || !t.deviceTypes.includes(x.deviceType)))
    return false
  if (x.domain !== null && t.blockedDomains.length > 0 && t.blockedDomains.includes(x.domain)) return false
  if (battr !== undefined && t.attributes.length > 0 && intersects(t.attributes, battr)) return false
  if (x.relevantCategories.length > 0) {
    if (!x.relevantCategories.includes(ad.category) && !intersects(t.categories, x.relevantCategories))
      return false
  } else if (t.categories.length > 0) {
    return false // a category-targeted ad needs a known category
  }
  return true
}

function intersects<T>(a: readonly T[], b: readonly T[]): boolean {
  for (let i = 0; i < a.length; i++) if (b.includes(a[i]!)) return true
  return false
}

/** Banner sizes an imp accepts: its formats, or w/h. */
export function impSizes(imp: Imp): readonly { readonly w?: number; readonly h?: number }[] {
  const banner = imp.banner
  if (banner === undefined) return NO_SIZES
  if (banner.format !== undefined && banner.format.length > 0) return banner.format
  if (banner.w !== undefined && banner.h !== undefined) return [banner]
  return NO_SIZES
}

const NO_SIZES: readonly never[] = Object.freeze([])
