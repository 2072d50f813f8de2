import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client'
import { DSP_FAILURE_KINDS, type DspFailureKind } from '../errors.js'
import { NO_BID_REASON_LABEL, type NoBidReason } from '../openrtb/types.js'

/** Sub-millisecond resolution where the exchange lives, up to the 100 ms cap and past it. */
const LATENCY_BUCKETS_SECONDS = [
  0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.25,
]

export const STAGE_NAMES = ['validate', 'decorate', 'filter', 'pace', 'bid', 'auction'] as const
export type StageName = (typeof STAGE_NAMES)[number]

/** How an auction request ended; a closed label set. */
export const AUCTION_OUTCOMES = ['bid', 'no_bid', 'invalid', 'too_large', 'shed', 'aborted', 'error'] as const
export type AuctionOutcome = (typeof AUCTION_OUTCOMES)[number]

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
  readonly auctionSeconds: Histogram
  readonly auctions: Readonly<Record<AuctionOutcome, CounterChild>>
  readonly noBids: ReadonlyMap<NoBidReason, CounterChild>
  readonly stageSeconds: Readonly<Record<StageName, HistogramChild>>
  readonly inFlight: Gauge
  readonly dsps: ReadonlyMap<string, DspMetrics>
  readonly houseBids: Counter
  readonly houseWins: Counter
  readonly shed: Readonly<Record<ShedReason, CounterChild>>
  readonly eventLoopLagSeconds: Gauge

  constructor(dspIds: readonly string[], options: { defaultMetrics?: boolean } = {}) {
    const registers = [this.registry]
    if (options.defaultMetrics !== false) collectDefaultMetrics({ register: this.registry })

    this.auctionSeconds = new Histogram({
      name: 'rtb_auction_duration_seconds',
      help: 'Time from arrival of an auction request to its answer being written, all outcomes included.',
      buckets: LATENCY_BUCKETS_SECONDS,
      registers,
    })
    const auctions = new Counter({
      name: 'rtb_auctions_total',
      help: 'Auction requests by outcome.',
      labelNames: ['outcome'],
      registers,
    })
    this.auctions = resolveAll(AUCTION_OUTCOMES, (o) => auctions.labels(o))
    const noBids = new Counter({
      name: 'rtb_no_bids_total',
      help: 'Auctions answered with no bid (204), by OpenRTB no-bid reason.',
      labelNames: ['reason'],
      registers,
    })
    const noBidChildren = new Map<NoBidReason, CounterChild>()
    for (const [code, label] of Object.entries(NO_BID_REASON_LABEL)) {
      noBidChildren.set(Number(code) as NoBidReason, noBids.labels(label))
    }
    this.noBids = noBidChildren
    const stages = new Histogram({
      name: 'rtb_stage_duration_seconds',
      help: 'Time spent in each auction stage.',
      labelNames: ['stage'],
      buckets: LATENCY_BUCKETS_SECONDS,
      registers,
    })
    this.stageSeconds = resolveAll(STAGE_NAMES, (s) => stages.labels(s))
    this.inFlight = new Gauge({
      name: 'rtb_auctions_in_flight',
      help: 'Auctions received and not yet answered.',
      registers,
    })
    this.dsps = createDspMetrics(dspIds, registers)
    this.houseBids = new Counter({
      name: 'rtb_house_bids_total',
      help: 'House ads that entered an auction as a candidate.',
      registers,
    })
    this.houseWins = new Counter({ name: 'rtb_house_wins_total', help: 'Imps won by a house ad.', registers })
    const shed = new Counter({
      name: 'rtb_shed_total',
      help: 'Auction requests refused at the door (503) because the exchange was overloaded, by reason.',
      labelNames: ['reason'],
      registers,
    })
    this.shed = resolveAll(SHED_REASONS, (r) => shed.labels(r))
    this.eventLoopLagSeconds = new Gauge({
      name: 'rtb_event_loop_lag_seconds',
      help: 'Event-loop lag as the load shedder sees it (timer drift over the last 10 ms tick; max over workers).',
      aggregator: 'max',
      registers,
    })
  }

  /** Prometheus text exposition of everything above. */
  scrape(): Promise<string> {
    return this.registry.metrics()
  }
}

function createDspMetrics(dspIds: readonly string[], registers: Registry[]): Map<string, DspMetrics> {
  const latency = new Histogram({
    name: 'rtb_dsp_request_duration_seconds',
    help: 'DSP call duration from send to answer, timeouts and failures included.',
    labelNames: ['dsp'],
    buckets: LATENCY_BUCKETS_SECONDS,
    registers,
  })
  const calls = new Counter({
    name: 'rtb_dsp_requests_total',
    help: 'DSP calls by outcome (bid, no_bid, or the failure kind).',
    labelNames: ['dsp', 'outcome'],
    registers,
  })
  const received = new Counter({
    name: 'rtb_dsp_bids_total',
    help: 'Bids received from each DSP, before validation.',
    labelNames: ['dsp'],
    registers,
  })
  const rejected = new Counter({
    name: 'rtb_dsp_bids_rejected_total',
    help: 'DSP bids dropped by validation (unknown imp, under floor, blocked, bad fields).',
    labelNames: ['dsp'],
    registers,
  })
  const won = new Counter({
    name: 'rtb_dsp_wins_total',
    help: 'Imps won by each DSP.',
    labelNames: ['dsp'],
    registers,
  })
  const shaping = createDspShapingMetrics(registers)
  const out = new Map<string, DspMetrics>()
  for (const id of dspIds) {
    out.set(id, {
      latencySeconds: latency.labels(id),
      calls: resolveAll(DSP_CALL_OUTCOMES, (o) => calls.labels(id, o)),
      bidsReceived: received.labels(id),
      bidsRejected: rejected.labels(id),
      won: won.labels(id),
      sent: shaping.sent.labels(id),
      skipped: resolveAll(DSP_SKIP_REASONS, (r) => shaping.skipped.labels(id, r)),
      exploration: shaping.exploration.labels(id),
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
    sent: new Counter({
      name: 'rtb_dsp_sent_total',
      help: 'DSP calls dispatched; each ends as one rtb_dsp_requests_total outcome.',
      labelNames: ['dsp'],
      registers,
    }),
    skipped: new Counter({
      name: 'rtb_dsp_skipped_total',
      help: 'DSP calls not made, by the traffic-shaping check that stopped them.',
      labelNames: ['dsp', 'reason'],
      registers,
    }),
    exploration: new Counter({
      name: 'rtb_dsp_exploration_total',
      help: 'DSP calls sent as exploration although their value score was below the threshold.',
      labelNames: ['dsp'],
      registers,
    }),
    breakerState: gauge('rtb_dsp_breaker_state', 'Circuit breaker per DSP: 0 closed, 1 half-open, 2 open.'),
    admitRatio: gauge('rtb_dsp_admit_ratio', 'Share of eligible calls the error throttle lets through.'),
    latencyEstimate: gauge(
      'rtb_dsp_latency_estimate_seconds',
      'Latency quantile per DSP that the deadline check compares with the time left.',
    ),
    valueThreshold: gauge(
      'rtb_dsp_value_threshold',
      'Value score (bid rate x CPM) below which calls are thinned.',
    ),
    qpsLimit: gauge('rtb_dsp_qps_limit', "This instance's share of the DSP's QPS cap; 0 = uncapped."),
  }
}

function resolveAll<K extends string, V>(keys: readonly K[], make: (key: K) => V): Record<K, V> {
  const out = {} as Record<K, V>
  for (const key of keys) out[key] = make(key)
  return out
}
