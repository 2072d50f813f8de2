import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { Campaign } from './campaign.js'
import { CampaignLease } from './campaign-lease.js'
import { leaseWant } from './lease-sizing.js'
import { LocalFrequency } from './local-frequency.js'

function campaign(over: Partial<Campaign> = {}): Campaign {
  return {
    id: 'c1',
    name: 'c1',
    status: 'active',
    dailyBudgetMicros: 1_000_000,
    lifetimeBudgetMicros: null,
    impressionGoal: null,
    startMs: null,
    endMs: null,
    pacing: 'ASAP',
    frequencyCaps: [],
    ...over,
  }
}

describe('CampaignLease', () => {
  it('reserves from the lease only what it holds, in money and impressions', () => {
    const l = new CampaignLease(campaign())
    assert.equal(l.tryReserve(2_000, 1), false)
    assert.equal(l.needsRefill, true)
    assert.equal(l.unitMicros, 2_000)
    l.leaseMicros = 5_000
    l.leaseImps = 2
    assert.equal(l.tryReserve(2_000, 2), true)
    assert.equal(l.tryReserve(2_000, 3), true)
    assert.equal(l.tryReserve(1, 4), false) // impressions exhausted
    assert.deepEqual([l.availableMicros, l.availableImps], [1_000, 0])
  })

  it('release gives the money back; commit keeps the price and frees the rest; forfeit drops all', () => {
    const l = new CampaignLease(campaign())
    l.leaseMicros = 10_000
    l.leaseImps = 10
    l.tryReserve(3_000, 0)
    l.tryReserve(3_000, 0)
    l.tryReserve(3_000, 0)
    l.release(3_000, true)
    l.commit(3_000, 1_200, true)
    assert.deepEqual([l.leaseMicros, l.reservedMicros, l.availableMicros], [8_800, 3_000, 5_800])
    l.forfeit(3_000, true)
    assert.deepEqual([l.leaseMicros, l.reservedMicros, l.leaseImps, l.reservedImps], [5_800, 0, 8, 0])
  })

  it('an unbudgeted campaign reserves without a lease', () => {
    const l = new CampaignLease(campaign({ dailyBudgetMicros: null }))
    assert.equal(l.isBudgeted, false)
    assert.equal(l.tryReserve(9_999, 0), true)
    assert.equal(l.reservedMicros, 0)
  })

  it('takes part in exactly `rate` of eligible auctions, deterministically', () => {
    const l = new CampaignLease(campaign())
    l.pacer = { rate: 0.25, lastActual: 0, lastAtMs: 0 }
    let yes = 0
    for (let i = 0; i < 1_000; i++) if (l.participates()) yes++
    assert.equal(yes, 250)
  })

  it('in last-mile mode a reservation that empties the lease asks for a refill at once', () => {
    const l = new CampaignLease(campaign())
    l.mode = 'last_mile'
    l.leaseMicros = 2_000
    l.leaseImps = 1
    assert.equal(l.tryReserve(2_000, 0), true)
    assert.equal(l.needsRefill, true)
  })

  it('spend rate follows wins', () => {
    const l = new CampaignLease(campaign())
    l.lastRateAtMs = 0
    for (let t = 1; t <= 10; t++) {
      l.recordWin(5_000)
      l.updateRate(t * 1_000)
    }
    assert.ok(l.microsPerSec > 4_000 && l.microsPerSec <= 5_000, String(l.microsPerSec))
  })
})

describe('lease sizing', () => {
  const s = { refillIntervalMs: 500, minLeaseImpressions: 10 }

  it('asks nothing before any demand, then the minimum lease, then for two intervals of spend', () => {
    const l = new CampaignLease(campaign())
    assert.deepEqual(leaseWant(l, s), { micros: 0, imps: 0 })
    l.tryReserve(1_000, 0)
    assert.deepEqual(leaseWant(l, s), { micros: 10_000, imps: 10 })
    l.leaseMicros = 10_000
    l.leaseImps = 10
    l.needsRefill = false
    assert.deepEqual(leaseWant(l, s), { micros: 0, imps: 0 }) // above half the target
    l.microsPerSec = 100_000
    l.impsPerSec = 100
    assert.deepEqual(leaseWant(l, s), { micros: 90_000, imps: 90 }) // 1 s of spend
  })

  it('last mile: one impression, only when out', () => {
    const l = new CampaignLease(campaign())
    l.mode = 'last_mile'
    l.tryReserve(1_000, 0)
    assert.deepEqual(leaseWant(l, s), { micros: 1_000, imps: 1 })
    l.leaseMicros = 1_000
    l.leaseImps = 1
    assert.deepEqual(leaseWant(l, s), { micros: 0, imps: 0 })
  })
})

describe('LocalFrequency', () => {
  it('counts pending reservations, and billings counted after the counters were read', () => {
    const f = new LocalFrequency(1_000)
    const k = LocalFrequency.key('c1', 'u1')
    f.addPending(k)
    f.addPending(k)
    assert.equal(f.extra(k, 0), 2)
    f.removePending(k)
    f.addRecent(k, 100) // billed at 100: pending → recent
    assert.equal(f.extra(k, 50), 2) // counters read before the billing do not show it
    assert.equal(f.extra(k, 150), 1) // read after it: they do
    f.removePending(k)
    f.sweep(1_200)
    assert.equal(f.size, 0)
    assert.equal(f.extra(LocalFrequency.key('c1', 'u2'), 0), 0)
  })
})
