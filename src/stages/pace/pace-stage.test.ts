import assert from 'node:assert/strict'
import { beforeEach, describe, it } from 'node:test'
import type { AdRecord } from '../../catalog/ad.js'
import type { HouseCreative } from '../../catalog/house-catalog.js'
import { ExchangeMetrics } from '../../metrics/metrics.js'
import type { BidRequest } from '../../openrtb/types.js'
import type { Campaign } from '../../pacing/campaign.js'
import { decodeCounters, noCounts } from '../../pacing/frequency.js'
import { LeaseManager, PACING_DEFAULTS } from '../../pacing/lease-manager.js'
import { AuctionContext, type RequestSignals } from '../../pipeline/auction-context.js'
import { Deadline } from '../../pipeline/deadline.js'
import { createMemoryPacingData, createMemoryPacingStore } from '../../store/memory-pacing-store.js'
import { createPaceStage, settleReservations } from './pace-stage.js'

const NOW = Date.UTC(2026, 4, 1, 12)

function campaign(id: string, over: Partial<Campaign> = {}): Campaign {
  return {
    id,
    name: id,
    status: 'active',
    dailyBudgetMicros: null,
    lifetimeBudgetMicros: 1_000_000,
    impressionGoal: null,
    startMs: null,
    endMs: null,
    pacing: 'ASAP',
    frequencyCaps: [],
    ...over,
  }
}

function creative(id: string, campaignId: string | null, cpmMicros = 2_000_000): HouseCreative {
  const ad = { id, campaignId, cpmMicros } as AdRecord
  return { ad, w: 300, h: 250, priceCpm: cpmMicros / 1e6, adm: '' }
}

function context(houseAds: HouseCreative[][], frequency: RequestSignals['frequency'], userId = 'u1') {
  const request = { id: 'r', imp: houseAds.map((_, i) => ({ id: String(i + 1) })), user: { id: userId } }
  const ctx = new AuctionContext(request as unknown as BidRequest, new Deadline(0, 100), 0)
  ctx.houseAds = houseAds
  ctx.signals = { frequency } as RequestSignals
  return ctx
}

