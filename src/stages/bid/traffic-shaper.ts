import type { DspConfig } from '../../config/config.js'
import type { DspFailureKind } from '../../errors.js'
import type { DspMetrics, DspSkipReason } from '../../metrics/metrics.js'
import type { BidRequest } from '../../openrtb/types.js'
import { type BreakerState, CircuitBreaker, type CircuitBreakerOptions } from './circuit-breaker.js'
import { ErrorThrottle, type ErrorThrottleOptions } from './error-throttle.js'
import { LatencyTracker, type LatencyTrackerOptions } from './latency-tracker.js'
import { compileTargeting, type DspTargeting, RequestProfile, staticSkip } from './request-profile.js'
import { TokenBucket } from './token-bucket.js'
import { ValueModel, type ValueModelOptions } from './value-model.js'

export interface ShapingOptions {
  /** Control tick: error throttle, value threshold, decay and gauges are updated this often. */
  readonly tickMs: number
  readonly latency: LatencyTrackerOptions
  readonly breaker: CircuitBreakerOptions
  readonly throttle: ErrorThrottleOptions
  readonly value: ValueModelOptions
  /** Token bucket burst, as milliseconds of the DSP's QPS share. */
  readonly bucketBurstMs: number
  /** Uniform in [0, 1): exploration and value thinning draws. */
  readonly random: () => number
}

export const DEFAULT_SHAPING: ShapingOptions = Object.freeze({
  tickMs: 1_000,
  latency: { quantile: 0.9, minWeight: 10, halfLifeMs: 2_000 },
  breaker: {
    windowMs: 2_000,
    minFailures: 10,
    failureRatio: 0.5,
    openMs: 1_000,
    maxOpenMs: 30_000,
    probes: 3,
  },
  throttle: { maxErrorRate: 0.2, smoothing: 0.5, decrease: 0.25, recover: 0.05, minShare: 0.05 },
  value: {
    priorBids: 1,
    priorCalls: 2,
    halfLifeS: 600,
    targetHeadroom: 1.2,
    gain: 0.5,
    maxLogStep: 0.5,
    minThreshold: 1e-4,
  },
  bucketBurstMs: 100,
  random: Math.random,
})

/** What the shaper needs of a DSP: its config and its metric children. DspEndpoint has both. */
export interface ShapedDsp {
  readonly config: DspConfig
  readonly metrics: DspMetrics
}

export interface ShaperSettings {
  /** A DSP is not called with a tmax under this. */
  readonly minDspBudgetMs: number
  /**
   * Worker threads of this instance, each with its own shaper (WORKERS): a DSP's QPS cap is split
   * over instances × workers. Default 1.
   */
  readonly workersPerInstance?: number
}

/** One DSP's shaping state, for tests and inspection. */
export interface DspShapingState {
  readonly breaker: BreakerState
  readonly throttleShare: number
  readonly errorRate: number
  readonly latencyEstimateMs: number
  readonly valueThreshold: number
  readonly qpsLimit: number
  readonly inFlight: number
}

/**
 * Decides, per auction and DSP, whether the DSP is called, cheapest check first:
 * static eligibility (media type, format, country, deals) → deadline feasibility (the time left
 * covers the DSP's recent p90) → circuit breaker → error throttle → value score with exploration →
 * a free connection → the token bucket of the DSP's QPS cap (split across live instances).
 * A skip is counted by reason; an admitted call is counted as sent and must be settled with
 * `onResult`. Every decision is arithmetic on preallocated state: no allocation, no I/O.
 */
export interface TrafficShaper {
  /** Reads the request's features once; returns its value segment (hand it back to onResult). */
  beginAuction(request: BidRequest, nowMs: number): number
  /**
   * `budgetMs`: time until the call would be given up; `tmaxMs`: what the DSP would be told.
   * null = call it (it now counts as sent); otherwise the reason it is skipped (counted).
   */
  admit(dspIndex: number, budgetMs: number, tmaxMs: number, nowMs: number): DspSkipReason | null
  /**
   * A sent call ended: `failure` null for a bid or no-bid; `latencyMs` capped at the call's budget;
   * `bidCpm` its best bid, 0 for none.
   */
  onResult(
    dspIndex: number,
    segment: number,
    failure: DspFailureKind | null,
    latencyMs: number,
    bidCpm: number,
    nowMs: number,
  ): void
  /** A sent call given up because the exchange itself stalled past its deadline: not the DSP's doing. */
  onAbandoned(dspIndex: number): void
  /**
   * Live exchange instances sharing each DSP's maxQps (from the heartbeat set; 1 when alone). Each
   * instance's share is split again over its worker threads.
   */
  setInstanceCount(count: number): void
  readonly instanceCount: number
  state(dspIndex: number): DspShapingState
}

export function createTrafficShaper(
  dsps: readonly ShapedDsp[],
  settings: ShaperSettings,
  options: ShapingOptions = DEFAULT_SHAPING,
): TrafficShaper {
  return new Shaper(dsps, settings, options)
}

class DspShaping {
  readonly targeting: DspTargeting
  readonly latency: LatencyTracker
  readonly breaker: CircuitBreaker
  readonly throttle: ErrorThrottle
  readonly value: ValueModel
  /** null when the DSP has no QPS cap. */
  readonly bucket: TokenBucket | null
  readonly maxInFlight: number
  /** Share of deadline-skipped calls sent anyway to refresh the latency estimate. */
  readonly probeRate: number
  inFlight = 0

