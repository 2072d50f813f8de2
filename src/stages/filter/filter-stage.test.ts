import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { setImmediate as nextTurn } from 'node:timers/promises'
import { CatalogHolder, HouseCatalog } from '../../catalog/house-catalog.js'
import { ExchangeMetrics } from '../../metrics/metrics.js'
import { NoBidReason } from '../../openrtb/types.js'
import { MAX_EXPLAINED_IMPS } from './explain.js'
import { testAd, testContext, testImp, testRequest, testSignals } from './filter-fixtures.js'
import { FILTER_NAMES } from './filter-names.js'
import {
  createFilterStage,
  createRequestFilterStage,
  debugResponseExt,
  filterExplanation,
} from './filter-stage.js'

const NOW_MS = Date.UTC(2026, 5, 17, 15, 30)
const now = () => NOW_MS

function holderWith(...ads: Parameters<typeof HouseCatalog.build>[0][]): CatalogHolder {
  const holder = new CatalogHolder()
  holder.swap(HouseCatalog.build(ads.flat(), 1))
  return holder
}

describe('filter stage', () => {
  it('keeps up to three eligible creatives per imp, best first; an unbiddable imp gets none', () => {
    const holder = holderWith([
      testAd('a', { cpmMicros: 1_000_000 }),
      testAd('b', { cpmMicros: 4_000_000 }),
      testAd('c', { cpmMicros: 3_000_000, sizes: [{ w: 728, h: 90 }] }),
      testAd('d', {
        cpmMicros: 2_000_000,
        sizes: [
          { w: 728, h: 90 },
          { w: 300, h: 250 },
        ],
      }),
      testAd('e', { cpmMicros: 5_000_000, targeting: { countries: ['CAN'] } }),
    ])
    const stage = createFilterStage(holder, { now })
    const request = testRequest({
      imp: [
        testImp({
          id: '1',
          banner: {
            format: [
              { w: 300, h: 250 },
              { w: 728, h: 90 },
            ],
          },
        }),
        testImp({ id: '2', banner: { w: 728, h: 90 } }),
        testImp({ id: '3' }),
      ],
    })
    const ctx = testContext(request, testSignals(), [0, 0, -1])
    assert.equal(stage.run(ctx), undefined)
    const ids = ctx.houseAds.map((list) => list.map((c) => `${c.ad.id}@${c.w}x${c.h}`))
    assert.deepEqual(ids, [['b@300x250', 'c@728x90', 'd@300x250'], ['c@728x90', 'd@728x90'], []])
    assert.equal(ctx.houseAds[0]![0]!.priceCpm, 4)
  })

  it('an empty catalog or an undecorated auction leaves every imp without house ads', () => {
    const stage = createFilterStage(new CatalogHolder(), { now })
    const ctx = testContext(testRequest())
    assert.equal(stage.run(ctx), undefined)
    assert.deepEqual(ctx.houseAds, [[]])
  })

  it('a swapped catalog serves from the next auction; building it in slices never stalls the auctions', async () => {
    const holder = holderWith([testAd('old', { cpmMicros: 9_000_000 })])
    const stage = createFilterStage(holder, { now })
    const bigAds = Array.from({ length: 10_000 }, (_, i) =>
      testAd(`new${i}`, {
        cpmMicros: 100_000 + i * 10,
        sizes: [
          { w: 300, h: 250 },
          { w: 728, h: 90 },
        ],
        advertiserDomain: `adv${i % 300}.example`,
        targeting: {
          countries: i % 3 === 0 ? [] : ['USA', 'GBR'],
          blockedDomains: [`site${i % 500}.example`],
        },
      }),
    )
    const seen = new Set<string>()
    const gapsMs: number[] = []
    let auctions = 0
    let isRunning = true
    const serving = (async () => {
      let last = performance.now()
      while (isRunning) {
        const ctx = testContext(testRequest())
        stage.run(ctx)
        seen.add(ctx.houseAds[0]![0]?.ad.id ?? 'none')
        auctions++
        await nextTurn()
        const t = performance.now()
        gapsMs.push(t - last)
        last = t
      }
    })()
    const next = await HouseCatalog.buildInSlices(bigAds, 2, { sliceMs: 2 })
    const auctionsDuringBuild = auctions
    holder.swap(next)
    const ctx = testContext(testRequest())
    stage.run(ctx)
    isRunning = false
    await serving

    assert.equal(ctx.houseAds[0]![0]!.ad.id, 'new9999', 'the very next auction sees the new catalog')
    assert.deepEqual([...seen].slice(0, 1), ['old'], 'auctions during the build served the old one')
    assert.ok(auctionsDuringBuild > 20, `auctions kept running during the build (${auctionsDuringBuild})`)
    // The same build done at once: the pause serving would have had without slicing. A loaded
    // machine (or a GC) can still stretch one gap, so the bound is on the typical gap.
    const blockingStartedAt = performance.now()
    HouseCatalog.build(bigAds, 3)
    const blockingMs = performance.now() - blockingStartedAt
    const sorted = gapsMs.sort((a, b) => a - b)
    const p90Ms = sorted[Math.floor(sorted.length * 0.9)]!
    const maxMs = sorted.at(-1)!
    const facts = `gaps between auctions: p90 ${p90Ms.toFixed(1)} ms, max ${maxMs.toFixed(1)} ms; blocking build ${blockingMs.toFixed(0)} ms`
    assert.ok(p90Ms < blockingMs / 3, facts)
    assert.ok(maxMs < blockingMs, facts)
  })

  it('request filters end the auction with their no-bid reason, before any ad is looked at', async () => {
    const metrics = new ExchangeMetrics([], { defaultMetrics: false })
    const holder = holderWith([testAd('a')])
    const stage = createFilterStage(holder, {
      now,
      metrics,
      requestFilters: {
        requireSiteOrApp: true,
        requireDevice: true,
        blockedPublishers: ['pub-bad'],
        blockedSites: ['bad.example'],
        datacenterIpRanges: ['34.64.0.0/10'],
        crawlerUserAgents: ['googlebot'],
        automationUserAgents: ['headlesschrome'],
        hasTestDemand: false,
      },
    })
    const device = testRequest().device!
    const cases: [ReturnType<typeof testRequest>, NoBidReason | undefined][] = [
      [testRequest(), undefined],
      [testRequest({ site: undefined } as never), NoBidReason.InvalidRequest],
      [testRequest({ device: { geo: { country: 'USA' } } }), NoBidReason.InvalidRequest],
      [testRequest({ test: 1 }), NoBidReason.NoDemand],
      [
        testRequest({ site: { domain: 'x.example', publisher: { id: 'pub-bad' } } }),
        NoBidReason.BlockedPublisherOrSite,
      ],
      [testRequest({ site: { domain: 'bad.example' } }), NoBidReason.BlockedPublisherOrSite],
      [
        testRequest({ device: { ...device, ua: 'Mozilla/5.0 (compatible; Googlebot/2.1)' } }),
        NoBidReason.KnownWebCrawler,
      ],
      [
        testRequest({ device: { ...device, ua: 'Mozilla/5.0 HeadlessChrome/120' } }),
        NoBidReason.SuspectedNonHumanTraffic,
      ],
      [testRequest({ device: { ...device, ip: '34.100.1.2' } }), NoBidReason.CloudDataCenterProxyIp],
    ]
    for (const [request, reason] of cases) {
      const ctx = testContext(request)
      assert.equal(stage.run(ctx), reason, JSON.stringify(request))
      if (reason !== undefined) assert.deepEqual(ctx.houseAds, [], 'no ad was looked at')
    }
    const text = await metrics.scrape()
    assert.match(text, /rtb_filter_rejections_total\{filter="request_fields"\} 2/)
    assert.match(text, /rtb_filter_rejections_total\{filter="request_crawler"\} 1/)
    assert.match(text, /rtb_filter_rejections_total\{filter="request_datacenter_ip"\} 1/)
  })

  it('as a stage of its own, request filters answer the same', () => {
    const stage = createRequestFilterStage(undefined, { name: 'filter' })
    const device = testRequest().device!
    assert.equal(stage.run(testContext(testRequest())), undefined)
    assert.equal(
      stage.run(testContext(testRequest({ device: { ...device, ua: 'curl/8.4.0' } }))),
      NoBidReason.SuspectedNonHumanTraffic,
    )
  })

  it('counts ad rejections per filter into the metrics', async () => {
    const metrics = new ExchangeMetrics([], { defaultMetrics: false })
    const holder = holderWith([testAd('blocked', { category: 'IAB25', cpmMicros: 2_000_000 }), testAd('ok')])
    const stage = createFilterStage(holder, {
      now,
      metrics,
      engine: { countEvery: 1 },
    })
    for (let i = 0; i < 3; i++) stage.run(testContext(testRequest(), testSignals({ bcat: ['IAB25'] })))
    // Nothing reaches prom-client on the request path: the counts are flushed when scraped.
    assert.match(await metrics.scrape(), /rtb_filter_rejections_total\{filter="bcat"\} 3/)
    stage.run(testContext(testRequest(), testSignals({ bcat: ['IAB25'] })))
    assert.match(await metrics.scrape(), /rtb_filter_rejections_total\{filter="bcat"\} 4/)
  })

  it('the request path never touches prom-client: counts wait in arrays until a scrape', () => {
    let incs = 0
    const counting = Object.fromEntries(FILTER_NAMES.map((f) => [f, { inc: () => void incs++ }]))
    const flushes: (() => void)[] = []
    const sink = {
      filterRejections: counting as never,
      onFilterRejectionsCollect: (f: () => void) => void flushes.push(f),
    }
    const holder = holderWith([testAd('blocked', { category: 'IAB25', cpmMicros: 2_000_000 }), testAd('ok')])
    const stage = createFilterStage(holder, { now, metrics: sink, engine: { countEvery: 1 } })
    const device = testRequest().device!
    for (let i = 0; i < 200; i++) {
      stage.run(testContext(testRequest(), testSignals({ bcat: ['IAB25'] })))
      stage.run(testContext(testRequest({ device: { ...device, ua: 'Googlebot/2.1' } })))
    }
    assert.equal(incs, 0)
    assert.equal(flushes.length, 1, 'the stage registered its flush')
    flushes[0]!()
    assert.equal(incs, 2, 'one inc per filter that rejected something (bcat, request_crawler)')
  })
})

