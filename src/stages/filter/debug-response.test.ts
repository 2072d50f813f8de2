import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { parseSeed } from '../../catalog/seed.js'
import { bannerRequest, startTestExchange, type TestExchange } from '../../testing/test-exchange.js'

const houseAd = (id: string, price: string, extra: Record<string, unknown> = {}) => ({
  id,
  title: `House ${id}`,
  category: 'IAB1',
  clickURL: `https://adv.example/${id}`,
  imageURL: `https://cdn.adv.example/${id}.png`,
  price,
  sizes: ['300x250'],
  adomain: 'adv.example',
  ...extra,
})

interface Explained {
  catalogVersion: number
  catalogAds: number
  requestRejectedBy: string | null
  order: string[]
  imps: { impId: string; candidates: { adId: string; rejectedBy: string | null; isSelected: boolean }[] }[]
  impsNotExplained: number
}

/** A real exchange (no DSPs): debug auctions carry the filter stage's explanation in the response. */
describe('debug auctions: ext.explain in the response', () => {
  let ex: TestExchange
  before(async () => {
    const seed = parseSeed(
      {
        ads: [
          houseAd('canada-only', '9.00', { targeting: { countries: ['CAN'] } }),
          houseAd('gambling', '8.00', { category: 'IAB7' }),
          houseAd('wide', '7.00', { sizes: ['728x90'] }),
          houseAd('plain', '2.00'),
        ],
      },
      'test',
    )
    ex = await startTestExchange({}, { seed })
  })
  after(() => ex.close())

  const usa = { ua: 'Mozilla/5.0', ip: '203.0.113.9', geo: { country: 'USA' } }

  it('test: 1 on an auction that bids: the BidResponse ext lists each candidate and its first rejecting filter', async () => {
    const res = await ex.auction(bannerRequest({ test: 1, device: usa, bcat: ['IAB7'] }))
    assert.equal(res.status, 200)
    const body = res.json as { seatbid: { bid: { adid?: string }[] }[]; ext: { explain: Explained } }
    assert.equal(body.seatbid.length, 1)
    const explain = body.ext.explain
    assert.equal(explain.requestRejectedBy, null)
    assert.equal(explain.catalogAds, 4)
    assert.ok(explain.order.includes('country'))
    assert.deepEqual(
      explain.imps[0]!.candidates.map((c) => [c.adId, c.rejectedBy, c.isSelected]),
      [
        ['canada-only', 'country', false],
        ['gambling', 'bcat', false],
        ['plain', null, true],
      ],
    )
    assert.equal(explain.impsNotExplained, 0)
  })

  it('ext.debug on an auction without a bid: 200 with an empty seatbid, nbr and the explanation', async () => {
    const request = bannerRequest({
      ext: { debug: 1 },
      device: usa,
      imp: [{ id: '1', banner: { w: 300, h: 250 }, bidfloor: 50 }],
    })
    const res = await ex.auction(request)
    assert.equal(res.status, 200)
    const body = res.json as { id: string; seatbid: unknown[]; nbr: number; ext: { explain: Explained } }
    assert.equal(body.id, 'req-1')
    assert.deepEqual(body.seatbid, [])
    assert.equal(typeof body.nbr, 'number')
    assert.equal(body.ext.explain.imps[0]!.candidates[0]!.rejectedBy, 'floor')
  })

  it('a request filter that ends a debug auction is named, with its no-bid reason', async () => {
    const res = await ex.auction(bannerRequest({ test: 1, device: { ...usa, ua: 'Googlebot/2.1' } }))
    assert.equal(res.status, 200)
    const body = res.json as { nbr: number; ext: { explain: Explained } }
    assert.equal(body.ext.explain.requestRejectedBy, 'request_crawler')
    assert.equal(body.nbr, 3, 'known web crawler')
  })

  it('ordinary requests: no ext on a bid, a bodiless 204 on a no-bid', async () => {
    const bid = await ex.auction(bannerRequest({ device: usa }))
    assert.equal(bid.status, 200)
    assert.equal((bid.json as { ext?: unknown }).ext, undefined)
    const noBid = await ex.auction(
      bannerRequest({ device: usa, imp: [{ id: '1', banner: { w: 300, h: 250 }, bidfloor: 50 }] }),
    )
    assert.equal(noBid.status, 204)
    assert.equal(noBid.text, '')
  })

  it('filter rejections and the filter stage time are exported in /metrics', async () => {
    // Rejections are counted on one auction in 256 (scaled up): run enough to hit one.
    for (let i = 0; i < 300; i++)
      await ex.auction(bannerRequest({ id: `m${i}`, device: usa, bcat: ['IAB7'] }))
    await ex.auction(bannerRequest({ device: { ...usa, ua: 'Googlebot/2.1' } }))
    const text = await (await fetch(`${ex.url}/metrics`)).text()
    assert.match(text, /rtb_filter_rejections_total\{filter="country"\} [1-9]/)
    assert.match(text, /rtb_filter_rejections_total\{filter="bcat"\} [1-9]/)
    assert.match(text, /rtb_filter_rejections_total\{filter="request_crawler"\} [1-9]/)
    assert.match(text, /rtb_filter_rejections_total\{filter="daypart"\} 0/)
    assert.match(text, /rtb_stage_duration_seconds_count\{stage="filter"\} [1-9]/)
  })
})
