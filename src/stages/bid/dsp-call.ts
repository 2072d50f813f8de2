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
 */
export class DspCall implements Dispatcher.DispatchHandler {
  status = 0
  failure: DspFailureKind | null = null
  body: string | null = null
  readonly startedAt = performance.now()
  isSettled = false
  #abort: ((err?: Error) => void) | null = null
  #chunks: Buffer[] | null = null
  #bytes = 0
  #gzip = false

  constructor(
    readonly owner: CallOwner,
    readonly dsp: DspEndpoint,
  ) {}

  /** The deadline passed: stop waiting. Settles the call as a timeout if it had not settled. */
  expire(): void {
    if (this.isSettled) return
    this.#finish('timeout')
    this.#abort?.(DEADLINE_ABORT)
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
    if (this.status === 204) return this.#finish(null)
    if (this.status !== 200) return this.#finish('http_status')
    const chunks = this.#chunks
    if (chunks === null) return this.#finish('bad_response') // 200 with an empty body
    let raw = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, this.#bytes)
    if (this.#gzip) {
      try {
        raw = gunzipSync(raw, { maxOutputLength: this.dsp.config.maxResponseBytes })
      } catch (err) {
        return this.#finish(
          (err as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE' ? 'too_large' : 'bad_response',
        )
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
  const code = (err as { code?: string }).code
  if (
    code === 'UND_ERR_HEADERS_TIMEOUT' ||
    code === 'UND_ERR_BODY_TIMEOUT' ||
    code === 'UND_ERR_CONNECT_TIMEOUT'
  ) {
    return 'timeout'
  }
  return 'network'
}
