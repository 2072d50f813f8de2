import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { BidRequest } from '../../openrtb/types.js'
import { compileTargeting, MEDIA_BANNER, MEDIA_VIDEO, RequestProfile, staticSkip } from './request-profile.js'

const DSP = { id: 'd', endpoint: 'http://x/bid', timeoutMs: 80, maxQps: 0, connections: 4, seat: 'd' }
const BASE = { ...DSP, gzipRequest: false, maxResponseBytes: 1024 }

function request(extra: Record<string, unknown> = {}): BidRequest {
  return {
    id: 'r',
    imp: [
      { id: '1', banner: { format: [{ w: 300, h: 250 }] } },
      { id: '2', video: { w: 640, h: 480 } },
    ],
    device: { geo: { country: 'USA' }, devicetype: 4 },
    site: { domain: 'a.example' },
    ...extra,
  } as BidRequest
}

describe('RequestProfile and static eligibility', () => {
  it('reads media types, sizes, country and deals once', () => {
    const p = new RequestProfile().read(request())
    assert.equal(p.mediaMask, MEDIA_BANNER | MEDIA_VIDEO)
    assert.equal(p.sizes.length, 2)
    assert.equal(p.country, 'USA')
    assert.equal(p.hasDeals, false)
    const again = new RequestProfile().read(request({ app: { bundle: 'b' }, site: undefined }))
    assert.notEqual(again.segment, p.segment, 'app and site traffic are different segments')
  })

  it('a DSP with no targeting takes everything', () => {
    assert.equal(staticSkip(compileTargeting(BASE), new RequestProfile().read(request())), null)
  })

  it('skips by media type, format, country and deals, in that order', () => {
    const p = new RequestProfile().read(request())
    assert.equal(staticSkip(compileTargeting({ ...BASE, mediaTypes: ['native'] }), p), 'media_type')
    assert.equal(staticSkip(compileTargeting({ ...BASE, mediaTypes: ['video'] }), p), null)
    assert.equal(staticSkip(compileTargeting({ ...BASE, formats: ['728x90'] }), p), 'format')
    assert.equal(staticSkip(compileTargeting({ ...BASE, formats: ['640x480'] }), p), null)
    assert.equal(staticSkip(compileTargeting({ ...BASE, countries: ['DEU'] }), p), 'country')
    assert.equal(staticSkip(compileTargeting({ ...BASE, countries: ['DEU', 'USA'] }), p), null)
    assert.equal(staticSkip(compileTargeting({ ...BASE, dealsOnly: true }), p), 'deals_only')
    const withDeal = new RequestProfile().read(
      request({ imp: [{ id: '1', banner: { w: 300, h: 250 }, pmp: { deals: [{ id: 'd1' }] } }] }),
    )
    assert.equal(staticSkip(compileTargeting({ ...BASE, dealsOnly: true }), withDeal), null)
  })

  it('a country-targeted DSP is not called when the country is unknown', () => {
    const p = new RequestProfile().read(request({ device: {} }))
    assert.equal(staticSkip(compileTargeting({ ...BASE, countries: ['USA'] }), p), 'country')
  })
})
