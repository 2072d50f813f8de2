import type { AdRecord } from '../catalog/ad.js'
import { type Campaign, isBudgeted } from './campaign.js'
import { type Delivery, INITIAL_PACER, type PacerState } from './even-pacer.js'
import { type FrequencyCap, windowIndex } from './frequency.js'

/**
 * How this instance may spend a campaign's budget:
 * - 'lease': from a local lease refilled in the background, sized from the recent spend rate;
 * - 'last_mile': the campaign is nearly exhausted, so the store grants one impression's worth at
 *   a time, refilled as soon as it is used: at most one unbilled impression per instance;
 * - 'exhausted': the store has nothing left that this instance could use: what remains plus what it
 *   holds unreserved is less than one impression (the lease in hand may still be spent; a fragment
 *   too small for one impression goes back, for an instance it completes one for).
 */
export type LeaseMode = 'lease' | 'last_mile' | 'exhausted'

/** One campaign as one instance sees it: its definition, its local lease, its pacing rate. */
export class CampaignLease {
  campaign: Campaign
  /** Needs a lease: spend or impressions are limited. Cached from `campaign`. */
  isBudgeted: boolean
  /** Caps with their window index resolved once, for the per-auction check. */
  caps: readonly ResolvedCap[]
  /** Granted to this instance and neither committed nor returned (micros / impressions). */
  leaseMicros = 0
  leaseImps = 0
  /** Held by reservations not yet released or committed. */
  reservedMicros = 0
  reservedImps = 0
  mode: LeaseMode = 'lease'
  /** The dearest impression seen for this campaign: the smallest grant worth having. */
  unitMicros = 0
  /** The request path found the lease short: refill soon, off the request path. */
  needsRefill = false
  /** A LEASE call for this campaign is out (one at a time). */
  isRefilling = false
  /** When the store should next report delivery (for pacing) even if no grant is needed. */
  nextReportAtMs = 0
  /** Micros and impressions won since the last refill, for the spend rate. */
  wonMicros = 0
  wonImps = 0
  /** Exponentially weighted spend rate (per second) from wins, for lease sizing. */
  microsPerSec = 0
  impsPerSec = 0
  lastRateAtMs = 0
  /** Fleet-wide delivery as last reported by the store (null until the first report). */
  delivery: Delivery | null = null
  /** The store's view of what is left to grant; -1 = unlimited; null until the first report. */
  remainingMicros: number | null = null
  remainingImps: number | null = null
  pacer: PacerState = INITIAL_PACER
  /** Last time a reservation was attempted (demand), epoch ms; idle leases go back to the store. */
  lastDemandAtMs = 0
  /** Participation accumulator: a campaign at rate r takes part in r of its eligible auctions. */
  #credit = 0

  constructor(campaign: Campaign) {
    this.campaign = campaign
    this.isBudgeted = isBudgeted(campaign)
    this.caps = resolveCaps(campaign.frequencyCaps)
  }

  get id(): string {
    return this.campaign.id
  }

  update(campaign: Campaign): void {
    this.campaign = campaign
    this.isBudgeted = isBudgeted(campaign)
    this.caps = resolveCaps(campaign.frequencyCaps)
  }

  get availableMicros(): number {
    return this.leaseMicros - this.reservedMicros
  }

  get availableImps(): number {
    return this.leaseImps - this.reservedImps
  }

  /**
   * The pacing gate: deterministic thinning (no random numbers), so a campaign at rate 0.25 enters
   * exactly one eligible auction in four.
   */
  participates(): boolean {
    const rate = this.pacer.rate
    if (rate >= 1) return true
    this.#credit += rate
    if (this.#credit < 1) return false
    this.#credit -= 1
    return true
  }

  /** Takes one impression at `costMicros` from the local lease; false when it cannot pay. */
  tryReserve(costMicros: number, nowMs: number): boolean {
    this.lastDemandAtMs = nowMs
    if (costMicros > this.unitMicros) this.unitMicros = costMicros
    if (!this.isBudgeted) return true
    if (this.leaseMicros - this.reservedMicros < costMicros || this.leaseImps - this.reservedImps < 1) {
      this.needsRefill = true
      return false
    }
    this.reservedMicros += costMicros
    this.reservedImps += 1
    if (this.mode === 'last_mile' && this.availableMicros < this.unitMicros) this.needsRefill = true
    return true
  }

  /** The reservation lost, expired, or was refused by the store: its money is spendable again. */
  release(costMicros: number, isLeased: boolean): void {
    if (!isLeased) return
    this.reservedMicros -= costMicros
    this.reservedImps -= 1
  }

  /** Billing committed `priceMicros` of a reservation that held `costMicros`: the rest is free again. */
  commit(costMicros: number, priceMicros: number, isLeased: boolean): void {
    if (!isLeased) return
    this.reservedMicros -= costMicros
    this.reservedImps -= 1
    this.leaseMicros -= priceMicros
    this.leaseImps -= 1
  }

  /**
   * Settles a reservation made under an instance id whose leases were given up (the store was out
   * of reach past the lease TTL, so the reaper may return them): its money leaves the lease whatever
   * happens to it, since that lease is no longer this instance's to spend.
   */
  forfeit(costMicros: number, isLeased: boolean): void {
    if (!isLeased) return
    this.reservedMicros -= costMicros
    this.reservedImps -= 1
    this.leaseMicros -= costMicros
    this.leaseImps -= 1
  }

  /** A won impression, for the spend rate that sizes the next lease. */
  recordWin(costMicros: number): void {
    this.wonMicros += costMicros
    this.wonImps += 1
  }

  /** Folds the wins since the last call into the per-second rates (half-life of a few calls). */
  updateRate(nowMs: number): void {
    const elapsedSec = (nowMs - this.lastRateAtMs) / 1000
    this.lastRateAtMs = nowMs
    if (!(elapsedSec > 0)) return
    const weight = Math.min(1, elapsedSec / 3)
    this.microsPerSec += weight * (this.wonMicros / elapsedSec - this.microsPerSec)
    this.impsPerSec += weight * (this.wonImps / elapsedSec - this.impsPerSec)
    this.wonMicros = 0
    this.wonImps = 0
  }
}

export interface ResolvedCap extends FrequencyCap {
  readonly index: number
}

function resolveCaps(caps: readonly FrequencyCap[]): ResolvedCap[] {
  return caps.map((c) => ({ window: c.window, max: c.max, index: windowIndex(c.window) }))
}

/** One impression reserved for one imp of one auction. */
export class Reservation {
  /** The instance id (generation) it was made under, and its number in this process. */
  readonly instance: string
  readonly seq: number
  readonly lease: CampaignLease
  readonly ad: AdRecord
  readonly costMicros: number
  /** Taken from the local lease (a budgeted campaign); false = tracked for caps and stats only. */
  readonly isLeased: boolean
  /** Local frequency key (campaign + user) when the campaign has caps and the request a user. */
  readonly capKey: string | null
  /** Set when the imp is won: after this, billing is refused and the reservation released. */
  expiresAtMs = 0

  constructor(
    instance: string,
    seq: number,
    lease: CampaignLease,
    ad: AdRecord,
    costMicros: number,
    capKey: string | null,
  ) {
    this.instance = instance
    this.seq = seq
    this.lease = lease
    this.ad = ad
    this.costMicros = costMicros
    this.isLeased = lease.isBudgeted
    this.capKey = capKey
  }
}
