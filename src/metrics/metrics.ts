import { Counter, collectDefaultMetrics, Gauge, Registry } from 'prom-client'
import { DSP_FAILURE_KINDS, type DspFailureKind } from '../errors.js'
import { NO_BID_REASON_LABEL, type NoBidReason } from '../openrtb/types.js'
import { FILTER_NAMES, type FilterName } from '../stages/filter/filter-names.js'
import { FastCounter } from './fast-counter.js'
import { FastHistogram } from './fast-histogram.js'

/** Sub-millisecond resolution where the exchange lives, up to the 100 ms cap and past it. */
const LATENCY_BUCKETS_SECONDS = [
  0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.25,
]

export const STAGE_NAMES = ['validate', 'decorate', 'filter', 'pace', 'bid', 'auction'] as const
export type StageName = (typeof STAGE_NAMES)[number]

/** How an auction request ended; a closed label set. */
export const AUCTION_OUTCOMES = [
  'bid',
  'no_bid',
  'invalid',
  'too_large',
  'body_timeout',
  'shed',
  'aborted',
  'error',
] as const
export type AuctionOutcome = (typeof AUCTION_OUTCOMES)[number]

export const DECORATION_OUTCOMES = ['hit', 'miss', 'timeout', 'error'] as const
export type DecorationOutcome = (typeof DECORATION_OUTCOMES)[number]

/** Admin API authorization decisions. */
export const ADMIN_AUTH_RESULTS = ['allowed', 'unauthorized', 'forbidden'] as const
export type AdminAuthResult = (typeof ADMIN_AUTH_RESULTS)[number]

/** Why a request was shed at the door. */
export const SHED_REASONS = ['in_flight', 'event_loop', 'draining'] as const
export type ShedReason = (typeof SHED_REASONS)[number]

/** Every way one DSP call can end. */
export type DspCallOutcome = 'bid' | 'no_bid' | DspFailureKind
export const DSP_CALL_OUTCOMES: readonly DspCallOutcome[] = ['bid', 'no_bid', ...DSP_FAILURE_KINDS]

/**
 * Why a DSP was not called for an auction, in the order the shaper checks (cheapest first):
 * static eligibility (media types, formats, countries, deals), deadline feasibility, circuit breaker,
 * error throttling, value score, connections all busy, the DSP's QPS cap.
 */
export const DSP_SKIP_REASONS = [
  'media_type',
  'format',
  'country',
  'deals_only',
  'deadline',
  'breaker',
  'error_throttle',
  'low_value',
  'in_flight',
  'qps',
] as const
export type DspSkipReason = (typeof DSP_SKIP_REASONS)[number]

/** A resolved counter or histogram child: labels bound once. */
export interface CounterChild {
  inc(n?: number): void
}
export interface HistogramChild {
  observe(v: number): void
}
export interface GaugeChild {
  set(v: number): void
}

/** Pre-resolved children for one DSP: the request path never parses label arguments. */
export interface DspMetrics {
  readonly latencySeconds: HistogramChild
  readonly calls: Readonly<Record<DspCallOutcome, CounterChild>>
  readonly bidsReceived: CounterChild
  readonly bidsRejected: CounterChild
  readonly won: CounterChild
  /** Calls dispatched (the top of the funnel; each ends as one `calls` outcome). */
  readonly sent: CounterChild
  readonly skipped: Readonly<Record<DspSkipReason, CounterChild>>
  /** Calls sent although the value score alone would have skipped them. */
  readonly exploration: CounterChild
  /** Shaping state, set once per control tick: 0 closed, 1 half-open, 2 open. */
  readonly breakerState: GaugeChild
  /** Share of eligible calls the error throttle lets through (1 = no throttling). */
  readonly admitRatio: GaugeChild
  /** The latency quantile the deadline check compares with the time left. */
  readonly latencyEstimateSeconds: GaugeChild
  /** Value score below which calls are thinned out (0 = no value filtering). */
  readonly valueThreshold: GaugeChild
  /** This instance's share of the DSP's QPS cap (0 = uncapped). */
  readonly qpsLimit: GaugeChild
}

/**
 * Every metric of the exchange, defined in one place. Names are rtb_<thing>_<unit>, counters end in
 * _total, label values come from closed sets (stage names, configured DSP ids, outcome enums),
 * never from request data. Children are resolved at construction and zero series preloaded, so
 * rate() works from the first scrape.
 */
