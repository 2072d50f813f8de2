import type { CatalogHolder } from './catalog/house-catalog.js'
import type { Config } from './config/config.js'
import type { AuctionOutcome, ExchangeMetrics, HistogramChild } from './metrics/metrics.js'
import { NoBidReason } from './openrtb/types.js'
import { AuctionContext } from './pipeline/auction-context.js'
import { auctionBudgetMs, Deadline } from './pipeline/deadline.js'
import { runPipeline } from './pipeline/run-pipeline.js'
import type { Stage } from './pipeline/stage.js'
import { createAuctionStage } from './stages/auction/auction-stage.js'
import { buildBidResponse, buildNoBidResponse } from './stages/auction/build-response.js'
import { createBidStage } from './stages/bid/bid-stage.js'
import type { DspEndpoint } from './stages/bid/dsp-endpoints.js'
import { createDecorateStage, type FactsSource } from './stages/decorate/decorate-stage.js'
import { wantsExplanation } from './stages/filter/explain.js'
import { createFilterStage, debugResponseExt } from './stages/filter/filter-stage.js'
import { createPaceStage, type PacingHooks, settleReservations } from './stages/pace/pace-stage.js'
import { parseBidRequest } from './stages/validate/validate-request.js'

/** What the HTTP layer writes back for one auction request. */
export interface AuctionAnswer {
  readonly status: 200 | 204 | 400
  /** JSON body; empty for 204. */
  readonly body: string
  readonly outcome: AuctionOutcome
}

export interface ExchangeDeps {
  readonly config: Config
  readonly metrics: ExchangeMetrics
  readonly catalog: CatalogHolder
  readonly dsps: readonly DspEndpoint[]
  readonly facts: FactsSource | null
  readonly log: { error(obj: object, msg: string): void }
  /** Budgets, caps and signed notices (src/pacing); absent = house ads are not paced. */
  readonly pacing?: PacingHooks | null
}

export interface Exchange {
  /**
   * Runs one auction on a request body. Never rejects: every failure is an answer. `slackMs`
   * ends the auction that much before its tmax budget (an overloaded loop's lag; see LoadShedder).
   */
  runAuction(body: string, receivedAt: number, slackMs?: number): Promise<AuctionAnswer>
  /**
   * How many exchange threads share each DSP's maxQps, fleet-wide (the pacing heartbeat set in
   * Dragonfly counts them; every worker thread is one).
   */
  setInstanceCount(count: number): void
}

/**
 * The composition of the auction: builds the ordered stage list once, then runs requests through
 * it. No I/O at construction; the DSP pools and the store are built by the caller.
 */
export function createExchange(deps: ExchangeDeps): Exchange {
  const { config, metrics } = deps
  const auction = config.auction
  const nextId = createIdGenerator()
  const pacing = deps.pacing ?? null
  const bidStage = createBidStage({
    dsps: deps.dsps,
    identity: { asi: new URL(config.publicUrl).hostname, currency: auction.currency },
    settings: {
      currency: auction.currency,
      networkBufferMs: auction.networkBufferMs,
      minDspBudgetMs: auction.minDspBudgetMs,
    },
    houseSeat: auction.houseSeat,
    nextId,
    onHouseBid: () => metrics.houseBids.inc(),
    // Every worker thread heartbeats as an instance of its own, so the count covers workers.
    workers: 1,
  })
  // Until the first heartbeat says otherwise, assume this process's threads are all there is.
  bidStage.shaper.setInstanceCount(config.workers)
  const stages: Stage[] = [
    createDecorateStage(deps.facts, auction.currency),
    createFilterStage(deps.catalog, { metrics }),
    ...(pacing === null ? [] : [createPaceStage({ leases: pacing.leases })]),
    bidStage,
    createAuctionStage({
      priceIncrement: auction.priceIncrement,
      onRejected: (dspIndex) => {
        if (dspIndex >= 0) deps.dsps[dspIndex]!.metrics.bidsRejected.inc()
      },
      onWon: (c) => {
        if (c.dspIndex >= 0) deps.dsps[c.dspIndex]!.metrics.won.inc()
        else metrics.houseWins.inc()
      },
    }),
  ]
  const timers: HistogramChild[] = stages.map((s) => metrics.stageSeconds[s.name])
  const validateTimer = metrics.stageSeconds.validate

  async function runAuction(body: string, receivedAt: number, slackMs = 0): Promise<AuctionAnswer> {
    const startedAt = performance.now()
    const parsed = parseBidRequest(body)
    validateTimer.observe((performance.now() - startedAt) / 1000)
    if (!parsed.ok) return invalidAnswer(parsed.problem.field, parsed.problem.message)
    const request = parsed.request
    const ctx = new AuctionContext(
      request,
      new Deadline(receivedAt, Math.max(0, auctionBudgetMs(request.tmax, auction) - slackMs)),
      receivedAt,
    )
    let result: NoBidReason | undefined
    let response = ''
    let isSettled = false
    try {
      result = await runPipeline(stages, timers, ctx)
      // Reservations of imps the house ad did not win are released; winners wait for billing
      // (settled before the response is built: the notice tokens carry the reservations' expiry).
      if (pacing !== null) settleReservations(ctx, pacing.leases, result === undefined)
      isSettled = true
      // Inside the try: a DSP bid that cannot be serialised (e.g. absurdly nested ext) is a bug
      // to log and a no-bid to answer, never an unhandled rejection.
      if (result === undefined)
        response = buildBidResponse(
          ctx,
          auction.currency,
          nextId(),
          pacing?.rewriteNotices,
          wantsExplanation(request) ? debugResponseExt(ctx) : undefined,
        )
    } catch (err) {
      // A bug, not an expected outcome: log it, answer no-bid, keep serving. Won reservations
      // whose answer never went out expire unbilled.
      deps.log.error({ err, requestId: request.id }, 'auction failed')
      if (pacing !== null && !isSettled) settleReservations(ctx, pacing.leases, false)
      metrics.noBids.get(NoBidReason.TechnicalError)?.inc()
      return { status: 204, body: '', outcome: 'error' }
    }
    metrics.auctionOwnSeconds.observe((performance.now() - receivedAt - ctx.dspWaitMs) / 1000)
    if (result !== undefined) {
      metrics.noBids.get(result)?.inc()
      // Debug auctions (test: 1, ext.debug) get a 200 with nbr and the explanation, not a bare 204.
      if (!wantsExplanation(request)) return NO_BID_ANSWER
      return {
        status: 200,
        body: buildNoBidResponse(request.id, result, debugResponseExt(ctx)),
        outcome: 'no_bid',
      }
    }
    return { status: 200, body: response, outcome: 'bid' }
  }

  return { runAuction, setInstanceCount: (count) => bidStage.shaper.setInstanceCount(count) }
}

const NO_BID_ANSWER: AuctionAnswer = Object.freeze({ status: 204, body: '', outcome: 'no_bid' })

function invalidAnswer(field: string, message: string): AuctionAnswer {
  return {
    status: 400,
    body: JSON.stringify({ error: 'invalid_request', field, message }),
    outcome: 'invalid',
  }
}

/** Process-unique ids: a random prefix per process plus a counter, cheaper than a UUID per bid. */
function createIdGenerator(): () => string {
  const prefix = `${Date.now().toString(36)}${Math.floor(Math.random() * 1e9).toString(36)}-`
  let counter = 0
  return () => prefix + (++counter).toString(36)
}
