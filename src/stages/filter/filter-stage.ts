import type { CatalogHolder, HouseCreative } from '../../catalog/house-catalog.js'
import type { AuctionContext } from '../../pipeline/auction-context.js'
import type { Stage } from '../../pipeline/stage.js'
import { adCheckInput, impSizes, isEligible } from './house-ad-filter.js'

/** How many eligible house creatives to keep per imp: the best, plus spares in case pacing refuses it. */
const KEEP_PER_IMP = 3

/**
 * Selects the house creatives that may compete for each imp. The catalog is indexed by size and
 * sorted best-paying first, so each size's walk stops once it has found enough eligible creatives.
 * The filter never ends the auction: DSP demand may still bid where no house ad fits.
 */
export function createFilterStage(catalog: CatalogHolder): Stage {
  return {
    name: 'filter',
    run(ctx) {
      const current = catalog.current
      const signals = ctx.signals
      const imps = ctx.request.imp
      const houseAds: HouseCreative[][] = new Array(imps.length)
      if (current.size === 0 || signals === null) {
        for (let i = 0; i < imps.length; i++) houseAds[i] = []
        ctx.houseAds = houseAds
        return undefined
      }
      const input = adCheckInput(ctx, signals)
      for (let i = 0; i < imps.length; i++) houseAds[i] = selectForImp(ctx, i, current, input)
      ctx.houseAds = houseAds
      return undefined
    },
  }
}

function selectForImp(
  ctx: AuctionContext,
  impIndex: number,
  catalog: CatalogHolder['current'],
  input: ReturnType<typeof adCheckInput>,
): HouseCreative[] {
  const imp = ctx.request.imp[impIndex]!
  const floor = ctx.floors[impIndex] ?? 0
  const kept: HouseCreative[] = []
  if (floor < 0) return kept
  const battr = imp.banner?.battr as number[] | undefined
  for (const size of impSizes(imp)) {
    if (size.w === undefined || size.h === undefined) continue
    const creatives = catalog.creativesOfSize(size.w, size.h)
    let found = 0
    for (let j = 0; j < creatives.length && found < KEEP_PER_IMP; j++) {
      const c = creatives[j]!
      if (isEligible(c, floor, battr, input) && !containsAd(kept, c)) {
        kept.push(c)
        found++
      }
    }
  }
  if (kept.length > 1) kept.sort((a, b) => b.priceCpm - a.priceCpm)
  if (kept.length > KEEP_PER_IMP) kept.length = KEEP_PER_IMP
  return kept
}

/** A multi-size ad may be eligible at several of the imp's sizes; it competes once. */
function containsAd(kept: readonly HouseCreative[], c: HouseCreative): boolean {
  for (let i = 0; i < kept.length; i++) if (kept[i]!.ad === c.ad) return true
  return false
}
