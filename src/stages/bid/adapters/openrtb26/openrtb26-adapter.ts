import type { DspFailureKind } from '../../../../errors.js'
import type { Bid, BidRequest } from '../../../../openrtb/types.js'
import type { CandidateBid } from '../../../../pipeline/auction-context.js'
import { type DspAdapter, NO_BIDS, type OutboundRequest } from '../dsp-adapter.js'

/** The default dialect: the canonical OpenRTB 2.6 request as is. */
export const openrtb26Adapter: DspAdapter = {
  name: 'openrtb26',
  openrtbVersion: '2.6',
  buildRequest: (outbound: OutboundRequest) => outbound as Record<string, unknown>,
  parseResponse: parseBidResponse,
}

/**
 * Reads an OpenRTB 2.x BidResponse into candidate bids. Wrong-shaped bodies, another auction's id
 * and another currency are the DSP's failure (`bad_response`); individual bad bids are left to the
 * auction's validation (a bid naming no imp of the request gets impIndex -1 and is dropped there).
 * An empty object or an empty seatbid is a no-bid (OpenRTB 2.6 implementation guide §7.1).
 */
export function parseBidResponse(
  body: unknown,
  request: BidRequest,
  dspIndex: number,
  defaultSeat: string,
  currency: string,
): readonly CandidateBid[] | DspFailureKind {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return 'bad_response'
  const res = body as { id?: unknown; seatbid?: unknown; cur?: unknown; bidid?: unknown }
  if (res.seatbid === undefined || (Array.isArray(res.seatbid) && res.seatbid.length === 0)) return NO_BIDS
  if (!Array.isArray(res.seatbid)) return 'bad_response'
  if (res.id !== undefined && res.id !== request.id) return 'bad_response'
  // OpenRTB: cur defaults to USD. The exchange does not convert currencies: other ones are refused.
  const cur = res.cur === undefined ? 'USD' : res.cur
  if (cur !== currency) return 'bad_response'
  const responseBidId = typeof res.bidid === 'string' ? res.bidid : null
  const out: CandidateBid[] = []
  for (const seatbid of res.seatbid) {
    if (typeof seatbid !== 'object' || seatbid === null || !Array.isArray(seatbid.bid)) return 'bad_response'
    const seat = typeof seatbid.seat === 'string' && seatbid.seat !== '' ? seatbid.seat : defaultSeat
    for (const bid of seatbid.bid as unknown[]) {
      if (typeof bid !== 'object' || bid === null) return 'bad_response'
      const b = bid as Bid
      out.push({
        impIndex: impIndexOf(request, b.impid),
        price: typeof b.price === 'number' ? b.price : Number.NaN,
        bid: b,
        seat,
        dspIndex,
        responseBidId,
        ad: null,
      })
    }
  }
  return out
}

/** -1 when the bid names no imp of this request; the auction drops it. */
function impIndexOf(request: BidRequest, impid: unknown): number {
  const imps = request.imp
  for (let i = 0; i < imps.length; i++) if (imps[i]!.id === impid) return i
  return -1
}
