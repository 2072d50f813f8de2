import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { Campaign } from './campaign.js'
import {
  type Delivery,
  INITIAL_PACER,
  MIN_RATE,
  nextPacerState,
  type PacerState,
  pacingPlan,
  planShare,
} from './even-pacer.js'

const DAY = 86_400_000
const MIDNIGHT = Date.UTC(2026, 4, 1)

function campaign(over: Partial<Campaign>): Campaign {
  return {
    id: 'c',
    name: 'c',
    status: 'active',
    dailyBudgetMicros: null,
    lifetimeBudgetMicros: null,
    impressionGoal: null,
    startMs: null,
    endMs: null,
    pacing: 'EVEN',
    frequencyCaps: [],
    ...over,
  }
}

const NOTHING: Delivery = { spentMicros: 0, daySpentMicros: 0, imps: 0 }

describe('pacing plans', () => {
  it('paces a daily budget over today (clipped to the flight), else lifetime budget or goal over the flight', () => {
    const now = MIDNIGHT + DAY / 2
    assert.deepEqual(pacingPlan(campaign({ dailyBudgetMicros: 100 }), NOTHING, now), {
      target: 100,
      actual: 0,
      startMs: MIDNIGHT,
      endMs: MIDNIGHT + DAY,
    })
    const flight = { startMs: MIDNIGHT + 1_000, endMs: MIDNIGHT + 5_000 }
    assert.equal(
      pacingPlan(campaign({ dailyBudgetMicros: 100, ...flight }), NOTHING, now)?.endMs,
      flight.endMs,
    )
    assert.equal(pacingPlan(campaign({ lifetimeBudgetMicros: 7, ...flight }), NOTHING, now)?.target, 7)
    assert.equal(
      pacingPlan(campaign({ impressionGoal: 9, ...flight }), { ...NOTHING, imps: 4 }, now)?.actual,
      4,
    )
  })

  it('has no plan for ASAP, unlimited campaigns, or lifetime limits without an end', () => {
    assert.equal(pacingPlan(campaign({ dailyBudgetMicros: 1, pacing: 'ASAP' }), NOTHING, MIDNIGHT), null)
    assert.equal(pacingPlan(campaign({}), NOTHING, MIDNIGHT), null)
    assert.equal(pacingPlan(campaign({ lifetimeBudgetMicros: 5, startMs: 0 }), NOTHING, MIDNIGHT), null)
  })

  it('EVEN is linear, FRONTLOADED runs ahead and meets it at the end', () => {
    assert.equal(planShare('EVEN', 0.25), 0.25)
    assert.equal(planShare('FRONTLOADED', 0.25), 0.4375)
    assert.equal(planShare('FRONTLOADED', 1), 1)
    assert.equal(planShare('EVEN', 1.5), 1)
  })
})

describe('participation rate', () => {
  const c = campaign({ dailyBudgetMicros: 86_400_000 }) // 1,000 micros per second of the day
  const STEP = 2_000

  it('halves when ahead of plan, doubles when behind with nothing delivered, stays in [MIN_RATE, 1]', () => {
    const at = MIDNIGHT + DAY / 2
    const ahead = nextPacerState(c, { ...NOTHING, daySpentMicros: 60_000_000 }, INITIAL_PACER, at, STEP)
    assert.equal(ahead.rate, 0.5)
    const behind = nextPacerState(c, NOTHING, { rate: 0.3, lastActual: -1, lastAtMs: 0 }, at, STEP)
    assert.equal(behind.rate, 0.6)
    let s: PacerState = INITIAL_PACER
    for (let i = 0; i < 20; i++)
      s = nextPacerState(c, { ...NOTHING, daySpentMicros: 80_000_000 }, s, at + i, STEP)
    assert.equal(s.rate, MIN_RATE)
  })

  it('ASAP and campaigns without a plan always take part', () => {
    const asap = campaign({ dailyBudgetMicros: 1, pacing: 'ASAP' })
    assert.equal(
      nextPacerState(
        asap,
        { ...NOTHING, daySpentMicros: 1 },
        { rate: 0.1, lastActual: 0, lastAtMs: 0 },
        MIDNIGHT,
        STEP,
      ).rate,
      1,
    )
  })

  it('converges on the plan: simulated demand 4x the budget ends the day within a few % of it', () => {
    // Demand could spend 4,000 micros/s; the budget allows 1,000/s on average.
    const demandPerMs = 4
    let spent = 0
    let s: PacerState = INITIAL_PACER
    for (let t = MIDNIGHT; t < MIDNIGHT + DAY; t += STEP) {
      s = nextPacerState(c, { ...NOTHING, daySpentMicros: spent }, s, t, STEP)
      spent += demandPerMs * STEP * s.rate
      if (t === MIDNIGHT + DAY / 2) {
        const share = spent / 86_400_000
        assert.ok(share > 0.45 && share < 0.55, `half way through the day ${share}`)
      }
    }
    const share = spent / 86_400_000
    assert.ok(share > 0.95 && share < 1.05, `end of day ${share}`)
  })
})
