import type { AuctionAnswer, Exchange } from '../exchange.js'
import type { AuctionOutcome, ExchangeMetrics } from '../metrics/metrics.js'
import type { LoadShedder } from './load-shedder.js'
import { type BodyFailure, BodyReader } from './read-body.js'
import { errorBody, writeJson } from './responses.js'
import type { HttpRequest, HttpResponse } from './uws.js'

export interface AuctionRouteDeps {
  readonly exchange: Exchange
  readonly metrics: ExchangeMetrics
  readonly maxBodyBytes: number
  /** In-flight bookkeeping shared with shedding and draining. */
  readonly inFlight: { count: number }
  readonly shedder: LoadShedder
  readonly isDraining: () => boolean
  /**
   * A body still incomplete this long after arrival gets 408 and the connection closed: its
   * auction could not answer in time anyway, and slow bodies must not hold in-flight slots.
   */
  readonly bodyTimeoutMs: number
}

export interface AuctionHandler {
  readonly handle: (res: HttpResponse, req: HttpRequest) => void
  /** Stops the slow-body sweep (at shutdown). */
  stop(): void
}

const TOO_LARGE = errorBody('body_too_large', 'request body exceeds the size limit')
const BAD_ENCODING = errorBody('invalid_request', 'body is not valid gzip', 'body')
const OVERLOADED = errorBody('overloaded', 'the exchange is overloaded; retry later')
const DRAINING = errorBody('draining', 'the exchange is shutting down')
const BODY_TIMEOUT = errorBody('body_timeout', 'request body not received in time')
const UNSUPPORTED_ENCODING = errorBody(
  'unsupported_encoding',
  'only gzip and identity content-encodings are accepted',
)

/**
 * POST /openrtb2/auction. The arrival time is taken first thing, so the auction's deadline counts
 * the time spent reading the body. A client that goes away is never written to.
 */
export function createAuctionHandler(deps: AuctionRouteDeps): AuctionHandler {
  const reading = new Set<PendingAuction>()
  // One sweep for all requests still reading their body, not a timer per request.
  const sweeper = { lastAt: performance.now() }
  const sweep = setInterval(() => sweepSlowBodies(reading, deps.bodyTimeoutMs, sweeper), SWEEP_INTERVAL_MS)
  sweep.unref()
  const handle = (res: HttpResponse, req: HttpRequest): void => {
    const receivedAt = performance.now()
    // Shed before reading the body: a request that cannot meet its deadline costs ~nothing.
    const shed = deps.isDraining() ? 'draining' : deps.shedder.shedReason(deps.inFlight.count)
    if (shed !== null) {
      deps.metrics.shed[shed].inc()
      writeJson(res, 503, shed === 'draining' ? DRAINING : OVERLOADED, shed === 'draining')
      return finishMetrics(deps, receivedAt, 'shed')
    }
    const encoding = req.getHeader('content-encoding')
    const length = req.getHeader('content-length')
    if (length !== '' && Number(length) > deps.maxBodyBytes) {
      // Answer before reading: close so the rest of the oversized body is not read either.
      writeJson(res, 413, TOO_LARGE, true)
      return finishMetrics(deps, receivedAt, 'too_large')
    }
    const isGzip = encoding === 'gzip' || encoding === 'x-gzip'
    if (!isGzip && encoding !== '' && encoding !== 'identity') {
      writeJson(res, 415, UNSUPPORTED_ENCODING, true)
      return finishMetrics(deps, receivedAt, 'invalid')
    }
    const pending = new PendingAuction(res, receivedAt, deps, reading)
    res.onAborted(pending.onAborted)
    res.onData(new BodyReader(res, deps.maxBodyBytes, isGzip, pending.onBody).onData)
  }
  return { handle, stop: () => clearInterval(sweep) }
}

const SWEEP_INTERVAL_MS = 10

function sweepSlowBodies(reading: Set<PendingAuction>, timeoutMs: number, sweeper: { lastAt: number }): void {
  const now = performance.now()
  const sinceLastMs = now - sweeper.lastAt
  sweeper.lastAt = now
  // A late tick means our own loop was blocked: body bytes that arrived meanwhile wait in the I/O
  // phase, which runs after the timers. Judge at the next tick, not the client for our stall.
  if (reading.size === 0 || sinceLastMs > 3 * SWEEP_INTERVAL_MS) return
  for (const pending of reading) if (now - pending.receivedAt > timeoutMs) pending.timeOut()
}

