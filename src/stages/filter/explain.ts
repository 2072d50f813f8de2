import type { HouseCatalog, HouseCreative } from '../../catalog/house-catalog.js'
import type { BidRequest } from '../../openrtb/types.js'
import type { RequestSignals } from '../../pipeline/auction-context.js'
import { FilterEngine } from './filter-engine.js'
import { AD_FILTER_NAMES, type AdFilterName, type RequestFilterName } from './filter-names.js'

/** One candidate ad of an imp and the first filter that turned it down. */
export interface CandidateExplanation {
  readonly adId: string
  readonly w: number
  readonly h: number
  readonly price: number
  /** The first filter, in the order they ran, that rejected it; null when it was eligible. */
  readonly rejectedBy: AdFilterName | null
  /** The value or policy rule behind the rejection ("USA", "policy-17"); '' when the name says it. */
  readonly detail: string
  /** Among the creatives the imp kept. */
  readonly isSelected: boolean
}

export interface ImpExplanation {
  readonly impId: string
  /** The imp's best-paying candidates (floor not applied), at most the explain limit. */
  readonly candidates: readonly CandidateExplanation[]
  /** Why no candidate was looked at, when none was (an unbiddable imp). */
  readonly note?: string
}

/**
 * What the filter stage did for one debug auction (request test: 1, ext.debug or ext.explain): the
 * BidResponse carries it as ext.explain.
 */
export interface FilterExplanation {
  /** The catalog the auction read: its version (ad:catalog:version) and number of ads. */
  readonly catalogVersion: number
  readonly catalogAds: number
  /** The request filter that ended the auction, if one did (then no ad was looked at). */
  readonly requestRejectedBy: RequestFilterName | null
  /** The ad filters in the order they ran. */
  readonly order: readonly AdFilterName[]
  /** The first MAX_EXPLAINED_IMPS imps. */
  readonly imps: readonly ImpExplanation[]
  /** Imps past MAX_EXPLAINED_IMPS, not explained (the answer stays small). */
  readonly impsNotExplained: number
}

/** Imps an explanation covers; with the per-imp candidate limit, this bounds its size. */
export const MAX_EXPLAINED_IMPS = 16

/** test: 1, or a truthy ext.debug / ext.explain, asks for an explanation in the response. */
export function wantsExplanation(request: BidRequest): boolean {
  const ext = request.ext
  return request.test === 1 || (ext !== undefined && (isTruthy(ext['debug']) || isTruthy(ext['explain'])))
}

function isTruthy(v: unknown): boolean {
  return v === true || v === 1 || v === '1' || v === 'true'
}

/**
 * Explains the imp the engine just selected for: its best-paying candidates, distinct ads in
 * the imp's format order, each with the first active filter (in the engine's run order) that
 * rejects it.
 */
export function explainImp(
  engine: FilterEngine,
  impId: string,
  kept: readonly HouseCreative[],
  limit: number,
): ImpExplanation {
  const x = engine.input
  const ix = x.index!
  const order = engine.runOrder()
  const seen = new Set<number>()
  const candidates: CandidateExplanation[] = []
  for (let fi = 0; fi < x.formatCount && candidates.length < limit; fi++) {
    const range = ix.formats.get(x.formatKeys[fi]!)
    if (range === undefined) continue
    for (let ord = range.start; ord < range.end && candidates.length < limit; ord++) {
      const ad = ix.creativeAd[ord]!
      if (seen.has(ad)) continue
      seen.add(ad)
      const creative = ix.creatives[ord]!
      const rejectedBy = order.find((f) => !engine.accepts(f, ord))
      candidates.push({
        adId: creative.ad.id,
        w: creative.w,
        h: creative.h,
        price: creative.priceCpm,
        rejectedBy: rejectedBy === undefined ? null : AD_FILTER_NAMES[rejectedBy]!,
        detail: rejectedBy === undefined ? '' : engine.filters[rejectedBy]!.detail(ord, x),
        isSelected: kept.some((k) => k.ad === creative.ad),
      })
    }
  }
  return { impId, candidates }
}