  constructor(
    readonly config: DspConfig,
    readonly metrics: DspMetrics,
    options: ShapingOptions,
  ) {
    this.targeting = compileTargeting(config)
    this.latency = new LatencyTracker(options.latency)
    this.breaker = new CircuitBreaker(options.breaker)
    this.throttle = new ErrorThrottle(options.throttle)
    this.value = new ValueModel(options.value, config.explorationRate ?? 0.02)
    this.probeRate = config.explorationRate ?? 0.02
    this.bucket = config.maxQps > 0 ? new TokenBucket(config.maxQps, options.bucketBurstMs) : null
    this.maxInFlight = config.connections
  }
}

class Shaper implements TrafficShaper {
  readonly #dsps: DspShaping[]
  readonly #profile = new RequestProfile()
  #instanceCount = 1
  #lastTickAt = Number.NaN
  /** Set by #skipReason: the call passes only as exploration. */
  #isExploration = false

  constructor(
    dsps: readonly ShapedDsp[],
    readonly settings: ShaperSettings,
    readonly options: ShapingOptions,
  ) {
    this.#dsps = dsps.map((d) => new DspShaping(d.config, d.metrics, options))
    this.setInstanceCount(1)
  }

  get instanceCount(): number {
    return this.#instanceCount
  }

  beginAuction(request: BidRequest, nowMs: number): number {
    if (!(nowMs - this.#lastTickAt < this.options.tickMs)) this.#tick(nowMs)
    return this.#profile.read(request).segment
  }

  admit(dspIndex: number, budgetMs: number, tmaxMs: number, nowMs: number): DspSkipReason | null {
    const d = this.#dsps[dspIndex]!
    const reason = this.#skipReason(d, budgetMs, tmaxMs, nowMs)
    if (reason !== null) {
      d.metrics.skipped[reason].inc()
      return reason
    }
    d.inFlight++
    d.breaker.onSent()
    d.value.onSent(this.#profile.segment)
    d.metrics.sent.inc()
    if (this.#isExploration) d.metrics.exploration.inc()
    return null
  }

  /** The first check that stops the call, cheapest first; null when all pass. */
  #skipReason(d: DspShaping, budgetMs: number, tmaxMs: number, nowMs: number): DspSkipReason | null {
    this.#isExploration = false
    const ineligible = staticSkip(d.targeting, this.#profile)
    if (ineligible !== null) return ineligible
    if (tmaxMs < this.settings.minDspBudgetMs) return 'deadline'
    if (budgetMs < d.latency.estimateMs) {
      // A skipped DSP produces no new latency samples, so a stale high estimate (cold start, a
      // past burst) would keep it skipped until the estimate decays away. A small share of these
      // calls goes out anyway, as probes, so the estimate follows the DSP's latency now.
      if (this.options.random() >= d.probeRate) return 'deadline'
      this.#isExploration = true
    }
    if (!d.breaker.allows(nowMs)) return 'breaker'
    if (!d.throttle.allows()) return 'error_throttle'
    const verdict = d.value.decide(this.#profile.segment, this.options.random)
    if (verdict === 'skip') return 'low_value'
    if (verdict === 'explore') this.#isExploration = true
    if (d.inFlight >= d.maxInFlight) return 'in_flight'
    if (d.bucket !== null && !d.bucket.tryTake(nowMs)) return 'qps'
    return null
  }

  onResult(
    dspIndex: number,
    segment: number,
    failure: DspFailureKind | null,
    latencyMs: number,
    bidCpm: number,
    nowMs: number,
  ): void {
    const d = this.#dsps[dspIndex]!
    d.inFlight--
    // Our own adapter failing says nothing about the DSP.
    if (failure === 'adapter_threw') return
    const isFailure = failure !== null
    // Answer times only: a timeout or a refused connection says nothing about how fast it answers
    // (the breaker and the throttle deal with those).
    if (failure !== 'timeout' && failure !== 'network') d.latency.observe(latencyMs)
    d.breaker.onResult(isFailure, nowMs)
    d.throttle.onResult(isFailure)
    d.value.onResult(segment, bidCpm)
  }

  onAbandoned(dspIndex: number): void {
    this.#dsps[dspIndex]!.inFlight--
  }

  setInstanceCount(count: number): void {
    this.#instanceCount = Math.max(1, Math.floor(count))
    const shares = this.#instanceCount * Math.max(1, this.settings.workersPerInstance ?? 1)
    for (const d of this.#dsps) {
      d.bucket?.setRate(d.config.maxQps / shares)
      publishGauges(d)
    }
  }

  state(dspIndex: number): DspShapingState {
    const d = this.#dsps[dspIndex]!
    return {
      breaker: d.breaker.state,
      throttleShare: d.throttle.share,
      errorRate: d.throttle.errorRate,
      latencyEstimateMs: d.latency.estimateMs,
      valueThreshold: d.value.threshold,
      qpsLimit: d.bucket?.qps ?? 0,
      inFlight: d.inFlight,
    }
  }

  #tick(nowMs: number): void {
    const elapsedMs = Number.isNaN(this.#lastTickAt) ? this.options.tickMs : nowMs - this.#lastTickAt
    this.#lastTickAt = nowMs
    for (const d of this.#dsps) {
      d.throttle.tick()
      const allowedQps = d.bucket === null ? 0 : d.bucket.qps * d.throttle.share
      d.value.tick(elapsedMs / 1000, allowedQps)
      d.latency.decay(elapsedMs)
      publishGauges(d)
    }
  }
}

function publishGauges(d: DspShaping): void {
  const m = d.metrics
  m.breakerState.set(d.breaker.state)
  m.admitRatio.set(d.throttle.share)
  m.latencyEstimateSeconds.set(d.latency.estimateMs / 1000)
  m.valueThreshold.set(d.value.threshold)
  m.qpsLimit.set(d.bucket?.qps ?? 0)
}
