import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import {
  type Campaign,
  campaignToFields,
  campaignToJson,
  fieldsToCampaign,
  impressionCostMicros,
  isBudgeted,
  isLive,
  parseCampaignInput,
} from './campaign.js'

const FULL = {
  id: 'c-1',
  name: 'Spring sale',
  status: 'active',
  dailyBudgetMicros: 50_000_000,
  lifetimeBudgetMicros: 1_000_000_000,
  impressionGoal: 100_000,
  start: '2026-05-01T00:00:00Z',
  end: '2026-06-01T00:00:00Z',
  pacing: 'even',
  frequencyCaps: [
    { window: 'day', max: 3 },
    { window: 'hour', max: 1 },
    { window: 'day', max: 5 },
  ],
}

function parsed(input: unknown): Campaign {
  const r = parseCampaignInput(input)
  if ('problems' in r) throw new Error(r.problems.join('; '))
  return r.campaign
}

describe('parseCampaignInput', () => {
  it('reads every field: ISO dates, case-insensitive pacing, caps one per window (the strictest)', () => {
    const c = parsed(FULL)
    assert.equal(c.startMs, Date.UTC(2026, 4, 1))
    assert.equal(c.endMs, Date.UTC(2026, 5, 1))
    assert.equal(c.pacing, 'EVEN')
    assert.deepEqual(c.frequencyCaps, [
      { window: 'hour', max: 1 },
      { window: 'day', max: 3 },
    ])
    assert.equal(c.impressionGoal, 100_000)
  })

  it('defaults: active, EVEN, unlimited, open flight, no caps, name = id', () => {
    const c = parsed({ id: 'x' })
    assert.deepEqual(c, {
      id: 'x',
      name: 'x',
      status: 'active',
      dailyBudgetMicros: null,
      lifetimeBudgetMicros: null,
      impressionGoal: null,
      startMs: null,
      endMs: null,
      pacing: 'EVEN',
      frequencyCaps: [],
    })
    assert.equal(isBudgeted(c), false)
  })

  it('refuses floats, negatives and absurd budgets (money is integer micros), listing every problem', () => {
    const r = parseCampaignInput({
      id: 'bad id!',
      dailyBudgetMicros: 1.5,
      lifetimeBudgetMicros: -1,
      impressionGoal: 1e13,
      pacing: 'SOMETIMES',
      startMs: 10,
      endMs: 5,
      frequencyCaps: [
        { window: 'fortnight', max: 1 },
        { window: 'day', max: 0 },
      ],
      status: 'deleted',
    })
    assert.ok('problems' in r)
    assert.equal(r.problems.length, 9, r.problems.join('\n'))
  })

  it('refuses non-objects', () => {
    assert.ok('problems' in parseCampaignInput([]))
    assert.ok('problems' in parseCampaignInput(null))
  })
})

describe('campaign codecs', () => {
  it('round-trips through the Dragonfly hash fields and the JSON form', () => {
    const c = parsed(FULL)
    const fields = campaignToFields(c)
    assert.equal(fields['frequencyCaps'], 'hour:1,day:3')
    assert.equal(fields['dailyBudgetMicros'], '50000000')
    assert.deepEqual(fieldsToCampaign('c-1', fields), { campaign: c })
    assert.deepEqual(parsed(campaignToJson(c)), c)
  })

  it('reads a hand-written hash with only a few fields, and reports a bad one', () => {
    const r = fieldsToCampaign('h1', { lifetimeBudgetMicros: '2500000', frequencyCaps: 'day:2' })
    assert.ok('campaign' in r)
    assert.equal(r.campaign.lifetimeBudgetMicros, 2_500_000)
    assert.deepEqual(r.campaign.frequencyCaps, [{ window: 'day', max: 2 }])
    assert.ok('problems' in fieldsToCampaign('h2', { frequencyCaps: 'day' }))
    assert.ok('problems' in fieldsToCampaign('h3', { dailyBudgetMicros: '1.5' }))
  })
})

describe('campaign rules', () => {
  it('is live only when active and inside its flight (start inclusive, end exclusive)', () => {
    const c = parsed({ id: 'f', startMs: 1_000, endMs: 2_000 })
    assert.equal(isLive(c, 999), false)
    assert.equal(isLive(c, 1_000), true)
    assert.equal(isLive(c, 1_999), true)
    assert.equal(isLive(c, 2_000), false)
    assert.equal(isLive({ ...c, status: 'paused' }, 1_500), false)
  })

  it('costs one impression at a CPM rounded up to whole micros', () => {
    assert.equal(impressionCostMicros(2_500_000), 2_500)
    assert.equal(impressionCostMicros(1_234_567), 1_235)
    assert.equal(impressionCostMicros(1), 1)
  })
})
