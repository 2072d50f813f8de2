import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { HouseCatalog } from '../../catalog/house-catalog.js'
import { FilterEngine } from './filter-engine.js'
import { testAd, testImp, testRequest, testSignals } from './filter-fixtures.js'
import { AD_FILTER_NAMES, type AdFilterName } from './filter-names.js'
import { FilterOrder } from './filter-order.js'

const NOW_MS = Date.UTC(2026, 5, 17, 15, 30)
const CATS = ['IAB1', 'IAB2', 'IAB3', 'IAB4', 'IAB5', 'IAB6', 'IAB7', 'IAB8', 'IAB9', 'IAB10']
const at = (name: AdFilterName) => AD_FILTER_NAMES.indexOf(name)

describe('FilterOrder', () => {
  it('orders by cost per rejection, cheapest and most rejecting first', () => {
    const order = new FilterOrder(3)
    order.record(0, 10, 0.1) // 100 ns per rejection
    order.record(1, 1, 0.5) // 2
    order.record(2, 5, 0.9) // 5.6
    order.reorder()
    assert.deepEqual([...order.order], [1, 2, 0])
  })

  it('a filter that never rejects goes last however cheap', () => {
    const order = new FilterOrder(2)
    order.record(0, 0.01, 0)
    order.record(1, 50, 0.2)
    order.reorder()
    assert.deepEqual([...order.order], [1, 0])
  })

  it('averages profiles: one outlier does not flip a settled order', () => {
    const order = new FilterOrder(2)
    for (let i = 0; i < 50; i++) {
      order.record(0, 1, 0.8)
      order.record(1, 1, 0.4)
    }
    order.record(1, 1, 1) // one odd request
    order.reorder()
    assert.deepEqual([...order.order], [0, 1])
  })

  it('a fixed order never moves', () => {
    const order = new FilterOrder(3, [2, 0, 1])
    order.record(1, 0.1, 0.99)
    order.reorder()
    assert.deepEqual([...order.order], [2, 0, 1])
  })
})

/**
 * 2,000 ads: 90% in categories a policy keeps out of the USA (one cheap bitset rejecting 90% of
 * candidates there), 95% country-targeted at the USA and Britain, a few paused or blocked, every
 * one with key-values the placement meets (an expensive check that rejects nothing) and a third
 * of them under a min-viewability rule the placement fails.
 */
function convergenceCatalog(): HouseCatalog {
  const ads = Array.from({ length: 2000 }, (_, i) =>
    testAd(`ad${i}`, {
      category: CATS[i % 10]!,
      cpmMicros: 100_000 + i * 1000,
      advertiserDomain: i % 3 === 0 ? 'picky.example' : 'easy.example',
      ...(i % 50 === 7 ? { status: 'paused' as const } : {}),
      targeting: {
        countries: i % 20 === 0 ? [] : ['USA', 'GBR'],
        blockedDomains: i % 40 === 3 ? ['news.example'] : [],
        keyValues: { section: ['news', 'sports'], tier: ['gold', 'silver'], lang: ['en'] },
      },
    }),
  )
  return HouseCatalog.build(ads, 1, {
    policies: [
      { kind: 'category_country', id: 'cc', categories: CATS.slice(1), countries: ['GBR'] },
      { kind: 'min_viewability', id: 'mv', advertisers: ['picky.example'], categories: [], minPercent: 60 },
    ],
  })
}

function auction(country: string) {
  return testRequest({
    imp: [testImp({ ext: { section: 'news', tier: 'gold', lang: 'en', viewability: 30 } })],
    device: { ...testRequest().device, geo: { country } },
  })
}

function termsInOrder(engine: FilterEngine, names: readonly AdFilterName[]): AdFilterName[] {
  return engine.currentOrder().filter((n) => names.includes(n))
}

