import { type CatalogHolder, HouseCatalog, type HouseCreative } from '../../catalog/house-catalog.js'
import type { CounterChild, StageName } from '../../metrics/metrics.js'
import type { AuctionContext } from '../../pipeline/auction-context.js'
import type { Stage, StageResult } from '../../pipeline/stage.js'
import {
  explainImp,
  type FilterExplanation,
  type ImpExplanation,
  MAX_EXPLAINED_IMPS,
  wantsExplanation,
} from './explain.js'
import { FilterEngine, type FilterEngineOptions } from './filter-engine.js'
import {
  AD_FILTER_NAMES,
  type FilterName,
  REQUEST_FILTER_NAMES,
  type RequestFilterName,
} from './filter-names.js'
import {
  createRequestFilters,
  DEFAULT_REQUEST_FILTER_CONFIG,
  type RequestFilterConfig,
} from './request-filters.js'

/**
 * Where rejection counts go (ExchangeMetrics fits): rtb_filter_rejections_total's children, and a
 * hook that calls the stage's flush when that counter is collected (at scrape time).
 */
export interface FilterMetricsSink {
  readonly filterRejections: Readonly<Record<FilterName, CounterChild>>
  onFilterRejectionsCollect(flush: () => void): void
}

export interface FilterStageOptions {
  /** Request filters run first in this stage; null when a separate request-filter stage runs them. */
  readonly requestFilters?: RequestFilterConfig | null
  /** rtb_filter_rejections_total; counts are flushed into it at scrape time, never per auction. */
  readonly metrics?: FilterMetricsSink | null
  readonly engine?: FilterEngineOptions
  /** Wall clock for flights and dayparts (epoch ms). */
  readonly now?: () => number
  /** Candidates per imp an explanation lists. */
  readonly explainLimit?: number
}

export interface FilterStage extends Stage {
  readonly engine: FilterEngine
  /** Adds the rejections counted since the last flush to the metrics (called at scrape time). */
  flushMetrics(): void
}

const DEFAULT_EXPLAIN_LIMIT = 20
const UNBIDDABLE = 'imp floored in a currency the exchange does not transact in'

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
  const sink = options.metrics ?? null
  const now = options.now ?? Date.now
  const explainLimit = options.explainLimit ?? DEFAULT_EXPLAIN_LIMIT
  const counts = new Float64Array(AD_FILTER_NAMES.length)
  const requestCounts = new RequestRejectionCounts()

  function flushMetrics(): void {
    engine.takeRejections(counts)
    if (sink === null) return
    const metrics = sink.filterRejections
    for (let f = 0; f < counts.length; f++) if (counts[f]! > 0) metrics[AD_FILTER_NAMES[f]!].inc(counts[f]!)
    requestCounts.flush(metrics)
  }
  sink?.onFilterRejectionsCollect(flushMetrics)

  function selectExplained(ctx: AuctionContext): HouseCreative[][] {
    const current = catalog.current
    const request = ctx.request
    engine.beginRequest(current, request, ctx.signals!, now())
    const imps: ImpExplanation[] = []
    const houseAds = request.imp.map((imp, i) => {
      const floor = ctx.floors[i] ?? 0
      const kept = engine.selectImp(i, request, floor)
      if (i >= MAX_EXPLAINED_IMPS) return kept
      // -1: decorate found the imp unbiddable; the engine did not look at it.
      imps.push(
        floor < 0
          ? { impId: imp.id, candidates: [], note: UNBIDDABLE }
          : explainImp(engine, imp.id, kept, explainLimit),
      )
      return kept
    })
    const notExplained = Math.max(0, request.imp.length - MAX_EXPLAINED_IMPS)
    explanations.set(ctx, explanationOf(current, null, engine.currentOrder(), imps, notExplained))
    return houseAds
  }

  return {
    name: 'filter',
    engine,
    flushMetrics,
    run(ctx): StageResult {
      const rejection = requestFilters?.check(ctx.request) ?? null
      if (rejection !== null) {
        requestCounts.add(rejection.filter)
        if (wantsExplanation(ctx.request)) {
          explanations.set(ctx, explanationOf(catalog.current, rejection.filter, [], []))
        }
        return rejection.reason
      }
      const current = catalog.current
      if (current.size === 0 || ctx.signals === null) {
        ctx.houseAds = ctx.request.imp.map(() => [])
        if (wantsExplanation(ctx.request)) explanations.set(ctx, emptyExplanation(current, ctx))
        return undefined
      }
      ctx.houseAds = wantsExplanation(ctx.request)
        ? selectExplained(ctx)
        : engine.select(current, ctx.request, ctx.signals, ctx.floors, now())
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
    readonly metrics?: FilterMetricsSink | null
    /** Named in explanations (version, size); the empty catalog when not given. */
    readonly catalog?: CatalogHolder | null
  } = {},
): Stage {
  const filters = createRequestFilters(config)
  const catalog = options.catalog ?? null
  const sink = options.metrics ?? null
  const counts = new RequestRejectionCounts()
  sink?.onFilterRejectionsCollect(() => counts.flush(sink.filterRejections))
  return {
    name: options.name ?? 'filter',
    run(ctx) {
      const rejection = filters.check(ctx.request)
      if (rejection === null) return undefined
      counts.add(rejection.filter)
      if (wantsExplanation(ctx.request)) {
        explanations.set(ctx, explanationOf(catalog?.current ?? HouseCatalog.EMPTY, rejection.filter, [], []))
      }
      return rejection.reason
    },
  }
}

