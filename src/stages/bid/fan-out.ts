import type { AuctionContext, CandidateBid } from '../../pipeline/auction-context.js'
import { readAnswer } from './adapters/dsp-adapter.js'
import { type CallOwner, DspCall } from './dsp-call.js'
import type { DspEndpoint } from './dsp-endpoints.js'
import type { OutboundBodies } from './outbound-bodies.js'
import type { TrafficShaper } from './traffic-shaper.js'

export interface FanOutSettings {
  readonly currency: string
  /** Taken off each DSP's budget for the network both ways: the DSP is told the rest as tmax. */
  readonly networkBufferMs: number
  /** A DSP is not called with a tmax under this. */
  readonly minDspBudgetMs: number
}

/** What every auction's fan-out shares, built once by the bid stage. */
export interface FanOutEnv {
  readonly dsps: readonly DspEndpoint[]
  readonly settings: FanOutSettings
  readonly shaper: TrafficShaper
  readonly bodies: OutboundBodies
}

/**
 * The timer is armed this much before the earliest expiry, and expires every call due within the
 * tolerance: Node's timers have millisecond granularity and usually fire a little late, and a DSP
 * was told a tmax `networkBufferMs` shorter anyway.
 */
const ARM_EARLY_MS = 1
const EXPIRY_TOLERANCE_MS = 2
/**
 * A timer this late means the exchange's own event loop stalled (GC, a burst of work): answers may
 * be sitting unread in the sockets, since timers run before I/O. Those timeouts still count for the
 * auction and in metrics, but are not held against the DSPs by the shaper.
 */
const STALL_MS = 5

/**
 * The DSP calls of one auction. Each DSP's budget is what remains of the auction (or its own
 * timeoutMs, if shorter); the shaper decides who is called; every called DSP is told
 * `tmax = budget − networkBuffer`. One timer serves the auction: it fires at the earliest expiry
 * (usually the auction deadline, shared by all), gives up the calls due and re-arms only if a later
 * one remains. Results are recorded on the context as each call settles; late answers are dropped.
 */
export class FanOut implements CallOwner {
  #pending = 0
  #timer: NodeJS.Timeout | null = null
  #resolve: (() => void) | null = null
  #isDone = false
  #isDispatching = false
  #segment = 0
  /** When the pending timer should fire. */
  #armedFor = 0
  /** When the auction started waiting for answers (all calls sent). */
  #waitFrom = 0
  readonly #calls: DspCall[] = []

  constructor(
    readonly ctx: AuctionContext,
    readonly env: FanOutEnv,
  ) {}

