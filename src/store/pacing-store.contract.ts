import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { Campaign } from '../pacing/campaign.js'
import type { CommitRequest, LeaseRequest, PacingStore } from './pacing-store.js'

/**
 * The semantics every PacingStore must have, run against the embedded store and a real
 * redis-server. `open` returns stores that share one data set (several "instances"), freshly empty.
 */
export function pacingStoreContract(
  name: string,
  open: (count: number) => Promise<PacingStore[]>,
  skip = false,
) {
  const T0 = Date.UTC(2026, 4, 1, 12) // noon UTC: a day boundary is 12 h away either side
  const DAY = 86_400_000

  function campaign(id: string, over: Partial<Campaign> = {}): Campaign {
    return {
      id,
      name: id,
      status: 'active',
      dailyBudgetMicros: null,
      lifetimeBudgetMicros: null,
      impressionGoal: null,
      startMs: null,
      endMs: null,
      pacing: 'ASAP',
      frequencyCaps: [],
      ...over,
    }
  }

  function leaseReq(campaignId: string, over: Partial<LeaseRequest> = {}): LeaseRequest {
    return {
      instance: 'i1',
      campaignId,
      nowMs: T0,
      wantMicros: 0,
      wantImps: 0,
      unitMicros: 1_000,
      heldMicros: 0,
      heldImps: 0,
      liveInstances: 1,
      leaseFractionPpm: 1_000_000,
      lastMileUnits: 0,
      maxInbox: 100,
      ...over,
    }
  }

  function commitReq(campaignId: string, over: Partial<CommitRequest> = {}): CommitRequest {
    return {
      campaignId,
      owner: 'i1',
      seq: 1,
      handler: 'i1',
      priceMicros: 1_000,
      isLeased: true,
      expiresAtMs: T0 + 60_000,
      nowMs: T0,
      graceMs: 1_000,
      markerUntilMs: T0 + 3_600_000,
      ...over,
    }
  }

  describe(`PacingStore contract: ${name}`, { skip }, () => {
    it('stores campaigns, bumps the version, loads them all', async () => {
      const [s] = await open(1)
      const v0 = await s!.campaignVersion()
      const c = campaign('c1', { dailyBudgetMicros: 5_000_000, frequencyCaps: [{ window: 'day', max: 3 }] })
      await s!.putCampaign(c)
      await s!.putCampaign(campaign('c2'))
      assert.ok((await s!.campaignVersion()) > v0)
      assert.deepEqual(await s!.getCampaign('c1'), c)
      assert.equal(await s!.getCampaign('nope'), null)
      const all = await s!.loadCampaigns()
      assert.deepEqual(all.map((x) => x.id).sort(), ['c1', 'c2'])
    })

    it('grants at most what the budget leaves, then reports exhaustion', async () => {
      const [s] = await open(1)
      await s!.putCampaign(campaign('c1', { lifetimeBudgetMicros: 10_000, impressionGoal: 100 }))
      const a = await s!.lease(leaseReq('c1', { wantMicros: 6_000, wantImps: 6 }))
      assert.deepEqual([a.grantMicros, a.grantImps, a.isExhausted], [6_000, 6, false])
      assert.equal(a.ledger.leasedMicros, 6_000)
      assert.equal(a.ledger.remainingMicros, 4_000)
      const b = await s!.lease(leaseReq('c1', { instance: 'i2', wantMicros: 6_000, wantImps: 6 }))
      assert.equal(b.grantMicros, 4_000)
      const c = await s!.lease(leaseReq('c1', { wantMicros: 1_000, wantImps: 1 }))
      assert.deepEqual([c.grantMicros, c.grantImps, c.isExhausted], [0, 0, true])
    })

    it('caps one grant at the lease fraction of what remains, never below one impression', async () => {
      const [s] = await open(1)
      await s!.putCampaign(campaign('c1', { lifetimeBudgetMicros: 100_000 }))
      const a = await s!.lease(
        leaseReq('c1', { wantMicros: 50_000, wantImps: 10, leaseFractionPpm: 100_000 }),
      )
      assert.equal(a.grantMicros, 10_000) // 10% of 100k
      assert.equal(a.grantImps, 10) // impressions unlimited: granted as asked
      assert.equal(a.ledger.remainingImps, -1)
      const tiny = await s!.lease(leaseReq('c1', { wantMicros: 50_000, leaseFractionPpm: 1 }))
      assert.equal(tiny.grantMicros, 1_000) // one unit
    })

    it('switches to last-mile grants of one impression near exhaustion', async () => {
      const [s] = await open(1)
      await s!.putCampaign(campaign('c1', { impressionGoal: 5, lifetimeBudgetMicros: 1_000_000 }))
      const r = await s!.lease(
        leaseReq('c1', { wantMicros: 5_000, wantImps: 5, liveInstances: 3, lastMileUnits: 2 }),
      )
      assert.deepEqual([r.isLastMile, r.grantImps, r.grantMicros], [true, 1, 1_000])
    })

    it('keeps the daily budget per UTC day; leases carry over midnight', async () => {
      const [s] = await open(1)
      await s!.putCampaign(campaign('c1', { dailyBudgetMicros: 5_000 }))
      await s!.lease(leaseReq('c1', { wantMicros: 5_000, wantImps: 5 }))
      assert.equal(
        await s!.commit(commitReq('c1', { seq: 1, priceMicros: 3_000, expiresAtMs: T0 + DAY })),
        'counted',
      )
      const sameDay = await s!.lease(leaseReq('c1', { wantMicros: 1_000, wantImps: 1 }))
      assert.equal(sameDay.grantMicros, 0)
      assert.equal(sameDay.ledger.daySpentMicros, 3_000)
      // Next day: 2k still leased counts against the new day's 5k.
      const next = await s!.lease(leaseReq('c1', { nowMs: T0 + DAY, wantMicros: 5_000, wantImps: 5 }))
      assert.equal(next.ledger.daySpentMicros, 0)
      assert.equal(next.grantMicros, 3_000)
      assert.equal(next.ledger.spentMicros, 3_000)
    })

    it('commits a billing once; duplicates and late ones are not counted', async () => {
      const [s] = await open(1)
      await s!.putCampaign(campaign('c1', { lifetimeBudgetMicros: 100_000 }))
      await s!.lease(leaseReq('c1', { wantMicros: 10_000, wantImps: 10 }))
      assert.equal(await s!.commit(commitReq('c1', { seq: 7, priceMicros: 2_000 })), 'counted')
      assert.equal(await s!.confirmCommit('c1', 'i1', 7), true)
      assert.equal(await s!.commit(commitReq('c1', { seq: 7, priceMicros: 2_000 })), 'duplicate')
      assert.equal(await s!.commit(commitReq('c1', { seq: 8, nowMs: T0 + 62_000 })), 'expired')
      const l = await s!.ledger('c1', T0)
      assert.deepEqual(
        [l.spentMicros, l.imps, l.leasedMicros, l.leasedImps, l.leases['i1']],
        [2_000, 1, 8_000, 9, { micros: 8_000, imps: 9 }],
      )
    })

    it('issue: a retry of a billing that counted without an answer is recognised, followed up once', async () => {
      const [a, b] = await open(2)
      await a!.putCampaign(campaign('c1', { lifetimeBudgetMicros: 100_000 }))
      await a!.lease(leaseReq('c1', { wantMicros: 10_000, wantImps: 10 }))
      // The first attempt (on i2) counted, but its answer never arrived: nobody confirmed it.
      const first = commitReq('c1', { seq: 4, handler: 'i2', priceMicros: 1_200 })
      assert.equal(await b!.commit(first), 'counted')
      // Its retries, on any instance and even at the edge of the grace, find it counted and unconfirmed.
      assert.equal(await a!.commit(commitReq('c1', { seq: 4, priceMicros: 1_200 })), 'unconfirmed')
      assert.equal(await b!.commit({ ...first, nowMs: T0 + 60_900 }), 'unconfirmed')
      // Exactly one handler gets the follow-up.
      const claims = await Promise.all([a!.confirmCommit('c1', 'i1', 4), b!.confirmCommit('c1', 'i1', 4)])
      assert.deepEqual(claims.sort(), [false, true])
      assert.equal(await a!.confirmCommit('c1', 'i1', 4), false)
      assert.equal(await b!.commit(first), 'duplicate')
      // The money moved once, and the owner heard of it once.
      const l = await a!.ledger('c1', T0)
      assert.deepEqual([l.spentMicros, l.imps, l.leasedMicros, l.leasedImps], [1_200, 1, 8_800, 9])
      assert.deepEqual((await a!.lease(leaseReq('c1'))).inbox, [{ seq: 4, priceMicros: 1_200 }])
      const res = await a!.resolveExpired({
        instance: 'i1',
        campaignId: 'c1',
        seqs: [4],
        nowMs: T0,
        markerTtlMs: 60_000,
      })
      assert.deepEqual(res, [{ seq: 4, committedMicros: 1_200 }])
    })

    it('issue: the last impression of a goal goes to the instance holding the rest of it', async () => {
      const [s] = await open(1)
      await s!.putCampaign(campaign('c1', { impressionGoal: 2, lifetimeBudgetMicros: 100_000 }))
      const a = await s!.lease(leaseReq('c1', { wantMicros: 1_000, wantImps: 2 }))
      assert.deepEqual([a.grantMicros, a.grantImps], [1_000, 2])
      assert.equal(await s!.commit(commitReq('c1', { seq: 1, priceMicros: 1_000 })), 'counted')
      // i1 holds the goal's last impression but no money for it; the goal has nothing left to grant.
      const more = await s!.lease(leaseReq('c1', { wantMicros: 1_000, heldMicros: 0, heldImps: 1 }))
      assert.deepEqual([more.grantMicros, more.grantImps, more.isExhausted], [1_000, 0, false])
      assert.equal(more.ledger.remainingImps, 0)
      // Another instance holds none of it: exhausted, nothing granted.
      const other = await s!.lease(leaseReq('c1', { instance: 'i2', wantMicros: 1_000, wantImps: 1 }))
      assert.deepEqual([other.grantMicros, other.grantImps, other.isExhausted], [0, 0, true])
      // What the instance says it holds counts only up to the lease on record (here 1 impression).
      const liar = await s!.lease(leaseReq('c1', { instance: 'i2', wantMicros: 1_000, heldImps: 5 }))
      assert.deepEqual([liar.grantMicros, liar.isExhausted], [0, true])
    })

    it('issue: the last impression of a budget: a remainder under one impression completes a held one', async () => {
      const [s] = await open(1)
      await s!.putCampaign(campaign('c1', { lifetimeBudgetMicros: 3_500 }))
      const unit = { unitMicros: 2_000 }
      await s!.lease(leaseReq('c1', { ...unit, wantMicros: 2_000, wantImps: 2 }))
      // Billed under its maximum cost: 500 stays in i1's lease, 1,500 remain to grant.
      assert.equal(await s!.commit(commitReq('c1', { seq: 1, priceMicros: 1_500 })), 'counted')
      // 1,500 buys nothing for an instance holding nothing: exhausted, not granted.
      const other = await s!.lease(
        leaseReq('c1', { ...unit, instance: 'i2', wantMicros: 2_000, wantImps: 1 }),
      )
      assert.deepEqual([other.grantMicros, other.grantImps, other.isExhausted], [0, 0, true])
      // With the 500 i1 holds unreserved it makes one more impression.
      const r = await s!.lease(leaseReq('c1', { ...unit, wantMicros: 1_500, heldMicros: 500, heldImps: 1 }))
      assert.deepEqual([r.grantMicros, r.isExhausted], [1_500, false])
      const l = await s!.ledger('c1', T0)
      assert.deepEqual([l.spentMicros, l.leasedMicros, l.remainingMicros], [1_500, 2_000, 0])
      // Held but reserved (held 0) does not count: nothing left to make an impression with.
      const reserved = await s!.lease(leaseReq('c1', { ...unit, wantMicros: 2_000, heldMicros: 0 }))
      assert.deepEqual([reserved.grantMicros, reserved.isExhausted], [0, true])
    })

    it("hands another instance's commit to the owner's inbox", async () => {
      const [a, b] = await open(2)
      await a!.putCampaign(campaign('c1', { lifetimeBudgetMicros: 100_000 }))
      await a!.lease(leaseReq('c1', { wantMicros: 10_000, wantImps: 10 }))
      assert.equal(await b!.commit(commitReq('c1', { seq: 3, handler: 'i2', priceMicros: 1_500 })), 'counted')
      assert.equal(await b!.confirmCommit('c1', 'i1', 3), true)
      assert.equal(
        await b!.commit(commitReq('c1', { seq: 3, handler: 'i2', priceMicros: 1_500 })),
        'duplicate',
      )
      const r = await a!.lease(leaseReq('c1'))
      assert.deepEqual(r.inbox, [{ seq: 3, priceMicros: 1_500 }])
      assert.deepEqual((await a!.lease(leaseReq('c1'))).inbox, [])
    })

    it('settles an expiry and a billing of one reservation exactly one way', async () => {
      const [s] = await open(1)
      await s!.putCampaign(campaign('c1', { lifetimeBudgetMicros: 100_000 }))
      await s!.lease(leaseReq('c1', { wantMicros: 10_000, wantImps: 10 }))
      assert.equal(await s!.commit(commitReq('c1', { seq: 1, priceMicros: 900 })), 'counted')
      const res = await s!.resolveExpired({
        instance: 'i1',
        campaignId: 'c1',
        seqs: [1, 2],
        nowMs: T0,
        markerTtlMs: 60_000,
      })
      assert.deepEqual(res, [
        { seq: 1, committedMicros: 900 },
        { seq: 2, committedMicros: null },
      ])
      // The billing of the expired one comes too late.
      assert.equal(await s!.commit(commitReq('c1', { seq: 2 })), 'expired')
      assert.equal((await s!.ledger('c1', T0)).imps, 1)
    })

    it('returns unspent lease, never more than is held', async () => {
      const [s] = await open(1)
      await s!.putCampaign(campaign('c1', { lifetimeBudgetMicros: 100_000 }))
      await s!.lease(leaseReq('c1', { wantMicros: 10_000, wantImps: 10 }))
      assert.deepEqual(await s!.returnLease('i1', 'c1', 4_000, 4, T0), { micros: 4_000, imps: 4 })
      assert.deepEqual(await s!.returnLease('i1', 'c1', 99_000, 99, T0), { micros: 6_000, imps: 6 })
      const l = await s!.ledger('c1', T0)
      assert.deepEqual([l.leasedMicros, l.leasedImps, l.remainingMicros], [0, 0, 100_000])
      assert.deepEqual(await s!.returnLease('i9', 'c1', 1, 1, T0), { micros: 0, imps: 0 })
    })

    it('counts live instances and reaps the leases of silent ones, one reaper at a time', async () => {
      const [a, b] = await open(2)
      await a!.putCampaign(campaign('c1', { lifetimeBudgetMicros: 100_000 }))
      assert.deepEqual(await a!.heartbeat('i1', T0, 5_000), { liveInstances: 1, wasUnknown: true })
      assert.deepEqual(await b!.heartbeat('i2', T0 + 1_000, 5_000), { liveInstances: 2, wasUnknown: true })
      assert.equal((await a!.heartbeat('i1', T0 + 2_000, 5_000)).wasUnknown, false)
      await b!.lease(leaseReq('c1', { instance: 'i2', wantMicros: 7_000, wantImps: 7 }))
      await a!.commit(commitReq('c1', { owner: 'i2', seq: 1, handler: 'i1', priceMicros: 1_000 }))
      // i2 falls silent; i1 keeps beating.
      await a!.heartbeat('i1', T0 + 60_000, 5_000)
      assert.equal((await b!.reap('i3', T0 + 10_000, 30_000, 5_000)).instances, 0) // not dead yet
      const reaped = await b!.reap('i3', T0 + 60_000, 30_000, 5_000)
      assert.deepEqual(reaped, { instances: 1, micros: 6_000, imps: 6 })
      const l = await a!.ledger('c1', T0 + 60_000)
      assert.deepEqual([l.leasedMicros, l.spentMicros, l.leases['i2']], [0, 1_000, undefined])
      // One reaper at a time: i3 holds the lock, so i1 finds nothing to do.
      await a!.heartbeat('i4', T0, 5_000)
      assert.equal((await a!.reap('i1', T0 + 60_002, 30_000, 5_000)).instances, 0)
      assert.equal((await b!.reap('i3', T0 + 60_003, 30_000, 5_000)).instances, 1)
      // The reaped instance comes back: it is unknown now.
      assert.equal((await b!.heartbeat('i2', T0 + 61_000, 5_000)).wasUnknown, true)
    })

    it('de-duplicates notices by key; a retry before confirmation is recognised, confirmed once', async () => {
      const [a, b] = await open(2)
      assert.equal(await a!.markNotice('win:k1', 60_000), 'counted')
      assert.equal(await b!.markNotice('win:k1', 60_000), 'unconfirmed')
      assert.equal(await b!.markNotice('loss:k1', 60_000), 'counted')
      const claims = await Promise.all([a!.confirmNotice('win:k1'), b!.confirmNotice('win:k1')])
      assert.deepEqual(claims.sort(), [false, true])
      assert.equal(await a!.markNotice('win:k1', 60_000), 'duplicate')
      assert.equal(await a!.confirmNotice('win:k1'), false)
      assert.equal(await a!.confirmNotice('never-seen'), false)
    })

    it('counts frequency per window from the first impression, most windows at once', async () => {
      const [s] = await open(1)
      const windows = [
        { letter: 'm', ms: 60_000 },
        { letter: 'd', ms: DAY },
      ]
      await s!.incrementFrequency('u1', 'c1', windows, T0)
      await s!.incrementFrequency('u1', 'c1', windows, T0 + 1_000)
      await s!.incrementFrequency('u1', 'c2', [{ letter: 'd', ms: DAY }], T0)
      let counts = await s!.readFrequency('u1', T0 + 2_000)
      assert.deepEqual(counts.get('c1'), [2, 0, 2, 0, 0])
      assert.deepEqual(counts.get('c2'), [0, 0, 1, 0, 0])
      // A minute later the minute window restarts; the day one goes on.
      await s!.incrementFrequency('u1', 'c1', windows, T0 + 61_000)
      counts = await s!.readFrequency('u1', T0 + 61_000)
      assert.deepEqual(counts.get('c1'), [1, 0, 3, 0, 0])
      assert.equal((await s!.readFrequency('nobody', T0)).size, 0)
    })
  })
}
