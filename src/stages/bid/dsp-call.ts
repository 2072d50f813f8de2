import { gunzipSync } from 'node:zlib'
import type { Dispatcher } from 'undici'
import type { DspFailureKind } from '../../errors.js'
import type { DspEndpoint } from './dsp-endpoints.js'

/** Preallocated abort reasons: aborting costs no stack capture. */
export const DEADLINE_ABORT = new Error('auction deadline reached')
const TOO_LARGE_ABORT = new Error('DSP response larger than its cap')

/** What the fan-out needs to hear from a call; implemented by FanOut. */
export interface CallOwner {
  settle(call: DspCall): void
}

/**
 * One DSP call, as an undici dispatch handler. `Pool.dispatch` with a plain handler object skips
 * the promise, the body stream and the per-call closures of `Pool.request`: the fan-out is most of
 * an exchange's CPU, so the lowest-level stable API is worth it here. The legacy handler methods
 * (onConnect/onHeaders/onData/onComplete/onError) are what undici runs natively; the newer
 * controller API is wrapped in an adapter object per call.
 *
 * A call settles exactly once: with a body to parse (`status` 200), a no-bid (204), or a failure.
 * Connection refused, resets (before or mid-body), bodies over the DSP's cap (by content-length,
 * by bytes received, or once gunzipped) and undici's own timeouts all end as failure values.
 */
export class DspCall implements Dispatcher.DispatchHandler {
  status = 0
  failure: DspFailureKind | null = null
  body: string | null = null
  isSettled = false
  /** Given up late because the exchange stalled: the timeout is not held against the DSP. */
  isAbandoned = false
  #abort: ((err?: Error) => void) | null = null
  #chunks: Buffer[] | null = null
  #bytes = 0
  #gzip = false

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

  /** Time is up: stop waiting. Settles the call as a timeout if it had not settled. */
  expire(isAbandoned: boolean): void {
    if (this.isSettled) return
    this.isAbandoned = isAbandoned
    this.#finish('timeout')
    this.#abort?.(DEADLINE_ABORT)
  }

  /** A failure found before sending (the adapter could not build the request). */
  fail(kind: DspFailureKind): void {
    if (!this.isSettled) this.#finish(kind)
  }

  onConnect(abort: (err?: Error) => void): void {
    this.#abort = abort
    if (this.isSettled) abort(DEADLINE_ABORT)
  }

  onHeaders(statusCode: number, rawHeaders: Buffer[]): boolean {
    this.status = statusCode
    if (statusCode < 200) return true // 1xx: the real status follows
    for (let i = 0; i < rawHeaders.length; i += 2) {
      const name = rawHeaders[i]!
      if (name.length === 16 && name.toString('latin1').toLowerCase() === 'content-encoding') {
        this.#gzip = rawHeaders[i + 1]!.toString('latin1').trim().toLowerCase() === 'gzip'
      } else if (name.length === 14 && name.toString('latin1').toLowerCase() === 'content-length') {
        if (Number(rawHeaders[i + 1]!.toString('latin1')) > this.dsp.config.maxResponseBytes) {
          this.#failAndAbort('too_large')
          return false
        }
      }
    }
    return true
  }

  onData(chunk: Buffer): boolean {
    if (this.isSettled) return false
    if (this.status !== 200) return true // only a 200's body is read
    this.#bytes += chunk.length
    if (this.#bytes > this.dsp.config.maxResponseBytes) {
      this.#failAndAbort('too_large')
      return false
    }
    if (this.#chunks === null) this.#chunks = [chunk]
    else this.#chunks.push(chunk)
    return true
  }

  onComplete(): void {
    if (this.isSettled) return
    if (this.status !== 200) return this.#finish(null) // 204 or a bad status: readAnswer decides
    const chunks = this.#chunks
    if (chunks === null) return this.#finish(null) // 200 with an empty body: bad_response there
    let raw = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, this.#bytes)
    if (this.#gzip) {
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

  onError(err: Error): void {
    if (this.isSettled) return
    this.#finish(err === DEADLINE_ABORT ? 'timeout' : classifyError(err))
  }

  #failAndAbort(kind: DspFailureKind): void {
    this.#finish(kind)
    this.#abort?.(TOO_LARGE_ABORT)
  }

  #finish(failure: DspFailureKind | null): void {
    this.isSettled = true
    this.failure = failure
    this.#chunks = null
    this.owner.settle(this)
  }
}

function classifyError(err: Error): DspFailureKind {
  switch ((err as { code?: string }).code) {
    case 'UND_ERR_HEADERS_TIMEOUT':
    case 'UND_ERR_BODY_TIMEOUT':
    case 'UND_ERR_CONNECT_TIMEOUT':
      return 'timeout'
    case 'UND_ERR_RES_EXCEEDED_MAX_SIZE':
      return 'too_large'
    default:
      return 'network' // ECONNREFUSED, ECONNRESET, UND_ERR_SOCKET (closed mid-body), …
  }
}
