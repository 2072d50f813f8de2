import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { HouseCatalog } from '../../catalog/house-catalog.js'
import type { PolicyRule } from '../../catalog/policy-rule.js'
import type { BidRequest } from '../../openrtb/types.js'
import type { RequestSignals } from '../../pipeline/auction-context.js'
import { explainAd } from './explain.js'
import { FilterEngine, type FilterEngineOptions } from './filter-engine.js'
import { type AdOverrides, testAd, testImp, testRequest, testSignals } from './filter-fixtures.js'
import { AD_FILTER_NAMES, type AdFilterName } from './filter-names.js'

/** Wednesday 17 June 2026, 15:30 UTC. */
const NOW_MS = Date.UTC(2026, 5, 17, 15, 30)
const DAY_MS = 86_400_000

interface Situation {
  readonly request?: Partial<BidRequest>
  readonly signals?: Partial<RequestSignals>
  readonly floor?: number
  readonly nowMs?: number
}

/**
 * One rule kind: an ad ('target') that this filter alone rejects in `rejecting`, and a change of
 * request (or of the ad) that lets it through. A control ad open on every dimension must pass both.
 */
interface RuleCase {
  readonly filter: AdFilterName
  readonly ad: AdOverrides
  readonly policies?: readonly PolicyRule[]
  readonly rejecting: Situation
  readonly passing: Situation & { readonly ad?: AdOverrides }
}