export class ExchangeMetrics {
  readonly registry = new Registry()
  readonly auctionSeconds: HistogramChild
  /** Exchange-added latency: an auction's time minus its wait for DSP answers. */
  readonly auctionOwnSeconds: HistogramChild
  readonly auctions: Readonly<Record<AuctionOutcome, CounterChild>>
  readonly noBids: ReadonlyMap<NoBidReason, CounterChild>
  readonly stageSeconds: Readonly<Record<StageName, HistogramChild>>
  readonly inFlight: Gauge
  /** Auctions in progress, kept by the front end (shedding reads it too); exported at scrape time. */
  readonly inFlightCount = { count: 0 }
  readonly dsps: ReadonlyMap<string, DspMetrics>
  readonly houseBids: CounterChild
  readonly houseWins: CounterChild
  readonly decoration: Readonly<Record<DecorationOutcome, CounterChild>>
  readonly adminRequests: Readonly<Record<AdminAuthResult, CounterChild>>
  readonly storeUp: Gauge
  readonly shed: Readonly<Record<ShedReason, CounterChild>>
  readonly eventLoopLagSeconds: Gauge
  readonly workers: Gauge
  /** Ad candidates each filter dropped first; request filters count the auctions they ended. */
  readonly filterRejections: Readonly<Record<FilterName, CounterChild>>
  readonly #filterFlushes: (() => void)[] = []
  /** Budgets, leases, reservations, pacing and notices (src/pacing): see createPacingMetrics. */
  readonly pacing: PacingMetrics

  constructor(dspIds: readonly string[], options: { defaultMetrics?: boolean } = {}) {
    const registers = [this.registry]
    if (options.defaultMetrics !== false) collectDefaultMetrics({ register: this.registry })

    // The request-path histograms are FastHistograms: observed on every auction and DSP call.
    this.auctionSeconds = new FastHistogram(
      'rtb_auction_duration_seconds',
      'Time from arrival of an auction request to its answer being written, all outcomes included.',
      [],
      LATENCY_BUCKETS_SECONDS,
      this.registry,
    ).child()
    this.auctionOwnSeconds = new FastHistogram(
      'rtb_auction_own_duration_seconds',
      'Exchange-added latency of auctions that ran (valid requests): arrival to answer minus the wait for DSP answers.',
      [],
      LATENCY_BUCKETS_SECONDS,
      this.registry,
    ).child()
    // Counters incremented per auction or per DSP call are FastCounters too (see fast-counter.ts).
    const auctions = new FastCounter(
      'rtb_auctions_total',
      'Auction requests by outcome.',
      ['outcome'],
      this.registry,
    )
    this.auctions = resolveAll(AUCTION_OUTCOMES, (o) => auctions.labels(o))
    const noBids = new FastCounter(
      'rtb_no_bids_total',
      'Auctions answered with no bid (204), by OpenRTB no-bid reason.',
      ['reason'],
      this.registry,
    )
    const noBidChildren = new Map<NoBidReason, CounterChild>()
    for (const [code, label] of Object.entries(NO_BID_REASON_LABEL)) {
      noBidChildren.set(Number(code) as NoBidReason, preload(noBids.labels(label)))
    }
    this.noBids = noBidChildren
    const stages = new FastHistogram(
      'rtb_stage_duration_seconds',
      'Time spent in each auction stage.',
      ['stage'],
      LATENCY_BUCKETS_SECONDS,
      this.registry,
    )
    this.stageSeconds = resolveAll(STAGE_NAMES, (s) => stages.child(s))
    const inFlight = this.inFlightCount
    this.inFlight = new Gauge({
      name: 'rtb_auctions_in_flight',
      help: 'Auctions received and not yet answered.',
      registers,
      // Read at scrape time from the front end's own counter: nothing to update per request.
      collect() {
        this.set(inFlight.count)
      },
    })
    this.dsps = createDspMetrics(dspIds, registers)
    this.houseBids = new FastCounter(
      'rtb_house_bids_total',
      'House ads that entered an auction as a candidate.',
      [],
      this.registry,
    ).labels()
    this.houseWins = new FastCounter(
      'rtb_house_wins_total',
      'Imps won by a house ad.',
      [],
      this.registry,
    ).labels()
    const decoration = new FastCounter(
      'rtb_decoration_total',
      'Decoration lookups: hit (all from the in-process cache), miss (one store round trip), timeout or error (auction went on undecorated).',
      ['outcome'],
      this.registry,
    )
    this.decoration = resolveAll(DECORATION_OUTCOMES, (o) => decoration.labels(o))
    const admin = new Counter({
      name: 'rtb_admin_requests_total',
      help: 'Admin API calls by authorization result (allowed, unauthorized = no bearer token, forbidden = wrong token or admin API disabled).',
      labelNames: ['result'],
      registers,
    })
    this.adminRequests = resolveAll(ADMIN_AUTH_RESULTS, (r) => admin.labels(r))
    this.storeUp = new Gauge({
      name: 'rtb_store_up',
      help: '1 while the store (Dragonfly, or the embedded one) answers, else 0.',
      aggregator: 'min',
      registers,
    })
    const shed = new FastCounter(
      'rtb_shed_total',
      'Auction requests refused at the door (503) because the exchange was overloaded, by reason.',
      ['reason'],
      this.registry,
    )
    this.shed = resolveAll(SHED_REASONS, (r) => shed.labels(r))
    this.workers = new Gauge({
      name: 'rtb_workers',
      help: 'uWS worker threads serving auctions in this process (each sets 1; summed over workers).',
      registers,
    })
    this.workers.set(1)
    this.eventLoopLagSeconds = new Gauge({
      name: 'rtb_event_loop_lag_seconds',
      help: 'Event-loop lag as the load shedder sees it (timer drift over the last 10 ms tick; max over workers).',
      aggregator: 'max',
      registers,
    })
    const filterFlushes = this.#filterFlushes
    const filterRejections = new Counter({
      name: 'rtb_filter_rejections_total',
      help: 'Ad candidates dropped by each filter (the first to reject them), and auctions ended by each request filter.',
      labelNames: ['filter'],
      registers,
      // The filter stages count into plain arrays on the request path; they are added here, at scrape.
      collect() {
        for (const flush of filterFlushes) flush()
      },
    })
    this.filterRejections = resolveAll(FILTER_NAMES, (f) => filterRejections.labels(f))
    this.pacing = createPacingMetrics(registers)
  }

