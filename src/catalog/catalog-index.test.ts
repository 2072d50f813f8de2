import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { testAd } from '../stages/filter/filter-fixtures.js'
import { hasBit, popcount32 } from './bitset.js'
import { formatKey, RESTRICTION } from './catalog-index.js'
import { HouseCatalog } from './house-catalog.js'

const ads = [
  testAd('b', {
    cpmMicros: 2_000_000,
    sizes: [
      { w: 300, h: 250 },
      { w: 728, h: 90 },
    ],
    targeting: { countries: ['USA'] },
  }),
  testAd('a', { cpmMicros: 2_000_000, targeting: { countries: ['CAN', 'USA'] } }),
  testAd('c', { cpmMicros: 3_000_000, sizes: [{ w: 728, h: 90 }] }),
  testAd('v', { cpmMicros: 1_000_000, mediaType: 'video', sizes: [{ w: 640, h: 480 }] }),
]

function idsOf(catalog: HouseCatalog, media: number, w: number, h: number): string[] {
  const range = catalog.index.formats.get(formatKey(media, w, h))!
  return catalog.index.creatives.slice(range.start, range.end).map((c) => c!.ad.id)
}

describe('catalog index', () => {
  const catalog = HouseCatalog.build(ads, 1)
  const ix = catalog.index

  it('numbers creatives by format, each run best-paying first (ties by id)', () => {
    assert.equal(ix.creativeCount, 5)
    assert.deepEqual(idsOf(catalog, 0, 300, 250), ['a', 'b'])
    assert.deepEqual(idsOf(catalog, 0, 728, 90), ['c', 'b'])
    assert.deepEqual(idsOf(catalog, 1, 640, 480), ['v'])
    assert.deepEqual(
      catalog.creativesOfSize(728, 90).map((c) => c.ad.id),
      ['c', 'b'],
    )
    assert.deepEqual(
      Array.from(ix.byRank, (o) => ix.creatives[o]!.ad.id),
      ['c', 'a', 'b', 'b', 'v'],
    )
  })

  it('postings hold every creative of the ad, open ads folded into each value', () => {
    const usa = ix.country.postings.get('USA')!
    const can = ix.country.postings.get('CAN')!
    const ids = (words: Uint32Array) =>
      ix.creatives.filter((_, o) => hasBit(words, o)).map((c) => `${c!.ad.id}@${c!.w}`)
    assert.deepEqual(ids(usa).sort(), ['a@300', 'b@300', 'b@728', 'c@728', 'v@640'])
    assert.deepEqual(ids(can).sort(), ['a@300', 'c@728', 'v@640'])
    assert.deepEqual(ids(ix.country.any).sort(), ['c@728', 'v@640'])
  })

  it('one ad per id: the last one listed wins', () => {
    const dup = HouseCatalog.build(
      [testAd('x', { cpmMicros: 1_000_000 }), testAd('x', { cpmMicros: 5_000_000 })],
      1,
    )
    assert.equal(dup.size, 1)
    assert.equal(dup.index.creatives[0]!.priceCpm, 5)
  })

  it('a build in slices gives the same index as a build at once, and yields between slices', async () => {
    const many = Array.from({ length: 3000 }, (_, i) =>
      testAd(`ad${i}`, {
        cpmMicros: 1000 + (i % 97) * 1000,
        targeting: { blockedDomains: [`d${i % 50}.example`] },
      }),
    )
    const atOnce = HouseCatalog.build(many, 1)
    let turns = 0
    const ticking = setInterval(() => turns++, 0)
    const sliced = await HouseCatalog.buildInSlices(many, 1, { sliceMs: 1 })
    clearInterval(ticking)
    assert.ok(turns > 0, 'the event loop ran during the build')
    assert.deepEqual(
      Array.from(sliced.index.byRank, (o) => sliced.index.creatives[o]!.ad.id),
      Array.from(atOnce.index.byRank, (o) => atOnce.index.creatives[o]!.ad.id),
    )
    assert.deepEqual(sliced.index.blockedDomainLists, atOnce.index.blockedDomainLists)
    assert.deepEqual(sliced.index.country.any, atOnce.index.country.any)
  })

  it("adOrdStart lists each ad's creatives in byRank", () => {
    const ofAd = (a: number) =>
      Array.from(ix.byRank.subarray(ix.adOrdStart[a]!, ix.adOrdStart[a + 1]!), (o) => ix.creatives[o]!.w)
    assert.deepEqual(
      ix.ads.map((ad, a) => `${ad.record.id}:${ofAd(a).join(',')}`),
      ['c:728', 'a:300', 'b:728,300', 'v:640'],
    )
  })

  it('marks the restrictions each ad carries, and the creatives of inactive ads', () => {
    const built = HouseCatalog.build(
      [
        testAd('open'),
        testAd('picky', {
          status: 'paused',
          targeting: {
            regions: ['USA-CA'],
            blockedPublishers: ['p'],
            keyValues: { s: ['x'] },
            attributes: [3],
          },
        }),
      ],
      1,
    ).index
    const byId = (id: string) => built.adRestrictions[built.ads.findIndex((a) => a.record.id === id)]
    assert.equal(byId('open'), 0)
    assert.equal(
      byId('picky'),
      RESTRICTION.region | RESTRICTION.blockedPublishers | RESTRICTION.keyValues | RESTRICTION.attributes,
    )
    const inactive = built.creatives.filter((_, o) => hasBit(built.inactive!, o)).map((c) => c!.ad.id)
    assert.deepEqual(inactive, ['picky'])
    assert.equal(ix.inactive, null, 'none when every ad is active')
  })

  it('policy keys that deny the same ads share one bitset; min_viewability limits become levels', () => {
    const built = HouseCatalog.build(
      [
        testAd('cheap', { cpmMicros: 500_000, advertiserDomain: 'a.example' }),
        testAd('dear', { cpmMicros: 5_000_000, advertiserDomain: 'b.example' }),
      ],
      1,
      {
        policies: [
          {
            kind: 'domain_min_cpm',
            id: 'd1',
            domains: ['x.example', 'y.example'],
            categories: [],
            minCpmMicros: 1_000_000,
          },
          { kind: 'min_viewability', id: 'v1', advertisers: ['a.example'], categories: [], minPercent: 40 },
          { kind: 'min_viewability', id: 'v2', advertisers: ['b.example'], categories: [], minPercent: 70 },
        ],
      },
    ).index
    const deny = built.policies.domainMinCpm.deny
    assert.equal(deny.get('x.example'), deny.get('y.example'))
    const mv = built.policies.minViewability
    assert.deepEqual(Array.from(mv.levels), [40, 70])
    const ids = (words: Uint32Array) =>
      built.creatives.filter((_, o) => hasBit(words, o)).map((c) => c!.ad.id)
    assert.deepEqual(ids(mv.atLeast[0]!).sort(), ['cheap', 'dear'])
    assert.deepEqual(ids(mv.atLeast[1]!), ['dear'])
  })

  it('popcount counts set bits of any 32-bit word', () => {
    for (const [x, n] of [
      [0, 0],
      [1, 1],
      [-1, 32],
      [0x80000000, 1],
      [0x55555555, 16],
      [0xf0f0, 8],
    ] as const) {
      assert.equal(popcount32(x), n)
    }
  })
})