const CASES: readonly RuleCase[] = [
  {
    filter: 'format',
    ad: { sizes: [{ w: 160, h: 600 }] },
    rejecting: {},
    passing: {
      request: {
        imp: [
          imp({
            banner: {
              format: [
                { w: 160, h: 600 },
                { w: 300, h: 250 },
              ],
            },
          }),
        ],
      },
    },
  },
  { filter: 'floor', ad: { cpmMicros: 500_000 }, rejecting: { floor: 0.8 }, passing: { floor: 0.5 } },
  { filter: 'status', ad: { status: 'paused' }, rejecting: {}, passing: { ad: { status: 'active' } } },
  {
    filter: 'flight',
    ad: { flight: { startMs: NOW_MS - 30 * DAY_MS, endMs: NOW_MS - DAY_MS } },
    rejecting: {},
    passing: { nowMs: NOW_MS - 2 * DAY_MS },
  },
  {
    filter: 'daypart',
    ad: { targeting: { daypart: { days: [3], hours: [9, 10], utcOffsetMinutes: 'user' } } },
    rejecting: {},
    passing: { request: { device: { ...testRequest().device, geo: { country: 'USA', utcoffset: -360 } } } },
  },
  {
    filter: 'country',
    ad: { targeting: { countries: ['CAN'] } },
    rejecting: {},
    passing: { request: geo({ country: 'CAN' }) },
  },
  {
    filter: 'region',
    ad: { targeting: { regions: ['USA-CA'] } },
    rejecting: { request: geo({ country: 'USA', region: 'NY' }) },
    passing: { request: geo({ country: 'USA', region: 'CA' }) },
  },
  {
    filter: 'device_type',
    ad: { targeting: { deviceTypes: [4] } },
    rejecting: {},
    passing: { request: { device: { ...testRequest().device, devicetype: 4 } } },
  },
  {
    filter: 'os',
    ad: { targeting: { os: ['iOS'] } },
    rejecting: {},
    passing: { request: { device: { ...testRequest().device, os: 'ios' } } },
  },
  {
    filter: 'site_domain',
    ad: { targeting: { domains: ['sports.example'] } },
    rejecting: {},
    passing: { request: site({ domain: 'sports.example' }) },
  },
  {
    filter: 'blocked_domain',
    ad: { targeting: { blockedDomains: ['news.example'] } },
    rejecting: {},
    passing: { request: site({ domain: 'other.example' }) },
  },
  {
    filter: 'publisher',
    ad: { targeting: { publishers: ['pub-9'] } },
    rejecting: {},
    passing: { request: site({ publisher: { id: 'pub-9' } }) },
  },
  {
    filter: 'blocked_publisher',
    ad: { targeting: { blockedPublishers: ['pub-1'] } },
    rejecting: {},
    passing: { request: site({ publisher: { id: 'pub-2' } }) },
  },
  {
    filter: 'page_category',
    ad: { targeting: { pageCategories: ['IAB17'] } },
    rejecting: { signals: { pageCategories: ['IAB1'] } },
    passing: { signals: { pageCategories: ['IAB1', 'IAB17'] } },
  },
  {
    filter: 'user_category',
    ad: { targeting: { userCategories: ['IAB19'] } },
    rejecting: { signals: { userCategories: ['IAB1'] } },
    passing: { signals: { userCategories: ['IAB19', 'IAB1'] } },
  },
  {
    filter: 'relevance',
    ad: { category: 'IAB2' },
    rejecting: { signals: { pageCategories: ['IAB1'] } },
    passing: {},
  },
  {
    filter: 'brand_safety',
    ad: { targeting: { brandSafe: true } },
    rejecting: { signals: { brandUnsafe: true } },
    passing: { signals: { brandUnsafe: false } },
  },
  {
    filter: 'badv',
    ad: { advertiserDomain: 'bad.example' },
    rejecting: { signals: { badv: ['bad.example'] } },
    passing: {},
  },
  {
    filter: 'bcat',
    ad: { category: 'IAB25' },
    rejecting: { signals: { bcat: ['IAB25', 'IAB26'] } },
    passing: {},
  },
  {
    filter: 'battr',
    ad: { targeting: { attributes: [3] } },
    rejecting: { request: { imp: [imp({ banner: { format: [{ w: 300, h: 250 }], battr: [1, 3] } })] } },
    passing: {},
  },
  {
    filter: 'key_value',
    ad: { targeting: { keyValues: { section: ['sports'] } } },
    rejecting: { request: { imp: [imp({ ext: { section: 'news' } })] } },
    passing: { request: site({ ext: { section: ['finance', 'sports'] } }) },
  },
  {
    filter: 'advertiser_publisher',
    ad: { advertiserDomain: 'loud.example' },
    policies: [
      {
        kind: 'advertiser_publisher',
        id: 'ap-1',
        advertisers: ['loud.example'],
        publishers: ['pub-1', 'pub-3'],
      },
    ],
    rejecting: {},
    passing: { request: site({ publisher: { id: 'pub-2' } }) },
  },
  {
    filter: 'category_country',
    ad: { category: 'IAB7' },
    policies: [{ kind: 'category_country', id: 'cc-1', categories: ['IAB7'], countries: ['GBR', 'IRL'] }],
    rejecting: {},
    passing: { request: geo({ country: 'GBR' }) },
  },
  {
    filter: 'placement_attribute',
    ad: { targeting: { attributes: [6] } },
    policies: [
      { kind: 'placement_attribute', id: 'pa-1', attributes: [6], positions: [1], interstitial: true },
    ],
    rejecting: { request: { imp: [imp({ banner: { format: [{ w: 300, h: 250 }], pos: 1 } })] } },
    passing: { request: { imp: [imp({ banner: { format: [{ w: 300, h: 250 }], pos: 3 } })] } },
  },
  {
    filter: 'min_viewability',
    ad: { advertiserDomain: 'picky.example' },
    policies: [
      { kind: 'min_viewability', id: 'mv-1', advertisers: ['picky.example'], categories: [], minPercent: 60 },
    ],
    rejecting: { request: { imp: [imp({ ext: { viewability: 40 } })] } },
    passing: { request: { imp: [imp({ ext: { viewability: 75 } })] } },
  },
  {
    filter: 'publisher_category',
    ad: { category: 'IAB8' },
    policies: [{ kind: 'publisher_category', id: 'pc-1', publishers: ['pub-1'], categories: ['IAB8'] }],
    rejecting: {},
    passing: { request: site({ publisher: { id: 'pub-2' } }) },
  },
  {
    filter: 'domain_min_cpm',
    ad: { category: 'IAB9', cpmMicros: 1_500_000 },
    policies: [
      {
        kind: 'domain_min_cpm',
        id: 'dm-1',
        domains: ['news.example'],
        categories: ['IAB9'],
        minCpmMicros: 2_000_000,
      },
    ],
    rejecting: {},
    passing: { request: site({ domain: 'other.example' }) },
  },
]