  /** Calls the admitted DSPs; undefined when none was called, else resolves when all settled or expired. */
  run(): Promise<void> | undefined {
    const { ctx, env } = this
    const nowMs = performance.now()
    this.#segment = env.shaper.beginAuction(ctx.request, nowMs)
    env.bodies.begin(ctx)
    // A call may fail synchronously inside send(): the fan-out must not finish before all are sent.
    this.#isDispatching = true
    let nextExpiry: number
    try {
      nextExpiry = this.#dispatchAll(nowMs, ctx.deadline.at - nowMs)
    } finally {
      env.bodies.end()
      this.#isDispatching = false
    }
    ctx.dspCalls = this.#calls.length
    if (this.#calls.length === 0) return undefined
    if (this.#pending === 0) return RESOLVED
    this.#waitFrom = performance.now()
    return new Promise<void>((resolve) => {
      this.#resolve = resolve
      this.#arm(nextExpiry)
    })
  }

  /** Asks the shaper about each DSP and sends to those admitted; returns the earliest expiry. */
  #dispatchAll(nowMs: number, remainingMs: number): number {
    const { dsps, shaper, bodies, settings } = this.env
    let nextExpiry = Number.POSITIVE_INFINITY
    for (let i = 0; i < dsps.length; i++) {
      const dsp = dsps[i]!
      const budgetMs = Math.min(remainingMs, dsp.config.timeoutMs)
      const tmaxMs = Math.floor(budgetMs - settings.networkBufferMs)
      if (shaper.admit(i, budgetMs, tmaxMs, nowMs) !== null) continue
      const call = new DspCall(this, dsp, this.#segment, nowMs, nowMs + budgetMs)
      this.#calls.push(call)
      this.#pending++
      if (call.expiresAt < nextExpiry) nextExpiry = call.expiresAt
      const body = bodies.bodyFor(dsp, tmaxMs)
      if (body === null) call.fail('adapter_threw')
      else dsp.transport.send(body, call)
    }
    return nextExpiry
  }

  /** Each call settles exactly once (DspCall guarantees it), so every outcome is recorded. */
  settle(call: DspCall): void {
    record(this.ctx, call, this.env, performance.now())
    if (--this.#pending === 0 && !this.#isDispatching) this.#finish()
  }

  /** The timer fired: give up the calls that are due, then wait for the next expiry if any. */
  expireDue(): void {
    this.#timer = null
    if (this.#isDone) return
    const nowMs = performance.now()
    const dueAt = nowMs + EXPIRY_TOLERANCE_MS
    const isStalled = nowMs - this.#armedFor > STALL_MS
    let nextExpiry = Number.POSITIVE_INFINITY
    for (const call of this.#calls) {
      if (call.isSettled) continue
      // expire() settles the call through settle() as a timeout.
      if (call.expiresAt <= dueAt) call.expire(isStalled)
      else if (call.expiresAt < nextExpiry) nextExpiry = call.expiresAt
    }
    if (!this.#isDone && nextExpiry !== Number.POSITIVE_INFINITY) this.#arm(nextExpiry)
  }

  #arm(atMs: number): void {
    this.#armedFor = atMs - ARM_EARLY_MS
    this.#timer = setTimeout(expireFanOut, Math.max(0, this.#armedFor - performance.now()), this)
  }

  #finish(): void {
    if (this.#isDone) return
    this.#isDone = true
    if (this.#timer !== null) clearTimeout(this.#timer)
    this.#timer = null
    if (this.#resolve === null) return
    // The DSPs' time, left out of the exchange-added latency (rtb_auction_own_duration_seconds).
    this.ctx.dspWaitMs = performance.now() - this.#waitFrom
    this.#resolve()
  }
}

const RESOLVED = Promise.resolve()

// Module-level so each auction's timer captures no closure.
function expireFanOut(fanOut: FanOut): void {
  fanOut.expireDue()
}

/** Books one settled call: bids on the context, the funnel and latency in metrics, the outcome in the shaper. */
function record(ctx: AuctionContext, call: DspCall, env: FanOutEnv, nowMs: number): void {
  const dsp = call.dsp
  const metrics = dsp.metrics
  const elapsedMs = nowMs - call.startedAt
  metrics.latencySeconds.observe(elapsedMs / 1000)
  const outcome =
    call.failure ??
    readAnswer(
      dsp.adapter,
      call.status,
      call.body,
      ctx.request,
      dsp.index,
      dsp.config.seat,
      env.settings.currency,
    )
  // Past its budget, the time is the exchange's lateness, not the DSP's.
  const latencyMs = Math.min(elapsedMs, call.expiresAt - call.startedAt)
  if (typeof outcome === 'string') {
    metrics.calls[outcome].inc()
    if (call.isAbandoned) env.shaper.onAbandoned(dsp.index)
    else env.shaper.onResult(dsp.index, call.segment, outcome, latencyMs, 0, nowMs)
    return
  }
  if (outcome.length === 0) metrics.calls.no_bid.inc()
  else {
    metrics.calls.bid.inc()
    metrics.bidsReceived.inc(outcome.length)
    for (const bid of outcome) ctx.bids.push(bid)
  }
  env.shaper.onResult(dsp.index, call.segment, null, latencyMs, bestPrice(outcome), nowMs)
}

function bestPrice(bids: readonly CandidateBid[]): number {
  let best = 0
  for (let i = 0; i < bids.length; i++) if (bids[i]!.price > best) best = bids[i]!.price
  return best
}
