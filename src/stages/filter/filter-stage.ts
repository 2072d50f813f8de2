import type { CatalogHolder, HouseCreative } from '../../catalog/house-catalog.js'
import type { CounterChild, StageName } from '../../metrics/metrics.js'
import type { AuctionContext } from '../../pipeline/auction-context.js'
import type { Stage, StageResult } from '../../pipeline/stage.js'
import { explainImp, type FilterExplanation, type ImpExplanation, wantsExplanation } from './explain.js'
import { FilterEngine, type FilterEngineOptions } from './filter-engine.js'
import { AD_FILTER_NAMES, type FilterName } from './filter-names.js'
import {
  createRequestFilters,
  DEFAULT_REQUEST_FILTER_CONFIG,
  type RequestFilterConfig,
} from './request-filters.js'

export interface FilterStageOptions {
  /** Request filters run first in this stage; null when a separate request-filter stage runs them. */
  readonly requestFilters?: RequestFilterConfig | null
  /** rtb_filter_rejections_total children (ExchangeMetrics.filterRejections). */
  readonly metrics?: Readonly<Record<FilterName, CounterChild>> | null
  readonly engine?: FilterEngineOptions
  /** Wall clock for flights and dayparts (epoch ms). */
  readonly now?: () => number
  /** Candidates per imp an explanation lists. */
  readonly explainLimit?: number
}

export interface FilterStage extends Stage {
  readonly engine: FilterEngine
  /** Adds the rejections counted since the last flush to the metrics (also done every 64 auctions). */
  flushMetrics(): void
}

/** Auctions between two flushes of the rejection counts into prom-client (a labelled inc is not free). */
const FLUSH_EVERY = 64
const DEFAULT_EXPLAIN_LIMIT = 20

/**
 * Selects the house creatives that may compete for each imp (ctx.houseAds: per imp, best first,
 * up to three). Request filters first: traffic not worth an auction ends here with its no-bid
 * reason. Then the filter engine over the current catalog, read once per auction, so a catalog
 * swapped in meanwhile serves from the next auction on. Ad filtering never ends the auction: DSP
 * demand may still bid where no house ad fits.
 */
export function createFilterStage(catalog: CatalogHolder, options: FilterStageOptions = {}): FilterStage {
  const engine = new FilterEngine(options.engine)
  const requestConfig =
    options.requestFilters === undefined ? DEFAULT_REQUEST_FILTER_CONFIG : options.requestFilters
  const requestFilters = requestConfig === null ? null : createRequestFilters(requestConfig)
  const metrics = options.metrics ?? null
  const now = options.now ?? Date.now
  const explainLimit = options.explainLimit ?? DEFAULT_EXPLAIN_LIMIT
  const counts = new Float64Array(AD_FILTER_NAMES.length)
  let auctions = 0

  function flushMetrics(): void {
    engine.takeRejections(counts)
    if (metrics === null) return
    for (let f = 0; f < counts.length; f++) if (counts[f]! > 0) metrics[AD_FILTER_NAMES[f]!].inc(counts[f]!)
  }

  function selectExplained(ctx: AuctionContext): HouseCreative[][] {
    const current = catalog.current
    const request = ctx.request
    engine.beginRequest(current, request, ctx.signals!, now())
    const imps: ImpExplanation[] = []
    const houseAds = request.imp.map((imp, i) => {
      const kept = engine.selectImp(i, request, ctx.floors[i] ?? 0)
      imps.push(explainImp(engine, imp.id, kept, explainLimit))
      return kept
    })
    explanations.set(ctx, { requestRejectedBy: null, order: engine.currentOrder(), imps })
    return houseAds
  }

  return {
    name: 'filter',
    engine,
    flushMetrics,
    run(ctx): StageResult {
      const rejection = requestFilters?.check(ctx.request) ?? null
      if (rejection !== null) {
        metrics?.[rejection.filter].inc()
        if (wantsExplanation(ctx.request)) {
          explanations.set(ctx, { requestRejectedBy: rejection.filter, order: [], imps: [] })
        }
        return rejection.reason
      }
      const current = catalog.current
      if (current.size === 0 || ctx.signals === null) {
        ctx.houseAds = ctx.request.imp.map(() => [])
        return undefined
      }
      ctx.houseAds = wantsExplanation(ctx.request)
        ? selectExplained(ctx)
        : engine.select(current, ctx.request, ctx.signals, ctx.floors, now())
      if (++auctions % FLUSH_EVERY === 0) flushMetrics()
      return undefined
    },
  }
}

/**
 * Request filters alone, as their own stage: placed before decorate, discarded traffic skips the
 * store round trip too. Its name must be one of STAGE_NAMES (its time is recorded under it).
 */
export function createRequestFilterStage(
  config: RequestFilterConfig = DEFAULT_REQUEST_FILTER_CONFIG,
  options: {
    readonly name?: StageName
    readonly metrics?: Readonly<Record<FilterName, CounterChild>> | null
  } = {},
): Stage {
  const filters = createRequestFilters(config)
  const metrics = options.metrics ?? null
  return {
    name: options.name ?? 'filter',
    run(ctx) {
      const rejection = filters.check(ctx.request)
      if (rejection === null) return undefined
      metrics?.[rejection.filter].inc()
      if (wantsExplanation(ctx.request)) {
        explanations.set(ctx, { requestRejectedBy: rejection.filter, order: [], imps: [] })
      }
      return rejection.reason
    },
  }
}

/** Explanations of debug auctions, until their context is collected. */
const explanations = new WeakMap<AuctionContext, FilterExplanation>()

/** The filter stage's explanation of a debug auction (for the response's ext), if it made one. */
export function filterExplanation(ctx: AuctionContext): FilterExplanation | undefined {
  return explanations.get(ctx)
}
