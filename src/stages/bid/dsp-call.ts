import { gunzipSync } from 'node:zlib'
import type { DspFailureKind } from '../../errors.js'
import type { DspEndpoint } from './dsp-endpoints.js'

/** What the fan-out needs to hear from a call; implemented by FanOut. */
export interface CallOwner {
  settle(call: DspCall): void
}

/** Whatever carries a call (a connection, a transport's queue) and can stop it. */
export interface CallCarrier {
  /** The call was given up (deadline): stop its request. Called at most once, after it settled. */
  abortCall(call: DspCall): void
}

/**
 * One DSP call, as its transport sees it (transport/dsp-transport.ts). A transport attaches
 * itself while it carries the call, then reports exactly one outcome: a complete response
 * (`complete`) or a failure (`fail`). The fan-out's timer may give the call up first (`expire`),
 * which settles it as a timeout and asks the carrier to abort.
 *
 * A call settles exactly once: with a body to parse (`status` 200), a no-bid (204), or a failure.
 * Bodies over the DSP's cap once gunzipped are `too_large`; corrupt gzip is `bad_response`.
 */
export class DspCall {
  status = 0
  failure: DspFailureKind | null = null
  body: string | null = null
  isSettled = false
  /** Given up late because the exchange stalled: the timeout is not held against the DSP. */
  isAbandoned = false
  #carrier: CallCarrier | null = null

  constructor(
    readonly owner: CallOwner,
    readonly dsp: DspEndpoint,
    /** Value-model segment of the auction, handed back to the shaper with the outcome. */
    readonly segment: number,
    /** performance.now() when sent. */
    readonly startedAt: number,
    /** performance.now() after which the call is given up (the auction's or the DSP's limit). */
    readonly expiresAt: number,
  ) {}

  /** A transport carries the call from now on; if it was given up already, it is aborted at once. */
  attach(carrier: CallCarrier): void {
    this.#carrier = carrier
    if (this.isSettled) carrier.abortCall(this)
  }

  /** Time is up: stop waiting. Settles the call as a timeout if it had not settled. */
  expire(isAbandoned: boolean): void {
    if (this.isSettled) return
    this.isAbandoned = isAbandoned
    this.#finish('timeout')
    const carrier = this.#carrier
    this.#carrier = null
    carrier?.abortCall(this)
  }

  /** The call failed (network, too large, bad framing, or our adapter before sending). */
  fail(kind: DspFailureKind): void {
    if (this.isSettled) return
    this.#carrier = null
    this.#finish(kind)
  }

  /**
   * A whole response. `raw` may be a view of the transport's read buffer: it is only read here,
   * synchronously, and never kept. Only a 200's body is read; other statuses go to readAnswer as is.
   */
  complete(status: number, raw: Buffer | null, isGzip: boolean): void {
    if (this.isSettled) return
    this.#carrier = null
    this.status = status
    if (status !== 200 || raw === null || raw.length === 0) return this.#finish(null)
    if (isGzip) {
      try {
        raw = gunzipSync(raw, { maxOutputLength: this.dsp.config.maxResponseBytes })
      } catch (err) {
        const isTooLarge = (err as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE'
        return this.#finish(isTooLarge ? 'too_large' : 'bad_response')
      }
    }
    this.body = raw.toString('utf8')
    this.#finish(null)
  }

  #finish(failure: DspFailureKind | null): void {
    this.isSettled = true
    this.failure = failure
    this.owner.settle(this)
  }
}
