import type { DspAdapterName } from '../../../config/config.js'
import type { DspFailureKind } from '../../../errors.js'
import type { BidRequest } from '../../../openrtb/types.js'
import type { CandidateBid } from '../../../pipeline/auction-context.js'

/** The canonical outbound request: OpenRTB 2.6 as a plain object, without `tmax` (it differs per DSP). */
export type OutboundRequest = Readonly<Record<string, unknown>>

/**
 * Speaks one DSP dialect. Adapters are pure: no I/O, no clock, no module state, inputs never
 * mutated. The bid stage owns HTTP, deadlines, shaping, metrics and error isolation; each adapter
 * is tested from JSON fixtures by one shared runner (adapters/adapter-fixtures.test.ts).
 */
export interface DspAdapter {
  readonly name: DspAdapterName
  /** Sent as `x-openrtb-version`. */
  readonly openrtbVersion: string
  /**
   * The request object this dialect sends, from the canonical 2.6 request. It is serialised once
   * per auction and shared by every DSP using this adapter; return `outbound` itself when unchanged.
   */
  buildRequest(outbound: OutboundRequest): Record<string, unknown>
  /** Reads a parsed 200 body into candidate bids (none = no-bid), or the DSP's failure. */
  parseResponse(
    body: unknown,
    request: BidRequest,
    dspIndex: number,
    defaultSeat: string,
    currency: string,
  ): readonly CandidateBid[] | DspFailureKind
}

export const NO_BIDS: readonly CandidateBid[] = Object.freeze([])

/** Request headers for a DSP, as a flat [name, value, …] array (both transports take it), built once per DSP. */
export function requestHeaders(adapter: DspAdapter, gzipRequest: boolean): string[] {
  const headers = [
    'content-type',
    'application/json',
    'x-openrtb-version',
    adapter.openrtbVersion,
    'accept-encoding',
    'gzip',
  ]
  if (gzipRequest) headers.push('content-encoding', 'gzip')
  return headers
}

/**
 * JSON of the request without its closing brace: each DSP's body is `open + ',"tmax":N}'`, a string
 * concatenation instead of a second JSON.stringify. The request always has an `id`, so it ends in `}`.
 */
export function serialiseOpen(request: Record<string, unknown>): string {
  return JSON.stringify(request).slice(0, -1)
}

export function bodyWithTmax(open: string, tmaxMs: number): string {
  return `${open},"tmax":${tmaxMs}}`
}

/**
 * A DSP's HTTP answer as candidate bids or a failure: 204 is a no-bid, any other non-200 a bad
 * status, an empty or non-JSON 200 a bad response, and an adapter that throws is `adapter_threw`,
 * never an exception out of the fan-out. Pure; the fixture runner uses it as the fan-out does.
 */
export function readAnswer(
  adapter: DspAdapter,
  status: number,
  body: string | null,
  request: BidRequest,
  dspIndex: number,
  seat: string,
  currency: string,
): readonly CandidateBid[] | DspFailureKind {
  if (status === 204) return NO_BIDS
  if (status !== 200) return 'http_status'
  if (body === null || body === '') return 'bad_response'
  let parsed: unknown
  try {
    parsed = JSON.parse(body)
  } catch {
    return 'bad_response'
  }
  try {
    return adapter.parseResponse(parsed, request, dspIndex, seat, currency)
  } catch {
    return 'adapter_threw'
  }
}
