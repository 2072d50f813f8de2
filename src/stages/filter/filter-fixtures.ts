/**
 * Builders for the filter tests: ads, requests and decorations with everything open unless said.
 * Test-only; nothing on the request path imports this file.
 */
import type { AdRecord, AdTargeting } from '../../catalog/ad.js'
import { EMPTY_TARGETING } from '../../catalog/ad.js'
import type { BidRequest, Imp } from '../../openrtb/types.js'
import type { AuctionContext, RequestSignals } from '../../pipeline/auction-context.js'

export type AdOverrides = Partial<Omit<AdRecord, 'targeting'>> & { targeting?: Partial<AdTargeting> }

export function testAd(id: string, overrides: AdOverrides = {}): AdRecord {
  const { targeting, ...rest } = overrides
  return {
    id,
    title: `Ad ${id}`,
    category: 'IAB1',
    clickUrl: `https://adv.example/click/${id}`,
    imageUrl: `https://adv.example/img/${id}.png`,
    cpmMicros: 1_000_000,
    sizes: [{ w: 300, h: 250 }],
    advertiserDomain: 'adv.example',
    campaignId: null,
    targeting: { ...EMPTY_TARGETING, ...targeting },
    ...rest,
  }
}

export function testImp(overrides: Partial<Imp> = {}): Imp {
  return { id: '1', banner: { format: [{ w: 300, h: 250 }] }, ...overrides } as Imp
}

export function testRequest(overrides: Partial<BidRequest> = {}): BidRequest {
  return {
    id: 'r1',
    imp: [testImp()],
    site: { domain: 'news.example', page: 'https://news.example/a', publisher: { id: 'pub-1' } },
    device: { ua: 'Mozilla/5.0', ip: '203.0.113.9', devicetype: 2, os: 'Windows', geo: { country: 'USA' } },
    ...overrides,
  } as BidRequest
}

export function testSignals(overrides: Partial<RequestSignals> = {}): RequestSignals {
  return {
    userCategories: [],
    pageCategories: [],
    brandUnsafe: false,
    publisherFloorCpm: 0,
    bcat: [],
    badv: [],
    degraded: false,
    ...overrides,
  }
}

/** The parts of an AuctionContext the filter stage reads and writes. */
export function testContext(
  request: BidRequest,
  signals: RequestSignals = testSignals(),
  floors: number[] = request.imp.map((imp) => imp.bidfloor ?? 0),
): AuctionContext {
  return { request, signals, floors, houseAds: [] } as unknown as AuctionContext
}

/** A deterministic generator for property tests (mulberry32). */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}