function imp(overrides: Parameters<typeof testImp>[0]) {
  return testImp(overrides)
}

function geo(g: Record<string, unknown>): Partial<BidRequest> {
  return { device: { ...testRequest().device, geo: g } } as Partial<BidRequest>
}

function site(s: Record<string, unknown>): Partial<BidRequest> {
  return { site: { ...testRequest().site, ...s } } as Partial<BidRequest>
}

/** Open on every dimension, cheaper than the target, fits both sizes the cases use. */
const CONTROL = testAd('control', {
  advertiserDomain: 'ok.example',
  cpmMicros: 1_000_000,
  sizes: [
    { w: 300, h: 250 },
    { w: 160, h: 600 },
  ],
})

const ENGINES: readonly [string, FilterEngineOptions][] = [
  ['indexed, adaptive', {}],
  ['indexed, fixed reverse order', { order: [...AD_FILTER_NAMES].reverse() }],
  ['linear scan', { useIndex: false }],
]

function pick(catalog: HouseCatalog, s: Situation, engine: FilterEngine): string[] {
  const request = testRequest(s.request)
  const signals = testSignals(s.signals)
  return engine.select(catalog, request, signals, [s.floor ?? 0], s.nowMs ?? NOW_MS)[0]!.map((c) => c.ad.id)
}

describe('every ad filter rule kind rejects what it should, and only that', () => {
  it('has a case for every filter', () => {
    assert.deepEqual(CASES.map((c) => c.filter).sort(), [...AD_FILTER_NAMES].sort())
  })

  for (const c of CASES) {
    it(`${c.filter}: rejects the target, lets it through once the request allows it`, () => {
      const target = testAd('target', { cpmMicros: 2_000_000, ...c.ad })
      const catalog = HouseCatalog.build([target, CONTROL], 1, { policies: c.policies ?? [] })
      const passingAd =
        c.passing.ad === undefined
          ? target
          : testAd('target', { cpmMicros: 2_000_000, ...c.ad, ...c.passing.ad })
      const passingCatalog = HouseCatalog.build([passingAd, CONTROL], 2, { policies: c.policies ?? [] })
      // Best-paying first (ties by id).
      const both = passingAd.cpmMicros > CONTROL.cpmMicros ? ['target', 'control'] : ['control', 'target']
      for (const [name, options] of ENGINES) {
        const engine = new FilterEngine(options)
        assert.deepEqual(pick(catalog, c.rejecting, engine), ['control'], `${name}, rejecting`)
        assert.deepEqual(pick(passingCatalog, c.passing, engine), both, `${name}, passing`)
      }
      const why = explainAd(
        catalog,
        'target',
        testRequest(c.rejecting.request),
        testSignals(c.rejecting.signals),
        {
          nowMs: c.rejecting.nowMs ?? NOW_MS,
          floors: [c.rejecting.floor ?? 0],
        },
      )
      assert.equal(why.imps[0]!.rejectedBy, c.filter)
      assert.deepEqual(
        why.imps[0]!.failed.map((f) => f.filter),
        [c.filter],
      )
    })
  }

  it('policy rejections name the rule', () => {
    const c = CASES.find((x) => x.filter === 'advertiser_publisher')!
    const catalog = HouseCatalog.build([testAd('target', c.ad), CONTROL], 1, { policies: c.policies ?? [] })
    const why = explainAd(catalog, 'target', testRequest(), testSignals(), { nowMs: NOW_MS })
    assert.deepEqual(why.imps[0]!.failed, [{ filter: 'advertiser_publisher', detail: 'ap-1' }])
  })

  it('a daypart at a fixed offset reads the hour there, whatever the user timezone', () => {
    // 15:30 UTC is 10:30 at UTC-05:00: inside 9–11, on a Wednesday.
    const ad = testAd('target', {
      targeting: { daypart: { days: [3], hours: [9, 10, 11], utcOffsetMinutes: -300 } },
    })
    const catalog = HouseCatalog.build([ad], 1)
    const engine = new FilterEngine()
    assert.deepEqual(pick(catalog, {}, engine), ['target'])
    assert.deepEqual(pick(catalog, { nowMs: NOW_MS + 3 * 3_600_000 }, engine), [])
  })

  it('a video ad fills only an imp that offers video at its size', () => {
    const video = testAd('video', { mediaType: 'video', sizes: [{ w: 640, h: 480 }] })
    const catalog = HouseCatalog.build([video, CONTROL], 1)
    const engine = new FilterEngine()
    const videoImp = imp({
      banner: { format: [{ w: 300, h: 250 }] },
      video: { mimes: ['video/mp4'], w: 640, h: 480 },
    })
    assert.deepEqual(pick(catalog, { request: { imp: [videoImp] } }, engine), ['control', 'video'])
    assert.deepEqual(
      pick(catalog, { request: { imp: [imp({ banner: { format: [{ w: 640, h: 480 }] } })] } }, engine),
      [],
    )
    assert.match(catalog.index.creatives.find((x) => x?.ad.id === 'video')!.adm, /^<VAST version="4.0">/)
  })
})

