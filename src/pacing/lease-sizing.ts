import type { CampaignLease } from './campaign-lease.js'

export interface LeaseWant {
  readonly micros: number
  readonly imps: number
}

export const NO_WANT: LeaseWant = Object.freeze({ micros: 0, imps: 0 })

export interface SizingSettings {
  readonly refillIntervalMs: number
  /** The smallest lease worth holding, in impressions of the campaign's dearest ad. */
  readonly minLeaseImpressions: number
}

/** A lease should last this many refill intervals at the recent spend rate. */
const PREFETCH_INTERVALS = 2

/**
 * How much to ask the store for: enough to last PREFETCH_INTERVALS refill intervals at the recent
 * spend rate (at least `minLeaseImpressions`), topped up when the lease in hand falls under half of
 * that or the request path ran short. In last-mile mode, one impression and only when out. Nothing
 * before the first demand: a campaign no auction wanted holds no budget here.
 */
export function leaseWant(lease: CampaignLease, s: SizingSettings): LeaseWant {
  const unit = lease.unitMicros
  if (unit === 0 || !lease.isBudgeted) return NO_WANT
  const availM = lease.availableMicros
  const availI = lease.availableImps
  if (lease.mode === 'last_mile') {
    return {
      micros: availM < unit ? unit - Math.max(0, availM) : 0,
      imps: availI < 1 ? 1 - Math.max(0, availI) : 0,
    }
  }
  const horizonSec = (s.refillIntervalMs * PREFETCH_INTERVALS) / 1000
  const targetM = Math.max(s.minLeaseImpressions * unit, Math.ceil(lease.microsPerSec * horizonSec))
  const targetI = Math.max(s.minLeaseImpressions, Math.ceil(lease.impsPerSec * horizonSec))
  const isShort = lease.needsRefill
  const micros = isShort || availM < targetM / 2 ? Math.max(0, targetM - availM) : 0
  const imps = isShort || availI < targetI / 2 ? Math.max(0, targetI - availI) : 0
  return micros === 0 && imps === 0 ? NO_WANT : { micros, imps }
}
