import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { AdRecord } from '../catalog/ad.js'
import { ExchangeMetrics } from '../metrics/metrics.js'
import {
  createMemoryPacingData,
  createMemoryPacingStore,
  type MemoryPacingData,
} from '../store/memory-pacing-store.js'
import type { PacingStore } from '../store/pacing-store.js'
import type { Campaign } from './campaign.js'
import type { Reservation } from './campaign-lease.js'
import { LeaseManager, PACING_DEFAULTS, type PacingSettings } from './lease-manager.js'
import type { NoticeClaims } from './notice-token.js'

const T0 = Date.UTC(2026, 4, 1, 12)
const SETTINGS: PacingSettings = {
  ...PACING_DEFAULTS,
  reservationTtlMs: 10_000,
  commitGraceMs: 1_000,
  leaseTtlMs: 5_000,
  reapMarginMs: 1_000,
  reapIntervalMs: 1_000,
  minLeaseImpressions: 5,
}
const AD = { id: 'ad-1', cpmMicros: 2_000_000 } as AdRecord // 2,000 micros per impression
const QUIET = { warn() {}, info() {} }

function campaign(over: Partial<Campaign> = {}): Campaign {
  return {
    id: 'c1',
    name: 'c1',
    status: 'active',
    dailyBudgetMicros: null,
    lifetimeBudgetMicros: 100_000,
    impressionGoal: null,
    startMs: null,
    endMs: null,
    pacing: 'ASAP',
    frequencyCaps: [],
    ...over,
  }
}

/** A memory store that can be taken down and brought back. */
function switchable(store: PacingStore): PacingStore & { down: boolean } {
  const state = { down: false }
  return new Proxy(store, {
    get(target, key, receiver) {
      if (key === 'down') return state.down
      if (key === 'isAvailable') return () => !state.down
      const value = Reflect.get(target, key, receiver)
      if (typeof value !== 'function' || key === 'close' || key === 'connect') return value
      return (...args: unknown[]) =>
        state.down ? Promise.reject(new Error('down')) : value.apply(target, args)
    },
    set(_target, key, value) {
      if (key === 'down') state.down = value as boolean
      return true
    },
  }) as PacingStore & { down: boolean }
}

interface Clock {
  t: number
}

function manager(
  data: MemoryPacingData,
  clock: Clock,
  name: string,
  settings = SETTINGS,
  wrap: (s: PacingStore) => PacingStore = (s) => s,
) {
  const store = switchable(wrap(createMemoryPacingStore({ data })))
  const leases = new LeaseManager({
    store,
    settings,
    metrics: new ExchangeMetrics([], { defaultMetrics: false }).pacing,
    log: QUIET,
    instanceName: name,
    now: () => clock.t,
  })
  return { leases, store }
}

/** Reserves one impression of AD for `c1`, taking a lease first if needed. */
async function reserve(leases: LeaseManager): Promise<Reservation | null> {
  const lease = leases.campaign('c1')!
  if (!lease.tryReserve(2_000, leases.now())) {
    await leases.tick()
    if (!lease.tryReserve(2_000, leases.now())) return null
  }
  return leases.newReservation(lease, AD, 2_000, null)
}

function billing(r: Reservation, priceCpmMicros = 1_500_000): NoticeClaims {
  return {
    type: 'billing',
    auctionId: 'a',
    impId: '1',
    source: AD.id,
    isHouse: true,
    priceCpmMicros,
    expiresAtMs: r.expiresAtMs,
    key: `${r.instance}.${r.seq}`,
    campaignId: r.lease.id,
    isLeased: r.isLeased,
    userId: '',
    forwardUrl: '',
  }
}

async function setup(over: Partial<Campaign> = {}) {
  const data = createMemoryPacingData()
  await createMemoryPacingStore({ data }).putCampaign(campaign(over))
  const clock = { t: T0 }
  return { data, clock }
}