  /**
   * Registers a filter stage's flush (FilterStage.flushMetrics): called whenever the rejections
   * counter is collected, so the counts reach prom-client at scrape time, off the request path.
   */
  onFilterRejectionsCollect(flush: () => void): void {
    this.#filterFlushes.push(flush)
  }

  /** Prometheus text exposition of everything above. */
  scrape(): Promise<string> {
    return this.registry.metrics()
  }
}

function createDspMetrics(dspIds: readonly string[], registers: Registry[]): Map<string, DspMetrics> {
  const latency = new FastHistogram(
    'rtb_dsp_request_duration_seconds',
    'DSP call duration from send to answer, timeouts and failures included.',
    ['dsp'],
    LATENCY_BUCKETS_SECONDS,
    registers[0]!,
  )
  const registry = registers[0]!
  const calls = new FastCounter(
    'rtb_dsp_requests_total',
    'DSP calls by outcome (bid, no_bid, or the failure kind).',
    ['dsp', 'outcome'],
    registry,
  )
  const received = new FastCounter(
    'rtb_dsp_bids_total',
    'Bids received from each DSP, before validation.',
    ['dsp'],
    registry,
  )
  const rejected = new FastCounter(
    'rtb_dsp_bids_rejected_total',
    'DSP bids dropped by validation (unknown imp, under floor, blocked, bad fields).',
    ['dsp'],
    registry,
  )
  const won = new FastCounter('rtb_dsp_wins_total', 'Imps won by each DSP.', ['dsp'], registry)
  const shaping = createDspShapingMetrics(registers)
  const out = new Map<string, DspMetrics>()
  for (const id of dspIds) {
    out.set(id, {
      latencySeconds: latency.child(id),
      calls: resolveAll(DSP_CALL_OUTCOMES, (o) => calls.labels(id, o)),
      bidsReceived: preload(received.labels(id)),
      bidsRejected: preload(rejected.labels(id)),
      won: preload(won.labels(id)),
      sent: preload(shaping.sent.labels(id)),
      skipped: resolveAll(DSP_SKIP_REASONS, (r) => shaping.skipped.labels(id, r)),
      exploration: preload(shaping.exploration.labels(id)),
      breakerState: shaping.breakerState.labels(id),
      admitRatio: shaping.admitRatio.labels(id),
      latencyEstimateSeconds: shaping.latencyEstimate.labels(id),
      valueThreshold: shaping.valueThreshold.labels(id),
      qpsLimit: shaping.qpsLimit.labels(id),
    })
  }
  return out
}

