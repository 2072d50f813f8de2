import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { AdRecord, AdSize } from '../../catalog/ad.js'
import { HouseCatalog } from '../../catalog/house-catalog.js'
import type { PolicyRule } from '../../catalog/policy-rule.js'
import type { BidRequest, Imp } from '../../openrtb/types.js'
import type { RequestSignals } from '../../pipeline/auction-context.js'
import { FilterEngine } from './filter-engine.js'
import { seededRandom, testAd } from './filter-fixtures.js'
import { AD_FILTER_NAMES } from './filter-names.js'

/*
 * Property: on random catalogs and requests, the bitset index (in any filter order) and a plain scan
 * with every filter as a per-ad check keep exactly the same creatives. Values come from small
 * vocabularies so that targeting, blocks and policies collide often.
 */

const NOW_MS = Date.UTC(2026, 5, 17, 15, 30)
const SIZES: readonly AdSize[] = [
  { w: 300, h: 250 },
  { w: 728, h: 90 },
  { w: 320, h: 50 },
  { w: 160, h: 600 },
]
const COUNTRIES = ['USA', 'CAN', 'GBR', 'DEU']
const CATS = ['IAB1', 'IAB2', 'IAB3', 'IAB7', 'IAB9']
const DOMAINS = ['a.example', 'b.example', 'c.example', 'd.example']
const PUBS = ['pub-1', 'pub-2', 'pub-3']
const ADVERTISERS = ['x.example', 'y.example', 'z.example', 'w.example']

/** Offsets of the clock from NOW_MS: around the random flights' ends and the dayparts' hours. */
const CLOCK_STEPS = [-90_000, -1001, -1000, -1, 0, 999, 1000, 60_000, 3_600_000, 7_200_000, -3_600_000]

type Random = () => number

function int(r: Random, n: number): number {
  return Math.floor(r() * n)
}
function pick<T>(r: Random, list: readonly T[]): T {
  return list[int(r, list.length)]!
}
function some<T>(r: Random, list: readonly T[], p: number): T[] {
  return r() < p ? list.filter(() => r() < 0.4) : []
}

function randomAd(r: Random, i: number): AdRecord {
  return testAd(`ad${i}`, {
    category: pick(r, CATS),
    advertiserDomain: pick(r, ADVERTISERS),
    cpmMicros: (1 + int(r, 8)) * 250_000,
    sizes: SIZES.filter(() => r() < 0.45)
      .concat(r() < 0.2 ? [] : [pick(r, SIZES)])
      .filter((s, k, all) => all.indexOf(s) === k),
    ...(r() < 0.1 ? { mediaType: 'video' as const, sizes: [{ w: 640, h: 480 }] } : {}),
    ...(r() < 0.08 ? { status: 'paused' as const } : {}),
    ...(r() < 0.15
      ? { flight: r() < 0.5 ? { endMs: NOW_MS - 1 } : { startMs: NOW_MS - 1000, endMs: NOW_MS + 1000 } }
      : {}),
    targeting: {
      countries: some(r, COUNTRIES, 0.4),
      regions: r() < 0.1 ? ['USA-CA'] : [],
      deviceTypes: some(r, [1, 2, 4, 5], 0.3),
      os: some(r, ['ios', 'android', 'windows'], 0.2),
      categories: some(r, CATS, 0.2),
      pageCategories: some(r, CATS, 0.15),
      userCategories: some(r, CATS, 0.15),
      domains: some(r, DOMAINS, 0.1),
      blockedDomains: some(r, DOMAINS, 0.3),
      publishers: some(r, PUBS, 0.1),
      blockedPublishers: some(r, PUBS, 0.2),
      brandSafe: r() < 0.3,
      attributes: some(r, [1, 3, 6, 9], 0.3),
      ...(r() < 0.15
        ? { daypart: { days: [], hours: [14, 15, 16], utcOffsetMinutes: r() < 0.5 ? ('user' as const) : 0 } }
        : {}),
      ...(r() < 0.15 ? { keyValues: { section: some(r, ['news', 'sports', 'tech'], 1) } } : {}),
    },
  })
}

function randomPolicies(r: Random): PolicyRule[] {
  return [
    {
      kind: 'advertiser_publisher',
      id: 'ap',
      advertisers: [pick(r, ADVERTISERS)],
      publishers: [pick(r, PUBS)],
    },
    { kind: 'category_country', id: 'cc', categories: [pick(r, CATS)], countries: [pick(r, COUNTRIES)] },
    {
      kind: 'placement_attribute',
      id: 'pa',
      attributes: [pick(r, [1, 3, 6, 9])],
      positions: [1],
      interstitial: true,
    },
    {
      kind: 'min_viewability',
      id: 'mv',
      advertisers: [pick(r, ADVERTISERS)],
      categories: [],
      minPercent: 50,
    },
    { kind: 'min_viewability', id: 'mv2', advertisers: [], categories: [pick(r, CATS)], minPercent: 70 },
    { kind: 'publisher_category', id: 'pc', publishers: [pick(r, PUBS)], categories: [pick(r, CATS)] },
    {
      kind: 'domain_min_cpm',
      id: 'dm',
      domains: [pick(r, DOMAINS)],
      categories: [],
      minCpmMicros: 1_000_000,
    },
  ]
}