describe('adaptive ordering', () => {
  const terms: AdFilterName[] = ['country', 'category_country']
  const predicates: AdFilterName[] = ['status', 'blocked_domain', 'key_value', 'min_viewability']

  it('converges: the cheap filter that rejects most moves first, the costly one that rejects nothing last', () => {
    const catalog = convergenceCatalog()
    const engine = new FilterEngine({ seed: 7 })
    assert.deepEqual(termsInOrder(engine, terms), terms, 'starts in the declared order, the best term last')
    assert.deepEqual(termsInOrder(engine, predicates), predicates)
    const request = auction('USA')
    for (let i = 0; i < 64 * 40; i++) engine.select(catalog, request, testSignals(), [0], NOW_MS)
    assert.equal(termsInOrder(engine, terms)[0], 'category_country')
    assert.deepEqual(termsInOrder(engine, predicates)[0], 'min_viewability')
    assert.deepEqual(termsInOrder(engine, predicates).at(-1), 'key_value')
    const f = at('category_country')
    assert.ok(Math.abs(engine.order.rejectRate[f]! - 0.9) < 0.06, `measured ${engine.order.rejectRate[f]}`)
    assert.ok(engine.order.rejectRate[at('key_value')]! < 0.01)
    assert.ok(engine.order.samples[f]! >= 30, 'profiled on one auction in 64')
  })

  it('follows the traffic: when another filter starts rejecting more, it overtakes', () => {
    const catalog = convergenceCatalog()
    const engine = new FilterEngine({ seed: 11 })
    for (let i = 0; i < 64 * 40; i++) engine.select(catalog, auction('USA'), testSignals(), [0], NOW_MS)
    const before = termsInOrder(engine, terms)
    assert.ok(before.indexOf('category_country') < before.indexOf('country'))
    // From France, country targeting rejects 95% of ads and the policy still 90%.
    for (let i = 0; i < 64 * 60; i++) engine.select(catalog, auction('FRA'), testSignals(), [0], NOW_MS)
    assert.equal(termsInOrder(engine, terms)[0], 'country')
  })

  it('a fixed order stays as given and selects the same creatives', () => {
    const catalog = convergenceCatalog()
    const worst = [...AD_FILTER_NAMES].reverse()
    const fixed = new FilterEngine({ order: worst })
    const adaptive = new FilterEngine()
    for (let i = 0; i < 64 * 5; i++) {
      const a = fixed.select(catalog, auction('USA'), testSignals(), [0], NOW_MS)
      const b = adaptive.select(catalog, auction('USA'), testSignals(), [0], NOW_MS)
      assert.deepEqual(
        a[0]!.map((c) => c.ad.id),
        b[0]!.map((c) => c.ad.id),
      )
    }
    assert.deepEqual(fixed.currentOrder(), worst)
  })
})

describe('rejection counts', () => {
  it('are the first rejections, counted on sampled auctions and scaled to all of them', () => {
    const ads = [
      testAd('blocked', { category: 'IAB25', cpmMicros: 3_000_000 }),
      testAd('canada', { targeting: { countries: ['CAN'] }, cpmMicros: 2_000_000 }),
      testAd('ok', { cpmMicros: 1_000_000 }),
    ]
    const catalog = HouseCatalog.build(ads, 1)
    const engine = new FilterEngine({ countEvery: 4 })
    for (let i = 0; i < 8; i++)
      engine.select(catalog, testRequest(), testSignals({ bcat: ['IAB25'] }), [0], NOW_MS)
    const counts = new Float64Array(AD_FILTER_NAMES.length)
    engine.takeRejections(counts)
    // Two counted auctions of the eight, each standing for four: 8 rejections per filter.
    assert.equal(counts[at('bcat')], 8)
    assert.equal(counts[at('country')], 8)
    assert.equal(
      counts.reduce((a, b) => a + b, 0),
      16,
    )
    engine.takeRejections(counts)
    assert.equal(
      counts.reduce((a, b) => a + b, 0),
      0,
      'taking them resets them',
    )
  })
})
