import type { AuctionContext } from '../../pipeline/auction-context.js'
import { type CallOwner, DspCall } from './dsp-call.js'
import type { DspEndpoint } from './dsp-endpoints.js'
import { outboundBody, parseBidResponse } from './openrtb-adapter.js'

export interface FanOutSettings {
  readonly currency: string
  readonly networkBufferMs: number
  readonly minDspBudgetMs: number
}

/**
 * The DSP calls of one auction. It owns the auction's single timer: at the deadline every
 * unanswered call is aborted and the auction goes on with what arrived; late answers are dropped.
 * Results are recorded on the context as each call settles, so nothing is collected at the end.
 */
export class FanOut implements CallOwner {
  #pending = 0
  #timer: NodeJS.Timeout | null = null
  #resolve: (() => void) | null = null
  #isDone = false
  #isDispatching = false
  readonly #calls: DspCall[] = []

  constructor(
    readonly ctx: AuctionContext,
    readonly settings: FanOutSettings,
  ) {}

  /** Sends `open` (the serialised request without tmax) to each DSP; resolves when all settled or at the deadline. */
  run(dsps: readonly DspEndpoint[], open: string): Promise<void> {
    const remainingMs = this.ctx.deadline.remainingMs()
    // A call may fail synchronously inside dispatch(): the fan-out must not finish before all are sent.
    this.#isDispatching = true
    for (const dsp of dsps) {
      const tmaxMs = Math.floor(Math.min(remainingMs, dsp.config.timeoutMs) - this.settings.networkBufferMs)
      if (tmaxMs < this.settings.minDspBudgetMs) continue
      const call = new DspCall(this, dsp)
      this.#calls.push(call)
      this.#pending++
      dsp.pool.dispatch(
        {
          method: 'POST',
          path: dsp.path,
          headers: dsp.headers as string[],
          body: outboundBody(open, tmaxMs),
          headersTimeout: tmaxMs + this.settings.networkBufferMs,
          bodyTimeout: tmaxMs + this.settings.networkBufferMs,
        },
        call,
      )
    }
    this.#isDispatching = false
    this.ctx.dspCalls = this.#calls.length
    if (this.#pending === 0) {
      this.#isDone = true
      return RESOLVED
    }
    return new Promise<void>((resolve) => {
      this.#resolve = resolve
      this.#timer = setTimeout(expireFanOut, Math.max(0, this.ctx.deadline.remainingMs()), this)
    })
  }

  /** Each call settles exactly once (DspCall guarantees it), so every outcome is recorded. */
  settle(call: DspCall): void {
    record(this.ctx, call, this.settings.currency)
    if (--this.#pending === 0 && !this.#isDispatching) this.#finish()
  }

  /** The deadline passed: unanswered calls become timeouts and the auction goes on. */
  expire(): void {
    if (this.#isDone) return
    this.#timer = null
    for (const call of this.#calls) call.expire() // each settles through settle() as a timeout
    this.#finish()
  }

  #finish(): void {
    if (this.#isDone) return
    this.#isDone = true
    if (this.#timer !== null) clearTimeout(this.#timer)
    this.#timer = null
    this.#resolve?.()
  }
}

const RESOLVED = Promise.resolve()

// Module-level so each auction's timer captures no closure.
function expireFanOut(fanOut: FanOut): void {
  fanOut.expire()
}

/** Books one settled call on the context and in the DSP's metrics. */
function record(ctx: AuctionContext, call: DspCall, currency: string): void {
  const metrics = call.dsp.metrics
  metrics.latencySeconds.observe((performance.now() - call.startedAt) / 1000)
  if (call.failure !== null) return metrics.calls[call.failure].inc()
  if (call.body === null) return metrics.calls.no_bid.inc()
  let parsed: unknown
  try {
    parsed = JSON.parse(call.body)
  } catch {
    return metrics.calls.bad_response.inc()
  }
  const outcome = parseBidResponse(parsed, ctx, call.dsp.index, call.dsp.config.seat, currency)
  if (typeof outcome === 'string') return metrics.calls[outcome].inc()
  if (outcome.length === 0) return metrics.calls.no_bid.inc()
  metrics.calls.bid.inc()
  metrics.bidsReceived.inc(outcome.length)
  for (const bid of outcome) ctx.bids.push(bid)
}
