import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { AdRecord } from '../catalog/ad.js'
import type { Campaign } from './campaign.js'
import { CampaignLease, Reservation } from './campaign-lease.js'
import { ReservationTable } from './reservation-table.js'

const LEASE = new CampaignLease({
  id: 'c1',
  name: 'c1',
  status: 'active',
  dailyBudgetMicros: 1,
  lifetimeBudgetMicros: null,
  impressionGoal: null,
  startMs: null,
  endMs: null,
  pacing: 'ASAP',
  frequencyCaps: [],
} satisfies Campaign)

function reservation(seq: number, expiresAtMs: number): Reservation {
  const r = new Reservation('i1', seq, LEASE, {} as AdRecord, 1_000, null)
  r.expiresAtMs = expiresAtMs
  return r
}

describe('ReservationTable', () => {
  it('finds expired reservations in insertion order, once each, skipping settled ones', () => {
    const t = new ReservationTable()
    for (let i = 1; i <= 5; i++) t.add(reservation(i, i * 100))
    assert.equal(t.take(2)?.seq, 2)
    assert.equal(t.take(2), undefined)
    assert.deepEqual(
      t.expiredBefore(350).map((r) => r.seq),
      [1, 3],
    )
    assert.deepEqual(t.expiredBefore(350), [])
    assert.equal(t.size, 4) // answered, not removed: the caller settles them
    assert.deepEqual(
      t.expiredBefore(10_000).map((r) => r.seq),
      [4, 5],
    )
  })

  it('keeps its queue compact under churn', () => {
    const t = new ReservationTable()
    for (let i = 1; i <= 5_000; i++) {
      t.add(reservation(i, i))
      t.take(i)
    }
    assert.deepEqual(t.expiredBefore(10_000), [])
    assert.equal(t.size, 0)
  })
})
