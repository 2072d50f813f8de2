import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { HouseCatalog } from '../../catalog/house-catalog.js'
import { explainAd, wantsExplanation } from './explain.js'
import { testAd, testImp, testRequest, testSignals } from './filter-fixtures.js'

const NOW_MS = Date.UTC(2026, 5, 17, 15, 30)

describe('explainAd', () => {
  const catalog = HouseCatalog.build(
    [
      testAd('picky', {
        cpmMicros: 800_000,
        category: 'IAB25',
        targeting: { countries: ['CAN'], deviceTypes: [4], blockedDomains: ['news.example'] },
      }),
      testAd('fine', { cpmMicros: 2_000_000 }),
      testAd('wide', { sizes: [{ w: 728, h: 90 }] }),
    ],
    1,
    { policies: [{ kind: 'publisher_category', id: 'no-25', publishers: ['pub-1'], categories: ['IAB25'] }] },
  )

  it('lists every filter an ad fails on each imp, the first in the canonical order', () => {
    const request = testRequest({ imp: [testImp({ id: 'a', bidfloor: 1 }), testImp({ id: 'b' })] })
    const why = explainAd(catalog, 'picky', request, testSignals({ bcat: ['IAB25'] }), { nowMs: NOW_MS })
    assert.equal(why.isFound, true)
    assert.deepEqual(why.imps[0], {
      impId: 'a',
      isEligible: false,
      isSelected: false,
      rejectedBy: 'floor',
      failed: [
        { filter: 'floor', detail: 'floor 1' },
        { filter: 'country', detail: 'USA' },
        { filter: 'device_type', detail: 'devicetype 2' },
        { filter: 'blocked_domain', detail: 'news.example' },
        { filter: 'bcat', detail: 'IAB25' },
        { filter: 'publisher_category', detail: 'no-25' },
      ],
    })
    assert.equal(why.imps[1]!.rejectedBy, 'country', 'no floor on the second imp')
  })

  it('an eligible ad, selected among the best; an ad of another size; an unknown ad', () => {
    const request = testRequest()
    const fine = explainAd(catalog, 'fine', request, testSignals(), { nowMs: NOW_MS })
    assert.deepEqual(fine.imps[0], {
      impId: '1',
      isEligible: true,
      isSelected: true,
      rejectedBy: null,
      failed: [],
    })
    const wide = explainAd(catalog, 'wide', request, testSignals(), { nowMs: NOW_MS })
    assert.deepEqual(wide.imps[0]!.failed, [{ filter: 'format', detail: 'banner 728x90' }])
    assert.deepEqual(explainAd(catalog, 'nope', request, testSignals()), {
      adId: 'nope',
      isFound: false,
      imps: [],
    })
  })

  it('floors default to the imp floor raised to the publisher floor', () => {
    const request = testRequest({ imp: [testImp({ bidfloor: 0.5 })] })
    const why = explainAd(catalog, 'fine', request, testSignals({ publisherFloorCpm: 2.5 }), {
      nowMs: NOW_MS,
    })
    assert.equal(why.imps[0]!.rejectedBy, 'floor')
  })
})

describe('explainAd on an unbiddable imp', () => {
  it('an imp floored in another currency (floor -1) is rejected by floor, not explained with the previous imp', () => {
    const catalog = HouseCatalog.build([testAd('ad', { targeting: { countries: ['CAN'] } })], 1)
    const request = testRequest({ imp: [testImp({ id: 'a' }), testImp({ id: 'b' })] })
    const why = explainAd(catalog, 'ad', request, testSignals(), { nowMs: NOW_MS, floors: [0, -1] })
    assert.equal(why.imps[0]!.rejectedBy, 'country')
    assert.deepEqual(why.imps[1], {
      impId: 'b',
      isEligible: false,
      isSelected: false,
      rejectedBy: 'floor',
      failed: [{ filter: 'floor', detail: 'bidfloorcur is not the exchange currency' }],
    })
  })
})

describe('wantsExplanation', () => {
  it('test: 1, ext.debug or ext.explain', () => {
    assert.equal(wantsExplanation(testRequest({ test: 1 })), true)
    assert.equal(wantsExplanation(testRequest({ ext: { debug: true } })), true)
    assert.equal(wantsExplanation(testRequest({ ext: { explain: '1' } })), true)
    assert.equal(wantsExplanation(testRequest({ ext: { debug: 0 } })), false)
    assert.equal(wantsExplanation(testRequest()), false)
  })
})