describe('pace stage', () => {
  let leases: LeaseManager
  let metrics: ExchangeMetrics
  let storeCalls = 0

  beforeEach(async () => {
    const data = createMemoryPacingData()
    const memory = createMemoryPacingStore({ data })
    // Counts every store call, to show the request path makes none.
    const store = new Proxy(memory, {
      get(target, key, receiver) {
        const value = Reflect.get(target, key, receiver)
        if (typeof value !== 'function') return value
        return (...args: unknown[]) => {
          storeCalls++
          return value.apply(target, args)
        }
      },
    })
    await store.putCampaign(campaign('budget'))
    await store.putCampaign(campaign('paused', { status: 'paused' }))
    await store.putCampaign(
      campaign('capped', { lifetimeBudgetMicros: null, frequencyCaps: [{ window: 'day', max: 1 }] }),
    )
    await store.putCampaign(campaign('free', { lifetimeBudgetMicros: null }))
    metrics = new ExchangeMetrics([], { defaultMetrics: false })
    leases = new LeaseManager({
      store,
      settings: PACING_DEFAULTS,
      metrics: metrics.pacing,
      log: { warn() {}, info() {} },
      now: () => NOW,
    })
    await leases.tick()
  })

  function skipped(): Record<string, number> {
    return { ...leases.counters.skipped }
  }

  it('drops creatives of unknown and paused campaigns for the next one; unpaced ads pass untouched', () => {
    const ctx = context([[creative('a', 'nope'), creative('b', 'paused'), creative('c', null)]], null)
    createPaceStage({ leases }).run(ctx)
    assert.deepEqual(
      ctx.houseAds[0]!.map((c) => c.ad.id),
      ['c'],
    )
    assert.equal(ctx.reservations, null)
    assert.equal(skipped()['unknown_campaign'], 1)
    assert.equal(skipped()['inactive'], 1)
  })

  it('a budgeted campaign without a lease yet is skipped (no store call) and a refill is asked', async () => {
    const ctx = context([[creative('a', 'budget')]], null)
    createPaceStage({ leases }).run(ctx)
    assert.deepEqual(ctx.houseAds[0], [])
    assert.equal(skipped()['no_budget'], 1)
    await leases.tick()
    const again = context([[creative('a', 'budget')]], null)
    createPaceStage({ leases }).run(again)
    assert.equal(again.houseAds[0]![0]!.ad.id, 'a')
    assert.equal(again.reservations![0]!.costMicros, 2_000)
    assert.equal(leases.campaign('budget')!.reservedMicros, 2_000)
  })

  it('capped ads serve only when the counters were read, and not past the cap (pending ones count)', () => {
    const stage = createPaceStage({ leases })
    const unread = context([[creative('a', 'capped'), creative('b', 'free')]], null)
    stage.run(unread)
    assert.equal(unread.houseAds[0]![0]!.ad.id, 'b')
    assert.equal(skipped()['fcap_unavailable'], 1)
    const atCap = context(
      [[creative('a', 'capped')]],
      decodeCounters([['d/capped', `1:${NOW + 1_000}`]], NOW),
    )
    stage.run(atCap)
    assert.deepEqual(atCap.houseAds[0], [])
    assert.equal(skipped()['fcap'], 1)
    // Two imps of one request: the first reserves the only impression the cap allows.
    const twoImps = context(
      [[creative('a', 'capped')], [creative('a2', 'capped'), creative('b', 'free')]],
      noCounts(NOW),
    )
    stage.run(twoImps)
    assert.deepEqual(
      twoImps.houseAds.map((l) => l[0]!.ad.id),
      ['a', 'b'],
    )
  })

  it('paced campaigns take part at their rate', () => {
    leases.campaign('free')!.pacer = { rate: 0.5, lastActual: 0, lastAtMs: 0 }
    const stage = createPaceStage({ leases })
    let kept = 0
    for (let i = 0; i < 10; i++) {
      const ctx = context([[creative('a', 'free')]], null)
      stage.run(ctx)
      kept += ctx.houseAds[0]!.length
    }
    assert.equal(kept, 5)
    assert.equal(skipped()['paced'], 5)
  })

  it('is synchronous and never calls the store (leases in hand)', async () => {
    createPaceStage({ leases }).run(context([[creative('x', 'budget')]], null)) // demand → lease
    await leases.tick()
    await new Promise((resolve) => setImmediate(resolve))
    storeCalls = 0
    const stage = createPaceStage({ leases })
    for (let i = 0; i < 100; i++) {
      const ctx = context([[creative('a', 'budget')], [creative('c', 'capped')]], noCounts(NOW))
      assert.equal(stage.run(ctx), undefined)
      settleReservations(ctx, leases, false)
    }
    await new Promise((resolve) => setImmediate(resolve))
    assert.equal(storeCalls, 0)
  })

  it('after the auction: the winner waits for billing, the loser is released', async () => {
    await leases.tick()
    createPaceStage({ leases }).run(context([[creative('x', 'budget')]], null)) // demand → lease
    await leases.tick()
    const ctx = context([[creative('a', 'budget')], [creative('b', 'budget')]], null)
    createPaceStage({ leases }).run(ctx)
    const held = leases.campaign('budget')!.reservedMicros
    assert.equal(held, 4_000)
    const won = {
      impIndex: 0,
      price: 2,
      bid: {},
      seat: 'house',
      dspIndex: -1,
      responseBidId: null,
      ad: ctx.houseAds[0]![0]!.ad,
    }
    ctx.winners = [{ candidate: won as never, price: 2 }, null]
    settleReservations(ctx, leases, true)
    assert.equal(leases.campaign('budget')!.reservedMicros, 2_000)
    assert.equal(leases.pendingReservations, 1)
    assert.equal(ctx.reservations![1], null)
    assert.ok(ctx.reservations![0]!.expiresAtMs > NOW)
  })

  it('an auction that ends without an answer releases everything', async () => {
    createPaceStage({ leases }).run(context([[creative('x', 'budget')]], null))
    await leases.tick()
    const ctx = context([[creative('a', 'budget')]], null)
    createPaceStage({ leases }).run(ctx)
    settleReservations(ctx, leases, false)
    assert.equal(leases.campaign('budget')!.reservedMicros, 0)
    assert.equal(leases.pendingReservations, 0)
  })
})
