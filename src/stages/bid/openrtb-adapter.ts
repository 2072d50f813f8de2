import type { DspFailureKind } from '../../errors.js'
import type { Bid, BidRequest } from '../../openrtb/types.js'
import type { AuctionContext, CandidateBid } from '../../pipeline/auction-context.js'

/** Who we are in the supply chain (`source.schain` node appended to every outbound request). */
export interface ExchangeIdentity {
  /** The exchange's advertising system domain (schain `asi`). */
  readonly asi: string
  readonly currency: string
}

/**
 * The outbound OpenRTB 2.6 request for one auction, serialised once and shared by every DSP.
 * `tmax` differs per DSP, so the JSON is kept without its closing brace and each DSP's body is
 * `open + ',"tmax":' + tmaxMs + '}'`: a string concatenation, not a second JSON.stringify.
 */
export function serialiseOutbound(ctx: AuctionContext, identity: ExchangeIdentity, tid: string): string {
  const req = ctx.request
  const signals = ctx.signals
  const out: Record<string, unknown> = { ...req }
  delete out['tmax']
  out['imp'] = outboundImps(ctx, identity.currency)
  out['cur'] = [identity.currency]
  out['source'] = outboundSource(req, identity, tid)
  if (signals !== null) {
    if (signals.bcat.length > 0) out['bcat'] = signals.bcat
    if (signals.badv.length > 0) out['badv'] = signals.badv
  }
  const json = JSON.stringify(out)
  return json.slice(0, -1)
}

export function outboundBody(open: string, tmaxMs: number): string {
  return `${open},"tmax":${tmaxMs}}`
}

/** Imps with the floor in force (publisher floors merged in) in the exchange currency. */
function outboundImps(ctx: AuctionContext, currency: string): unknown[] {
  const imps = ctx.request.imp
  const out: unknown[] = new Array(imps.length)
  for (let i = 0; i < imps.length; i++) {
    const imp = imps[i]!
    const floor = ctx.floors[i] ?? 0
    out[i] = floor > 0 ? { ...imp, bidfloor: floor, bidfloorcur: currency } : imp
  }
  return out
}

function outboundSource(req: BidRequest, identity: ExchangeIdentity, tid: string): Record<string, unknown> {
  const source: Record<string, unknown> = { ...(req.source ?? {}) }
  if (typeof source['tid'] !== 'string') source['tid'] = tid
  const node = { asi: identity.asi, sid: publisherId(req), hp: 1, rid: req.id }
  const schain = source['schain'] as { nodes?: unknown[] } | undefined
  // 2.5 senders put the supply chain under source.ext.schain; 2.6 has source.schain.
  const ext = source['ext'] as { schain?: { nodes?: unknown[] } } | undefined
  const existing = schain ?? ext?.schain
  if (existing && Array.isArray(existing.nodes)) {
    source['schain'] = { ...existing, nodes: [...existing.nodes, node] }
  } else {
    source['schain'] = { complete: 1, ver: '1.0', nodes: [node] }
  }
  return source
}

function publisherId(req: BidRequest): string {
  return req.site?.publisher?.id ?? req.app?.publisher?.id ?? req.site?.domain ?? req.app?.bundle ?? 'unknown'
}

/**
 * Reads a DSP's BidResponse into candidate bids. Pure: no I/O, no clock. Wrong-shaped bodies are
 * the DSP's failure (`bad_response`); individual bad bids are left to the auction's validation.
 * An empty object or an empty seatbid is a no-bid (OpenRTB 2.6 implementation guide §7.1).
 */
export function parseBidResponse(
  body: unknown,
  ctx: AuctionContext,
  dspIndex: number,
  defaultSeat: string,
  currency: string,
): readonly CandidateBid[] | DspFailureKind {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return 'bad_response'
  const res = body as { id?: unknown; seatbid?: unknown; cur?: unknown; bidid?: unknown }
  if (res.seatbid === undefined || (Array.isArray(res.seatbid) && res.seatbid.length === 0)) return NO_BIDS
  if (!Array.isArray(res.seatbid)) return 'bad_response'
  if (res.id !== undefined && res.id !== ctx.request.id) return 'bad_response'
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
      const impIndex = impIndexOf(ctx, (bid as Bid).impid)
      out.push({
        impIndex,
        price: typeof (bid as Bid).price === 'number' ? (bid as Bid).price : Number.NaN,
        bid: bid as Bid,
        seat,
        dspIndex,
        responseBidId,
        ad: null,
      })
    }
  }
  return out
}

const NO_BIDS: readonly CandidateBid[] = Object.freeze([])

/** -1 when the bid names no imp of this request; the auction drops it. */
function impIndexOf(ctx: AuctionContext, impid: unknown): number {
  const imps = ctx.request.imp
  for (let i = 0; i < imps.length; i++) if (imps[i]!.id === impid) return i
  return -1
}
