import type { BidRequest } from '../../../openrtb/types.js'
import type { OutboundRequest } from './dsp-adapter.js'

/** What the canonical outbound request is built from: the request and what the earlier stages added. */
export interface OutboundInput {
  readonly request: BidRequest
  /** Per imp, the floor in force in the exchange currency (0 or less = none). */
  readonly floors: readonly number[]
  /** Blocks merged from the request and the publisher's settings. */
  readonly bcat: readonly string[]
  readonly badv: readonly string[]
  readonly currency: string
  /** Our advertising system domain: the `asi` of the schain node we append. */
  readonly asi: string
  /** `source.tid` when the request has none. */
  readonly tid: string
}

/**
 * The OpenRTB 2.6 request the exchange sends, without `tmax`: the publisher's request with the
 * floors in force, our currency, `source.tid`, our node appended to the supply chain and the merged
 * blocks. Pure: shallow copies where it changes something, the input is never mutated.
 */
export function buildOutboundRequest(input: OutboundInput): OutboundRequest {
  const req = input.request
  const out: Record<string, unknown> = { ...req }
  delete out['tmax']
  out['imp'] = outboundImps(req, input.floors, input.currency)
  out['cur'] = [input.currency]
  out['source'] = outboundSource(req, input.asi, input.tid)
  if (input.bcat.length > 0) out['bcat'] = input.bcat
  if (input.badv.length > 0) out['badv'] = input.badv
  return out
}

/** Imps with the floor in force (publisher floors merged in) in the exchange currency. */
function outboundImps(req: BidRequest, floors: readonly number[], currency: string): unknown[] {
  const imps = req.imp
  const out: unknown[] = new Array(imps.length)
  for (let i = 0; i < imps.length; i++) {
    const imp = imps[i]!
    const floor = floors[i] ?? 0
    out[i] = floor > 0 ? { ...imp, bidfloor: floor, bidfloorcur: currency } : imp
  }
  return out
}

function outboundSource(req: BidRequest, asi: string, tid: string): Record<string, unknown> {
  const source: Record<string, unknown> = { ...(req.source ?? {}) }
  if (typeof source['tid'] !== 'string') source['tid'] = tid
  const node = { asi, sid: publisherId(req), hp: 1, rid: req.id }
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