describe('time- and imp-dependent terms', () => {
  it('flight: one engine follows the clock across a flight start and end, both ways', () => {
    const start = NOW_MS
    const catalog = HouseCatalog.build(
      [
        testAd('flighted', { cpmMicros: 2_000_000, flight: { startMs: start, endMs: start + 1000 } }),
        CONTROL,
      ],
      1,
    )
    const engine = new FilterEngine()
    const at = (nowMs: number) => pick(catalog, { nowMs }, engine)
    assert.deepEqual(at(start - 1), ['control'])
    assert.deepEqual(at(start), ['flighted', 'control'])
    assert.deepEqual(at(start + 999), ['flighted', 'control'])
    assert.deepEqual(at(start + 1000), ['control'])
    assert.deepEqual(at(start + 500), ['flighted', 'control'])
    assert.deepEqual(at(start - 10 * DAY_MS), ['control'])
  })

  it('daypart in the user timezone: each hour of the week read from the user offset', () => {
    // 15:30 UTC on a Wednesday: 10:30 at UTC-05:00, 16:30 at UTC+01:00.
    const catalog = HouseCatalog.build(
      [
        testAd('mornings', {
          cpmMicros: 2_000_000,
          targeting: { daypart: { days: [], hours: [9, 10, 11], utcOffsetMinutes: 'user' } },
        }),
        CONTROL,
      ],
      1,
    )
    const engine = new FilterEngine()
    const withOffset = (utcoffset: number) =>
      pick(catalog, { request: { device: { geo: { country: 'USA', utcoffset } } } }, engine)
    assert.deepEqual(withOffset(-300), ['mornings', 'control'])
    assert.deepEqual(withOffset(60), ['control'])
    assert.deepEqual(withOffset(-300), ['mornings', 'control'])
  })

  it('min_viewability: a term over levels, or a check per candidate past MAX_VIEWABILITY_LEVELS; both agree', () => {
    const MIN_VIEWABILITY = AD_FILTER_NAMES.indexOf('min_viewability')
    for (const levels of [5, 70]) {
      const ads = Array.from({ length: levels }, (_, i) =>
        testAd(`ad${i}`, { cpmMicros: 1_000_000 + i * 1000, advertiserDomain: `a${i}.example` }),
      )
      const policies: PolicyRule[] = ads.map((ad, i) => ({
        kind: 'min_viewability',
        id: `mv${i}`,
        advertisers: [ad.advertiserDomain],
        categories: [],
        minPercent: 20 + (i * 70) / levels,
      }))
      const catalog = HouseCatalog.build(ads, 1, { policies })
      const indexed = new FilterEngine()
      const linear = new FilterEngine({ useIndex: false })
      for (const viewability of [0, 25, 50, 60, 89.5, 95]) {
        const s: Situation = { request: { imp: [imp({ ext: { viewability } })] } }
        assert.deepEqual(
          pick(catalog, s, indexed),
          pick(catalog, s, linear),
          `${levels} levels, ${viewability}`,
        )
      }
      assert.equal(indexed.filters[MIN_VIEWABILITY]!.form, levels > 64 ? 'predicate' : 'term')
    }
  })
})