/** One request between arrival and answer. */
class PendingAuction {
  isAborted = false
  #isBodyRead = false
  #answer: AuctionAnswer | null = null

  constructor(
    readonly res: HttpResponse,
    readonly receivedAt: number,
    readonly deps: AuctionRouteDeps,
    readonly reading: Set<PendingAuction>,
  ) {
    deps.inFlight.count++
    reading.add(this)
  }

  readonly onAborted = (): void => {
    this.isAborted = true
    // Gone before its body arrived: no auction will run, so nothing else will release it.
    if (!this.#isBodyRead) {
      this.#isBodyRead = true
      this.reading.delete(this)
      this.#write(ABORTED_ANSWER)
    }
  }

  /** The body is too late (see AuctionRouteDeps.bodyTimeoutMs): 408, close, release the slot. */
  timeOut(): void {
    this.#isBodyRead = true
    this.reading.delete(this)
    this.#write(BODY_TIMEOUT_ANSWER)
  }

  readonly onBody = (_reader: BodyReader, body: string | null, failure: BodyFailure | null): void => {
    if (this.#isBodyRead) return // already answered (timed out)
    this.#isBodyRead = true
    this.reading.delete(this)
    if (failure !== null) return this.#answerFailure(failure)
    // Under load the deadline comes in by the loop's lag (LoadShedder.deadlineSlackMs), so that
    // auctions admitted into a busy loop still answer by tmax.
    this.deps.exchange
      .runAuction(body!, this.receivedAt, this.deps.shedder.deadlineSlackMs())
      .then(this.#write, this.#writeFailed)
  }

  /**
   * runAuction promises never to reject; if a bug breaks that promise (e.g. a DSP bid too deeply
   * nested for JSON.stringify), the client still gets an answer, the in-flight slot is released,
   * and the process does not die of an unhandled rejection.
   */
  readonly #writeFailed = (): void => this.#write(FAILED_ANSWER)

  #answerFailure(failure: BodyFailure): void {
    const status = failure === 'too_large' ? 413 : failure === 'bad_encoding' ? 400 : 415
    const body =
      failure === 'too_large' ? TOO_LARGE : failure === 'bad_encoding' ? BAD_ENCODING : UNSUPPORTED_ENCODING
    this.#write({ status: status as 400, body, outcome: failure === 'too_large' ? 'too_large' : 'invalid' })
  }

  readonly #write = (answer: AuctionAnswer): void => {
    this.deps.inFlight.count--
    if (this.isAborted) return finishMetrics(this.deps, this.receivedAt, 'aborted')
    this.#answer = answer
    this.res.cork(this.#corkedWrite)
    finishMetrics(this.deps, this.receivedAt, answer.outcome)
  }

  readonly #corkedWrite = (): void => {
    const answer = this.#answer!
    // 413 and 408 close the connection: the unread rest of the body would otherwise be parsed as
    // a request.
    writeJson(
      this.res,
      answer.status,
      answer.body,
      answer.outcome === 'too_large' || answer.outcome === 'body_timeout',
    )
  }
}

const BODY_TIMEOUT_ANSWER: AuctionAnswer = Object.freeze({
  status: 408 as 400,
  body: BODY_TIMEOUT,
  outcome: 'body_timeout',
})
const ABORTED_ANSWER: AuctionAnswer = Object.freeze({ status: 400, body: '', outcome: 'aborted' })
/** Same answer as the exchange gives a failed auction: a no-bid, counted as outcome "error". */
const FAILED_ANSWER: AuctionAnswer = Object.freeze({ status: 204, body: '', outcome: 'error' })

function finishMetrics(deps: AuctionRouteDeps, receivedAt: number, outcome: AuctionOutcome): void {
  // A body that never arrived in time is a refused client, not an auction that answered late.
  if (outcome !== 'body_timeout') deps.metrics.auctionSeconds.observe((performance.now() - receivedAt) / 1000)
  deps.metrics.auctions[outcome].inc()
}