function randomImp(r: Random, k: number): Imp {
  const formats = SIZES.filter(() => r() < 0.35)
  const ext: Record<string, unknown> = {}
  if (r() < 0.5) ext['viewability'] = int(r, 100)
  if (r() < 0.3) ext['section'] = pick(r, ['news', 'sports', 'tech'])
  return {
    id: String(k + 1),
    banner: {
      format: formats.length > 0 ? formats : [pick(r, SIZES)],
      pos: pick(r, [0, 1, 3]),
      battr: some(r, [1, 3, 6, 9], 0.3),
    },
    ...(r() < 0.2 ? { video: { mimes: ['video/mp4'], w: 640, h: 480 } } : {}),
    ...(r() < 0.1 ? { instl: 1 } : {}),
    ext,
  } as Imp
}

function randomAuction(r: Random): { request: BidRequest; signals: RequestSignals; floors: number[] } {
  const imps = Array.from({ length: 1 + int(r, 3) }, (_, k) => randomImp(r, k))
  const request = {
    id: 'r',
    imp: imps,
    site: {
      domain: pick(r, DOMAINS),
      publisher: { id: pick(r, PUBS) },
      ...(r() < 0.2 ? { ext: { section: 'news' } } : {}),
    },
    device: {
      devicetype: pick(r, [1, 2, 4, 5]),
      os: pick(r, ['iOS', 'Android', 'Windows']),
      geo: {
        ...(r() < 0.9 ? { country: pick(r, COUNTRIES) } : {}),
        region: pick(r, ['CA', 'NY']),
        utcoffset: pick(r, [0, -300]),
      },
    },
  } as BidRequest
  const signals: RequestSignals = {
    userCategories: some(r, CATS, 0.4),
    pageCategories: some(r, CATS, 0.5),
    brandUnsafe: r() < 0.2,
    publisherFloorCpm: 0,
    bcat: some(r, CATS, 0.3),
    badv: some(r, ADVERTISERS, 0.3),
    degraded: false,
  }
  return { request, signals, floors: imps.map(() => (r() < 0.5 ? 0 : int(r, 8) * 0.25)) }
}

describe('bitset index and linear scan agree', () => {
  it('on 60 random catalogs × 40 random auctions, in three filter orders', () => {
    let kept = 0
    for (let seed = 1; seed <= 60; seed++) {
      const r = seededRandom(seed)
      const ads = Array.from({ length: 40 + int(r, 300) }, (_, i) => randomAd(r, i))
      const catalog = HouseCatalog.build(ads, seed, { policies: randomPolicies(r) })
      const engines = [
        new FilterEngine({ sampleEvery: 1, countEvery: 2, seed }),
        new FilterEngine({ order: [...AD_FILTER_NAMES].reverse() }),
        new FilterEngine({ useIndex: false, sampleEvery: 2 }),
      ]
      for (let a = 0; a < 40; a++) {
        const { request, signals, floors } = randomAuction(r)
        // The clock moves back and forth across flight starts and ends and daypart hours: the
        // index's time-dependent bitsets must follow it.
        const nowMs = NOW_MS + pick(r, CLOCK_STEPS)
        const picks = engines.map((e) =>
          e
            .select(catalog, request, signals, floors, nowMs)
            .map((list) => list.map((c) => `${c.ad.id}@${c.w}x${c.h}`).join(','))
            .join(' | '),
        )
        assert.equal(picks[1], picks[0], `seed ${seed}, auction ${a}: fixed order vs adaptive`)
        assert.equal(picks[2], picks[0], `seed ${seed}, auction ${a}: linear scan vs index`)
        kept += picks[0]!.split(/[,|]/).filter((x) => x.trim() !== '').length
      }
    }
    assert.ok(kept > 500, `the random traffic should keep creatives (kept ${kept})`)
  })

  it('a multi-size ad competes once, at the imp format listed first', () => {
    const ad = testAd('multi', {
      sizes: [
        { w: 728, h: 90 },
        { w: 300, h: 250 },
      ],
    })
    const catalog = HouseCatalog.build([ad], 1)
    const request = {
      id: 'r',
      imp: [
        {
          id: '1',
          banner: {
            format: [
              { w: 300, h: 250 },
              { w: 728, h: 90 },
            ],
          },
        },
      ],
      site: { domain: 'a.example' },
    } as BidRequest
    const signals = randomAuction(seededRandom(1)).signals
    for (const engine of [new FilterEngine(), new FilterEngine({ useIndex: false })]) {
      const open = {
        ...signals,
        userCategories: [],
        pageCategories: [],
        bcat: [],
        badv: [],
        brandUnsafe: false,
      }
      const [picks] = engine.select(catalog, request, open, [0], NOW_MS)
      assert.deepEqual(
        picks!.map((c) => `${c.ad.id}@${c.w}x${c.h}`),
        ['multi@300x250'],
      )
    }
  })
})
