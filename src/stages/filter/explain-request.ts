import type { CatalogHolder } from '../../catalog/house-catalog.js'
import type { NoBidReason } from '../../openrtb/types.js'
import { AuctionContext } from '../../pipeline/auction-context.js'
import { Deadline } from '../../pipeline/deadline.js'
import { createDecorateStage, type FactsSource } from '../decorate/decorate-stage.js'
import { validateBidRequest } from '../validate/validate-request.js'
import { type AdExplanation, explainAd } from './explain.js'
import type { RequestFilterName } from './filter-names.js'
import {
  createRequestFilters,
  DEFAULT_REQUEST_FILTER_CONFIG,
  type RequestFilterConfig,
} from './request-filters.js'

export interface AdExplainerDeps {
  readonly catalog: CatalogHolder
  /** The decoration the auctions use (user, page, domain, publisher facts); null = none. */
  readonly facts: FactsSource | null
  /** The exchange currency: the decorate stage refuses requests that exclude it. */
  readonly currency: string
  readonly requestFilters?: RequestFilterConfig
  readonly now?: () => number
}

/** The admin API's answer to "why does (or doesn't) this ad serve on this request". */
export interface AdExplainAnswer extends AdExplanation {
  readonly catalogVersion: number
  /** A request filter that would end the auction before any ad is looked at. */
  readonly requestRejectedBy: RequestFilterName | null
  /** The decorate stage's no-bid (a currency the exchange does not transact in); null when none. */
  readonly noBidReason: NoBidReason | null
  /** What decoration found, as the filters read it, and the floor in force per imp (-1 = unbiddable). */
  readonly signals: {
    readonly userCategories: readonly string[]
    readonly pageCategories: readonly string[]
    readonly brandUnsafe: boolean
    readonly bcat: readonly string[]
    readonly badv: readonly string[]
    readonly degraded: boolean
  } | null
  readonly floors: readonly number[]
}

/** Per-request decoration budget of an explain call: an admin call, it may wait for the store. */
const EXPLAIN_BUDGET_MS = 1_000

/**
 * Explains one ad against a posted bid request, as an auction on this instance would see it: the
 * request is validated, decorated (the same facts source as the auctions, so store data counts),
 * put through the request filters, then every ad filter is checked on the ad per imp (explainAd).
 * Answers [status, body] for the admin route: 400 for an invalid request, 404 for an ad that is not
 * in the catalog this instance serves.
 */
export function createAdExplainer(
  deps: AdExplainerDeps,
): (adId: string, body: unknown) => Promise<[number, unknown]> {
  const decorate = createDecorateStage(deps.facts, deps.currency)
  const requestFilters = createRequestFilters(deps.requestFilters ?? DEFAULT_REQUEST_FILTER_CONFIG)
  const now = deps.now ?? Date.now
  return async (adId, body) => {
    const parsed = validateBidRequest(body)
    if (!parsed.ok) return [400, { error: 'invalid_request', ...parsed.problem }]
    const request = parsed.request
    const catalog = deps.catalog.current
    if (catalog.get(adId) === undefined) return [404, { error: 'not_found', id: adId }]
    const startedAt = performance.now()
    const ctx = new AuctionContext(request, new Deadline(startedAt, EXPLAIN_BUDGET_MS), startedAt)
    let noBid = decorate.run(ctx)
    if (noBid instanceof Promise) noBid = await noBid
    const signals = ctx.signals
    const rejection = requestFilters.check(request)
    const why =
      signals === null
        ? { adId, isFound: true, imps: [] }
        : explainAd(catalog, adId, request, signals, { nowMs: now(), floors: ctx.floors })
    const answer: AdExplainAnswer = {
      ...why,
      catalogVersion: catalog.version,
      requestRejectedBy: rejection?.filter ?? null,
      noBidReason: noBid ?? rejection?.reason ?? null,
      signals:
        signals === null
          ? null
          : {
              userCategories: signals.userCategories,
              pageCategories: signals.pageCategories,
              brandUnsafe: signals.brandUnsafe,
              bcat: signals.bcat,
              badv: signals.badv,
              degraded: signals.degraded,
            },
      floors: ctx.floors,
    }
    return [200, answer]
  }
}