/** Auctions each request filter ended, since the last flush: a plain array on the request path. */
class RequestRejectionCounts {
  readonly #counts = new Float64Array(REQUEST_FILTER_NAMES.length)

  add(filter: RequestFilterName): void {
    this.#counts[REQUEST_FILTER_NAMES.indexOf(filter)]!++
  }

  flush(metrics: Readonly<Record<FilterName, CounterChild>>): void {
    const counts = this.#counts
    for (let f = 0; f < counts.length; f++) {
      if (counts[f]! > 0) metrics[REQUEST_FILTER_NAMES[f]!].inc(counts[f]!)
      counts[f] = 0
    }
  }
}

/** Debug auctions only: what the response's ext.explain carries (see explain.ts). */
function explanationOf(
  catalog: HouseCatalog,
  requestRejectedBy: RequestFilterName | null,
  order: FilterExplanation['order'],
  imps: readonly ImpExplanation[],
  impsNotExplained = 0,
): FilterExplanation {
  return {
    catalogVersion: catalog.version,
    catalogAds: catalog.size,
    requestRejectedBy,
    order,
    imps,
    impsNotExplained,
  }
}

/** Nothing to select from (empty catalog, or no decoration): every imp, no candidate. */
function emptyExplanation(catalog: HouseCatalog, ctx: AuctionContext): FilterExplanation {
  const imps = ctx.request.imp.slice(0, MAX_EXPLAINED_IMPS).map((imp) => ({ impId: imp.id, candidates: [] }))
  return explanationOf(catalog, null, [], imps, Math.max(0, ctx.request.imp.length - MAX_EXPLAINED_IMPS))
}

/**
 * The BidResponse ext of a debug auction: `{ explain }` when the filter stage explained it (an
 * auction that ended before the filter stage has none). Only called for debug requests.
 */
export function debugResponseExt(ctx: AuctionContext): { readonly explain: FilterExplanation } | undefined {
  const explain = explanations.get(ctx)
  return explain === undefined ? undefined : { explain }
}

/** Explanations of debug auctions, until their context is collected. */
const explanations = new WeakMap<AuctionContext, FilterExplanation>()

/** The filter stage's explanation of a debug auction (for the response's ext), if it made one. */
export function filterExplanation(ctx: AuctionContext): FilterExplanation | undefined {
  return explanations.get(ctx)
}