/** The DSP funnel above the calls (sent, skipped by reason, exploration) and the shaper's state. */
function createDspShapingMetrics(registers: Registry[]) {
  const gauge = (name: string, help: string): Gauge =>
    new Gauge({ name, help, labelNames: ['dsp'], registers })
  return {
    sent: new FastCounter(
      'rtb_dsp_sent_total',
      'DSP calls dispatched; each ends as one rtb_dsp_requests_total outcome.',
      ['dsp'],
      registers[0]!,
    ),
    skipped: new FastCounter(
      'rtb_dsp_skipped_total',
      'DSP calls not made, by the traffic-shaping check that stopped them.',
      ['dsp', 'reason'],
      registers[0]!,
    ),
    exploration: new FastCounter(
      'rtb_dsp_exploration_total',
      'DSP calls sent as exploration although their value score was below the threshold.',
      ['dsp'],
      registers[0]!,
    ),
    breakerState: gauge('rtb_dsp_breaker_state', 'Circuit breaker per DSP: 0 closed, 1 half-open, 2 open.'),
    admitRatio: gauge('rtb_dsp_admit_ratio', 'Share of eligible calls the error throttle lets through.'),
    latencyEstimate: gauge(
      'rtb_dsp_latency_estimate_seconds',
      'Latency quantile per DSP that the deadline check compares with the time left.',
    ),
    valueThreshold: gauge(
      'rtb_dsp_value_threshold',
      "Value score (bid rate x CPM, 1 = the DSP's average call) below which calls are thinned; 0 = off.",
    ),
    qpsLimit: gauge('rtb_dsp_qps_limit', "This instance's share of the DSP's QPS cap; 0 = uncapped."),
  }
}

function resolveAll<K extends string, V>(keys: readonly K[], make: (key: K) => V): Record<K, V> {
  const out = {} as Record<K, V>
  for (const key of keys) out[key] = preload(make(key))
  return out
}

/**
 * A counter child exists in the output only once incremented: inc(0) preloads its zero series so
 * rate() and absent() work from the first scrape. Gauges (they have dec) and histograms are left as they are.
 */
function preload<V>(child: V): V {
  const c = child as { inc?: (n: number) => void; dec?: unknown }
  if (typeof c.inc === 'function' && c.dec === undefined) c.inc(0)
  return child
}

// ---------------------------------------------------------------------------------------------
// Pacing: leases, reservations, campaigns, notices. No campaign id labels: per-campaign state is
// on GET /campaigns/:id.

/** How a lease request (LEASE script) ended: all asked for, some, none, or the store failed. */
export const LEASE_RESULTS = ['granted', 'partial', 'empty', 'error'] as const
export type LeaseResult = (typeof LEASE_RESULTS)[number]

/** What happened to reserved impressions: taken in an auction, given back, billed, expired unbilled. */
export const RESERVATION_OUTCOMES = ['reserved', 'released', 'committed', 'expired'] as const
export type ReservationOutcome = (typeof RESERVATION_OUTCOMES)[number]

/** Why the pace stage dropped a house creative, in the order it checks. */
export const PACING_SKIP_REASONS = [
  'unknown_campaign',
  'inactive',
  'fcap_unavailable',
  'fcap',
  'paced',
  'no_budget',
] as const
export type PacingSkipReason = (typeof PACING_SKIP_REASONS)[number]

/** A budgeted campaign's state on this instance (a gauge per state, set every refill tick). */
export const CAMPAIGN_STATES = ['serving', 'paced', 'last_mile', 'exhausted', 'inactive'] as const
export type CampaignState = (typeof CAMPAIGN_STATES)[number]

export const NOTICE_KINDS = ['billing', 'win', 'loss'] as const
export type NoticeKind = (typeof NOTICE_KINDS)[number]
/** counted (first time), duplicate, forged (bad signature), expired, invalid (no token), store_error (503). */
export const NOTICE_RESULTS = ['counted', 'duplicate', 'forged', 'expired', 'invalid', 'store_error'] as const
export type NoticeResult = (typeof NOTICE_RESULTS)[number]

/** Store operations of the lease manager and the notice handlers, for the error counter. */
export const PACING_STORE_OPS = [
  'heartbeat',
  'sync',
  'lease',
  'return',
  'commit',
  'resolve',
  'reap',
  'frequency',
  'notice',
] as const
export type PacingStoreOp = (typeof PACING_STORE_OPS)[number]

