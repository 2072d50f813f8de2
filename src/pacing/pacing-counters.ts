import {
  CAMPAIGN_STATES,
  type CampaignState,
  LEASE_RESULTS,
  PACING_SKIP_REASONS,
  PACING_STORE_OPS,
  type PacingMetrics,
  RESERVATION_OUTCOMES,
} from '../metrics/metrics.js'
import { isLive } from './campaign.js'
import type { CampaignLease } from './campaign-lease.js'

/**
 * Plain integer counts bumped on the request path and in notice handlers, handed to prom-client
 * once per refill tick: a field increment costs a fraction of a labelled counter's inc().
 */
export class PacingCounters {
  readonly reservations = zeros(RESERVATION_OUTCOMES)
  readonly skipped = zeros(PACING_SKIP_REASONS)
  readonly leaseRequests = zeros(LEASE_RESULTS)
  readonly storeErrors = zeros(PACING_STORE_OPS)
  grantedMicros = 0
  returnedMicros = 0
  reapedMicros = 0
  committedMicros = 0

  flush(m: PacingMetrics, leases: Iterable<CampaignLease>, nowMs: number): void {
    drain(this.reservations, m.reservations)
    drain(this.skipped, m.skipped)
    drain(this.leaseRequests, m.leaseRequests)
    drain(this.storeErrors, m.storeErrors)
    if (this.grantedMicros > 0) m.leaseGrantedMicros.inc(this.grantedMicros)
    if (this.returnedMicros > 0) m.leaseReturnedMicros.inc(this.returnedMicros)
    if (this.reapedMicros > 0) m.leaseReapedMicros.inc(this.reapedMicros)
    if (this.committedMicros > 0) m.committedMicros.inc(this.committedMicros)
    this.grantedMicros = this.returnedMicros = this.reapedMicros = this.committedMicros = 0
    const states = zeros(CAMPAIGN_STATES)
    let held = 0
    let reserved = 0
    for (const lease of leases) {
      held += lease.leaseMicros
      reserved += lease.reservedMicros
      if (lease.isBudgeted) states[campaignState(lease, nowMs)]++
    }
    for (const s of CAMPAIGN_STATES) m.campaigns[s].set(states[s])
    m.leaseHeldMicros.set(held)
    m.reservedMicros.set(reserved)
  }
}

export function campaignState(lease: CampaignLease, nowMs: number): CampaignState {
  if (!isLive(lease.campaign, nowMs)) return 'inactive'
  if (lease.mode === 'exhausted') return 'exhausted'
  if (lease.mode === 'last_mile') return 'last_mile'
  return lease.pacer.rate < 1 ? 'paced' : 'serving'
}

function zeros<K extends string>(keys: readonly K[]): Record<K, number> {
  const out = {} as Record<K, number>
  for (const k of keys) out[k] = 0
  return out
}

function drain<K extends string>(
  counts: Record<K, number>,
  into: Readonly<Record<K, { inc(n?: number): void }>>,
) {
  for (const k in counts) {
    const n = counts[k]
    if (n > 0) {
      into[k].inc(n)
      counts[k] = 0
    }
  }
}
