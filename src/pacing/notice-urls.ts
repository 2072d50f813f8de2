import type { Bid } from '../openrtb/types.js'
import type { AuctionContext, ImpWinner } from '../pipeline/auction-context.js'
import type { NoticeClaims, NoticeSigner, NoticeType } from './notice-token.js'

export interface NoticeUrlDeps {
  /** This exchange's public base URL (config.publicUrl), without a trailing slash. */
  readonly publicUrl: string
  readonly signer: NoticeSigner
  /** Lifetime of a notice that commits no reservation (DSP notices, unpaced house ads). */
  readonly ttlMs: number
  /** Unique per call across the fleet (instance id + counter): the de-duplication key. */
  readonly nextKey: () => string
  readonly now: () => number
}

/** Rewrites a winning bid's notice URLs (after macro substitution) to our signed ones. */
export type NoticeRewriter = (ctx: AuctionContext, winner: ImpWinner, bid: Bid) => void

/**
 * The winner's `burl` becomes our /notify/billing (always: we count every billable impression,
 * house or DSP), its `nurl` our /notify/win and its `lurl` our /notify/loss, each carrying the DSP's
 * own URL to forward to once. A house ad's billing names the reservation it commits.
 */
export function createNoticeRewriter(deps: NoticeUrlDeps): NoticeRewriter {
  const base = deps.publicUrl.replace(/\/+$/, '')
  const url = (type: NoticeType, claims: NoticeClaims) =>
    `${base}/notify/${type}?t=${deps.signer.sign(claims)}`

  return (ctx, winner, bid) => {
    const c = winner.candidate
    const impIndex = c.impIndex
    const isHouse = c.dspIndex === -1
    const priceCpmMicros = clearingMicros(winner.price, isHouse ? (c.ad?.cpmMicros ?? null) : null)
    const r = isHouse ? (ctx.reservations?.[impIndex] ?? null) : null
    const claims: NoticeClaims = {
      type: 'billing',
      auctionId: ctx.request.id,
      impId: ctx.request.imp[impIndex]!.id,
      source: isHouse ? (c.ad?.id ?? '') : c.seat,
      isHouse,
      priceCpmMicros,
      expiresAtMs: r !== null ? r.expiresAtMs : deps.now() + deps.ttlMs,
      key: r !== null ? `${r.instance}.${r.seq}` : deps.nextKey(),
      campaignId: r !== null ? r.lease.id : '',
      isLeased: r?.isLeased === true,
      userId: r !== null && r.capKey !== null ? (ctx.request.user?.id ?? '') : '',
      forwardUrl: isHouse ? '' : (bid.burl ?? ''),
    }
    bid.burl = url('billing', claims)
    if (isHouse) return
    if (typeof bid.nurl === 'string') bid.nurl = url('win', { ...claims, type: 'win', forwardUrl: bid.nurl })
    if (typeof bid.lurl === 'string')
      bid.lurl = url('loss', { ...claims, type: 'loss', forwardUrl: bid.lurl })
  }
}

/** The clearing CPM in micros, never above the house ad's own price (its reservation's maximum). */
function clearingMicros(priceCpm: number, maxMicros: number | null): number {
  const micros = Math.round(priceCpm * 1_000_000)
  return maxMicros === null ? micros : Math.min(micros, maxMicros)
}