/** Why one ad does or does not serve on each imp of a request (the admin API's explain). */
export interface AdExplanation {
  readonly adId: string
  readonly isFound: boolean
  readonly imps: readonly {
    readonly impId: string
    readonly isEligible: boolean
    /** Would be among the creatives the imp keeps (eligible and among the best-paying). */
    readonly isSelected: boolean
    /** The first failing filter in the canonical order (AD_FILTER_NAMES); null when eligible. */
    readonly rejectedBy: AdFilterName | null
    /** Every filter the ad fails, with the value or rule behind each. */
    readonly failed: readonly { readonly filter: AdFilterName; readonly detail: string }[]
  }[]
}

/**
 * Explains one ad against a posted request, as a pure function of the catalog, the request and
 * its decoration (signals). Floors are the imp's bidfloor raised to the publisher's, as the
 * decorate stage computes them (currency aside); pass `floors` to override.
 */
export function explainAd(
  catalog: HouseCatalog,
  adId: string,
  request: BidRequest,
  signals: RequestSignals,
  options: { readonly nowMs?: number; readonly floors?: readonly number[] } = {},
): AdExplanation {
  const ix = catalog.index
  const ordinal = ix.ads.findIndex((a) => a.record.id === adId)
  if (ordinal < 0) return { adId, isFound: false, imps: [] }
  const engine = new FilterEngine({ order: AD_FILTER_NAMES })
  engine.beginRequest(catalog, request, signals, options.nowMs ?? Date.now())
  const imps = request.imp.map((imp, i) => {
    const floor = options.floors?.[i] ?? Math.max(imp.bidfloor ?? 0, signals.publisherFloorCpm)
    // -1: the decorate stage found the imp unbiddable (floored in a currency we do not transact in).
    if (floor < 0) return unbiddableImp(imp.id)
    const kept = engine.selectImp(i, request, floor)
    const ord = bestCreativeOf(engine, ordinal)
    const failed: { filter: AdFilterName; detail: string }[] = []
    if (ord < 0) failed.push({ filter: 'format', detail: sizesOf(catalog, adId) })
    else {
      for (let f = 0; f < AD_FILTER_NAMES.length; f++) {
        if (!engine.isActive(f) || engine.accepts(f, ord)) continue
        failed.push({ filter: AD_FILTER_NAMES[f]!, detail: engine.filters[f]!.detail(ord, engine.input) })
      }
    }
    return {
      impId: imp.id,
      isEligible: failed.length === 0,
      isSelected: kept.some((c) => c.ad.id === adId),
      rejectedBy: failed[0]?.filter ?? null,
      failed,
    }
  })
  return { adId, isFound: true, imps }
}

function unbiddableImp(impId: string): AdExplanation['imps'][number] {
  const detail = 'bidfloorcur is not the exchange currency'
  return {
    impId,
    isEligible: false,
    isSelected: false,
    rejectedBy: 'floor',
    failed: [{ filter: 'floor', detail }],
  }
}

/** The ad's creative at the imp's earliest format it fits; -1 when it fits none. */
function bestCreativeOf(engine: FilterEngine, ordinal: number): number {
  const x = engine.input
  const ix = x.index!
  let best = -1
  let bestPos = Number.POSITIVE_INFINITY
  for (let ord = 0; ord < ix.ordinalCount; ord++) {
    if (ix.creativeAd[ord] !== ordinal) continue
    const pos = x.formatPosition(ix.creativeMedia[ord]!, ix.creativeW[ord]!, ix.creativeH[ord]!)
    if (pos >= 0 && pos < bestPos) {
      best = ord
      bestPos = pos
    }
  }
  return best
}

function sizesOf(catalog: HouseCatalog, adId: string): string {
  const ad = catalog.get(adId)
  return ad === undefined
    ? ''
    : `${ad.mediaType ?? 'banner'} ${ad.sizes.map((s) => `${s.w}x${s.h}`).join(',')}`
}