describe('explain', () => {
  const holder = holderWith([
    testAd('top', { cpmMicros: 5_000_000, targeting: { countries: ['CAN'] } }),
    testAd('second', { cpmMicros: 4_000_000, category: 'IAB25' }),
    testAd('third', { cpmMicros: 3_000_000 }),
    testAd('cheap', { cpmMicros: 500_000 }),
  ])

  it('a test request gets, per imp, its best candidates and the first filter that rejected each', () => {
    const stage = createFilterStage(holder, { now, explainLimit: 3 })
    const ctx = testContext(
      testRequest({ test: 1, imp: [testImp({ bidfloor: 1 })] }),
      testSignals({ bcat: ['IAB25'] }),
    )
    assert.equal(stage.run(ctx), undefined)
    const explanation = filterExplanation(ctx)!
    assert.equal(explanation.requestRejectedBy, null)
    assert.ok(explanation.order.includes('country'))
    assert.deepEqual(
      explanation.imps[0]!.candidates.map((c) => [c.adId, c.rejectedBy, c.detail, c.isSelected]),
      [
        ['top', 'country', 'USA', false],
        ['second', 'bcat', 'IAB25', false],
        ['third', null, '', true],
      ],
    )
    assert.deepEqual(
      ctx.houseAds[0]!.map((c) => c.ad.id),
      ['third'],
    )
  })

  it('ext.explain asks too; an ordinary request gets none', () => {
    const stage = createFilterStage(holder, { now })
    const asked = testContext(testRequest({ ext: { explain: 1 } }))
    stage.run(asked)
    assert.ok(filterExplanation(asked) !== undefined)
    const plain = testContext(testRequest())
    stage.run(plain)
    assert.equal(filterExplanation(plain), undefined)
  })

  it('names the catalog; explains at most MAX_EXPLAINED_IMPS imps and counts the rest', () => {
    const stage = createFilterStage(holder, { now, explainLimit: 2 })
    const imps = Array.from({ length: MAX_EXPLAINED_IMPS + 3 }, (_, i) => testImp({ id: `i${i}` }))
    const ctx = testContext(testRequest({ test: 1, imp: imps }))
    stage.run(ctx)
    const explanation = filterExplanation(ctx)!
    assert.equal(explanation.catalogVersion, 1)
    assert.equal(explanation.catalogAds, 4)
    assert.equal(explanation.imps.length, MAX_EXPLAINED_IMPS)
    assert.equal(explanation.impsNotExplained, 3)
    assert.equal(ctx.houseAds.length, MAX_EXPLAINED_IMPS + 3, 'every imp still gets its house ads')
    assert.deepEqual(debugResponseExt(ctx), { explain: explanation })
  })

  it('an unbiddable imp (floor -1) is explained as such, not with the previous imp', () => {
    const stage = createFilterStage(holder, { now })
    const ctx = testContext(
      testRequest({ test: 1, imp: [testImp({ id: 'a' }), testImp({ id: 'b' })] }),
      testSignals(),
      [0, -1],
    )
    stage.run(ctx)
    const [a, b] = filterExplanation(ctx)!.imps
    assert.ok(a!.candidates.length > 0)
    assert.deepEqual(b, {
      impId: 'b',
      candidates: [],
      note: 'imp floored in a currency the exchange does not transact in',
    })
    assert.deepEqual(ctx.houseAds[1], [])
  })

  it('an empty catalog still explains a debug auction: every imp, no candidate', () => {
    const stage = createFilterStage(new CatalogHolder(), { now })
    const ctx = testContext(testRequest({ ext: { debug: 1 } }))
    stage.run(ctx)
    assert.deepEqual(filterExplanation(ctx), {
      catalogVersion: 0,
      catalogAds: 0,
      requestRejectedBy: null,
      order: [],
      imps: [{ impId: '1', candidates: [] }],
      impsNotExplained: 0,
    })
    assert.equal(debugResponseExt(testContext(testRequest())), undefined)
  })

  it('a request filter that ends a debug auction is what the explanation names', () => {
    const stage = createFilterStage(holder, { now })
    const device = testRequest().device!
    const ctx = testContext(testRequest({ test: 1, device: { ...device, ua: 'Googlebot/2.1' } }))
    assert.equal(stage.run(ctx), NoBidReason.KnownWebCrawler)
    assert.equal(filterExplanation(ctx)!.requestRejectedBy, 'request_crawler')
  })
})