describe('LeaseManager', () => {
  it('takes a lease on first demand, reserves from it, commits its own billing once', async () => {
    const { data, clock } = await setup()
    const { leases } = manager(data, clock, 'a')
    await leases.start()
    await leases.stop() // no timers in this test: ticks by hand
    const r = (await reserve(leases))!
    assert.ok(r !== null)
    const lease = leases.campaign('c1')!
    assert.equal(lease.leaseMicros, 10_000) // 5 impressions of 2,000
    leases.markWon(r, clock.t)
    assert.equal(await leases.commitBilling(billing(r)), 'counted')
    assert.equal(await leases.commitBilling(billing(r)), 'duplicate')
    assert.deepEqual([lease.leaseMicros, lease.reservedMicros, leases.pendingReservations], [8_500, 0, 0])
    assert.equal(data.ledgers.get('c1')!.spent, 1_500)
  })

  it("learns another instance's commit of its reservation from its inbox", async () => {
    const { data, clock } = await setup()
    const a = manager(data, clock, 'a').leases
    const b = manager(data, clock, 'b').leases
    await a.tick()
    await b.tick()
    const r = (await reserve(a))!
    a.markWon(r, clock.t)
    assert.equal(await b.commitBilling(billing(r, 2_000_000)), 'counted')
    assert.equal(a.pendingReservations, 1)
    clock.t += SETTINGS.paceIntervalMs
    await a.tick()
    assert.equal(a.pendingReservations, 0)
    assert.deepEqual([a.campaign('c1')!.leaseMicros, a.campaign('c1')!.reservedMicros], [8_000, 0])
  })

  it('releases a reservation whose billing never came, and then refuses that billing', async () => {
    const { data, clock } = await setup()
    const { leases } = manager(data, clock, 'a')
    await leases.tick()
    const r = (await reserve(leases))!
    leases.markWon(r, clock.t)
    clock.t += SETTINGS.reservationTtlMs + SETTINGS.commitGraceMs + 1
    await leases.tick()
    assert.equal(leases.pendingReservations, 0)
    assert.equal(leases.campaign('c1')!.reservedMicros, 0)
    assert.equal(leases.counters.reservations.expired, 0) // flushed to metrics by the tick
    assert.equal(await leases.commitBilling(billing(r)), 'expired')
  })

  it('fail-closed: with the store down it spends the lease in hand until the lease TTL, never more', async () => {
    const { data, clock } = await setup()
    const { leases, store } = manager(data, clock, 'a')
    await leases.tick()
    await reserve(leases)
    store.down = true
    let served = 1
    for (let i = 0; i < 20; i++) {
      const lease = leases.campaign('c1')!
      if (leases.canSpend(clock.t) && lease.tryReserve(2_000, clock.t)) served++
      await leases.tick()
    }
    assert.equal(served, 5) // the 10,000 micros lease, and not one impression more
    const oldId = leases.instanceId
    clock.t += SETTINGS.leaseTtlMs + 1
    await leases.tick()
    assert.equal(leases.canSpend(clock.t), false)
    assert.equal(leases.campaign('c1')!.availableMicros, 0) // the lapsed lease is given up
    assert.notEqual(leases.instanceId, oldId) // new leases are taken under a new id
    store.down = false
    await leases.tick()
    assert.equal(leases.canSpend(clock.t), true)
  })

  it('keeps an expired reservation held while the store cannot say whether it was billed', async () => {
    const { data, clock } = await setup()
    const { leases, store } = manager(data, clock, 'a')
    await leases.tick()
    const r = (await reserve(leases))!
    leases.markWon(r, clock.t)
    store.down = true
    clock.t += SETTINGS.reservationTtlMs + SETTINGS.commitGraceMs + 1
    await leases.tick()
    assert.equal(leases.pendingReservations, 1)
    assert.equal(leases.campaign('c1')!.reservedMicros, 2_000)
  })

  it('gives unspent lease back on stop', async () => {
    const { data, clock } = await setup()
    const { leases } = manager(data, clock, 'a')
    await leases.tick()
    const r = (await reserve(leases))!
    leases.markWon(r, clock.t)
    await leases.stop()
    assert.deepEqual(data.leases.get('c1')!.get('a'), { m: 2_000, i: 1 }) // only the reserved part stays
    assert.equal(data.ledgers.get('c1')!.leased, 2_000)
  })

  it('reaps the leases of an instance that went silent, after every reservation it held expired', async () => {
    const { data, clock } = await setup()
    const a = manager(data, clock, 'a').leases
    const b = manager(data, clock, 'b').leases
    await a.tick()
    await reserve(a)
    await b.tick()
    assert.equal(data.ledgers.get('c1')!.leased, 10_000)
    const s = SETTINGS
    clock.t += s.leaseTtlMs + s.reservationTtlMs + s.commitGraceMs + s.reapMarginMs + 1
    await b.tick()
    assert.equal(data.ledgers.get('c1')!.leased, 0)
    assert.equal(data.leases.get('c1')!.has('a'), false)
  })

  it('tells a filter which campaigns can serve: known, live, spendable, not out of budget', async () => {
    const { data, clock } = await setup({ impressionGoal: 1 })
    await createMemoryPacingStore({ data }).putCampaign(campaign({ id: 'paused', status: 'paused' }))
    const { leases } = manager(data, clock, 'a')
    await leases.tick()
    assert.equal(leases.canServe('c1', clock.t), true)
    assert.equal(leases.canServe('paused', clock.t), false)
    assert.equal(leases.canServe('nope', clock.t), false)
    const r = (await reserve(leases))!
    leases.markWon(r, clock.t)
    await leases.commitBilling(billing(r))
    clock.t += SETTINGS.paceIntervalMs
    await leases.tick() // the store reports the goal reached
    assert.equal(leases.campaign('c1')!.mode, 'exhausted')
    assert.equal(leases.canServe('c1', clock.t), false)
  })

  it('issue: a billing whose commit landed unanswered is settled by its retry, counted once', async () => {
    const { data, clock } = await setup()
    let loseNext = false
    const { leases } = manager(data, clock, 'a', SETTINGS, (inner) => ({
      ...inner,
      async commit(r) {
        const outcome = await inner.commit(r)
        if (loseNext) {
          loseNext = false
          throw new Error('Command timed out')
        }
        return outcome
      },
    }))
    await leases.tick()
    const r = (await reserve(leases))!
    leases.markWon(r, clock.t)
    loseNext = true
    assert.equal(await leases.commitBilling(billing(r)), 'store_error')
    assert.equal(await leases.commitBilling(billing(r)), 'counted')
    assert.equal(await leases.commitBilling(billing(r)), 'duplicate')
    const lease = leases.campaign('c1')!
    assert.deepEqual([lease.leaseMicros, lease.reservedMicros, leases.pendingReservations], [8_500, 0, 0])
    assert.deepEqual([data.ledgers.get('c1')!.spent, data.ledgers.get('c1')!.imps], [1_500, 1])
  })

  it('issue: serves the last impression a budget can pay for (a remainder completes the lease in hand)', async () => {
    // 5,000 micros, impressions reserved at 2,000 and billed at 1,500: three fit (4,500).
    const { data, clock } = await setup({ lifetimeBudgetMicros: 5_000 })
    const { leases } = manager(data, clock, 'a')
    await leases.tick()
    let served = 0
    for (let i = 0; i < 6; i++) {
      clock.t += 10
      const r = await reserve(leases)
      if (r === null) continue
      served++
      leases.markWon(r, clock.t)
      assert.equal(await leases.commitBilling(billing(r)), 'counted')
    }
    const l = data.ledgers.get('c1')!
    assert.equal(served, 3, JSON.stringify(l))
    assert.equal(l.spent, 4_500)
    assert.ok(l.spent + l.leased <= 5_000)
  })

  it('issue: pools the fragments of the last impression held by two instances', async () => {
    // 4,000 micros: two impressions reserved at 2,000, billed at 1,000, leave 1,000 on each instance.
    const { data, clock } = await setup({ lifetimeBudgetMicros: 4_000 })
    const a = manager(data, clock, 'a').leases
    const b = manager(data, clock, 'b').leases
    await a.tick()
    await b.tick()
    for (const m of [a, b]) {
      const r = (await reserve(m))!
      m.markWon(r, clock.t)
      assert.equal(await m.commitBilling(billing(r, 1_000_000)), 'counted')
    }
    assert.deepEqual([data.ledgers.get('c1')!.spent, data.ledgers.get('c1')!.leased], [2_000, 2_000])
    // Neither can pay for one alone; together they can, once: a gives its fragment back, b completes.
    assert.equal(await reserve(a), null)
    const last = await reserve(b)
    assert.ok(last !== null, JSON.stringify(data.ledgers.get('c1')))
    b.markWon(last, clock.t)
    assert.equal(await b.commitBilling(billing(last, 2_000_000)), 'counted')
    assert.equal(await reserve(a), null)
    assert.equal(await reserve(b), null)
    const l = data.ledgers.get('c1')!
    assert.ok(l.spent + l.leased <= 4_000 && l.spent === 4_000, JSON.stringify(l))
  })

  it('stop waits for an on-demand refill in flight, so its grant is returned too', async () => {
    const { data, clock } = await setup()
    const slow = (inner: PacingStore): PacingStore => ({
      ...inner,
      async lease(r) {
        await new Promise((resolve) => setTimeout(resolve, 50))
        return inner.lease(r)
      },
    })
    const { leases } = manager(data, clock, 'a', SETTINGS, slow)
    await leases.tick()
    const lease = leases.campaign('c1')!
    assert.equal(lease.tryReserve(2_000, clock.t), false) // no lease yet: asks for a refill
    leases.requestRefill()
    await new Promise((resolve) => setImmediate(resolve)) // the LEASE call is out
    leases.requestRefill() // scheduled now, runs once stop() has begun: starts nothing
    await leases.stop()
    await new Promise((resolve) => setTimeout(resolve, 120))
    assert.equal(data.ledgers.get('c1')!.leased, 0)
    assert.equal(data.leases.get('c1')?.get('a'), undefined)
  })

  it('two instances never commit more than the budget', async () => {
    const { data, clock } = await setup({ lifetimeBudgetMicros: 50_000, impressionGoal: 20 })
    const insts = [manager(data, clock, 'a').leases, manager(data, clock, 'b').leases]
    await Promise.all(insts.map((i) => i.tick()))
    let served = 0
    for (let step = 0; step < 400; step++) {
      const m = insts[step % 2]!
      clock.t += 37
      const r = await reserve(m)
      if (r !== null) {
        m.markWon(r, clock.t)
        served++
        if (step % 3 !== 0) await insts[(step + 1) % 2]!.commitBilling(billing(r, 2_000_000))
      }
      if (step % 10 === 0) await Promise.all(insts.map((i) => i.tick()))
    }
    const l = data.ledgers.get('c1')!
    assert.ok(l.spent <= 50_000 && l.imps <= 20, JSON.stringify(l))
    assert.ok(served >= 20, `served ${served}`)
  })
})