export interface PacingMetrics {
  readonly leaseRequests: Readonly<Record<LeaseResult, CounterChild>>
  readonly leaseGrantedMicros: CounterChild
  readonly leaseReturnedMicros: CounterChild
  /** Leases of dead instances given back to their campaigns by the reaper (micros). */
  readonly leaseReapedMicros: CounterChild
  readonly reservations: Readonly<Record<ReservationOutcome, CounterChild>>
  readonly committedMicros: CounterChild
  readonly skipped: Readonly<Record<PacingSkipReason, CounterChild>>
  readonly campaigns: Readonly<Record<CampaignState, GaugeChild>>
  /** Lease held by this instance, and the part of it reserved, over all campaigns (micros). */
  readonly leaseHeldMicros: GaugeChild
  readonly reservedMicros: GaugeChild
  readonly notices: Readonly<Record<NoticeKind, Readonly<Record<NoticeResult, CounterChild>>>>
  readonly forwards: Readonly<Record<'ok' | 'failed', CounterChild>>
  readonly storeErrors: Readonly<Record<PacingStoreOp, CounterChild>>
}

function createPacingMetrics(registers: Registry[]): PacingMetrics {
  const counter = (name: string, help: string, labelNames: string[] = []) =>
    new Counter({ name, help, labelNames, registers })
  const gauge = (name: string, help: string, labelNames: string[] = []) =>
    new Gauge({ name, help, labelNames, registers })
  const leaseRequests = counter(
    'rtb_pacing_lease_requests_total',
    'Lease requests to the store (LEASE script) by result.',
    ['result'],
  )
  const reservations = counter(
    'rtb_pacing_reservations_total',
    'House-ad impressions reserved from a local lease, and how each reservation ended.',
    ['outcome'],
  )
  const skipped = counter(
    'rtb_pacing_skipped_total',
    'House creatives the pace stage dropped, by the first reason found.',
    ['reason'],
  )
  const campaigns = gauge(
    'rtb_pacing_campaigns',
    'Budgeted campaigns known to this instance, by state (exhausted = nothing left to lease; paced = participation rate below 1).',
    ['state'],
  )
  const notices = counter(
    'rtb_notices_total',
    'Win, billing and loss notices received, by result (a billing is counted once).',
    ['type', 'result'],
  )
  const forwards = counter(
    'rtb_notice_forwards_total',
    "Notices forwarded to the DSP's own URL, by result.",
    ['result'],
  )
  const storeErrors = counter(
    'rtb_pacing_store_errors_total',
    'Pacing store operations that failed or timed out, by operation.',
    ['op'],
  )
  return {
    leaseRequests: resolveAll(LEASE_RESULTS, (r) => leaseRequests.labels(r)),
    leaseGrantedMicros: preload(
      counter('rtb_pacing_lease_granted_micros_total', 'Budget granted to this instance in leases (micros).'),
    ),
    leaseReturnedMicros: preload(
      counter('rtb_pacing_lease_returned_micros_total', 'Unspent lease this instance gave back (micros).'),
    ),
    leaseReapedMicros: preload(
      counter(
        'rtb_pacing_lease_reaped_micros_total',
        'Leases of dead instances returned by the reaper (micros).',
      ),
    ),
    reservations: resolveAll(RESERVATION_OUTCOMES, (o) => reservations.labels(o)),
    committedMicros: preload(
      counter(
        'rtb_pacing_committed_micros_total',
        'Spend committed by billing notices this instance counted (micros).',
      ),
    ),
    skipped: resolveAll(PACING_SKIP_REASONS, (r) => skipped.labels(r)),
    campaigns: resolveAll(CAMPAIGN_STATES, (s) => campaigns.labels(s)),
    leaseHeldMicros: gauge(
      'rtb_pacing_lease_micros',
      'Lease held by this instance over all campaigns (micros).',
    ),
    reservedMicros: gauge(
      'rtb_pacing_reserved_micros',
      'Part of the held lease reserved by pending impressions (micros).',
    ),
    notices: resolveAll(NOTICE_KINDS, (t) => resolveAll(NOTICE_RESULTS, (r) => notices.labels(t, r))),
    forwards: resolveAll(['ok', 'failed'] as const, (r) => forwards.labels(r)),
    storeErrors: resolveAll(PACING_STORE_OPS, (o) => storeErrors.labels(o)),
  }
}
