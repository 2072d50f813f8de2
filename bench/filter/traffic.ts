/**
 * A generated house-ad catalog, policy rule set and request mix with the shapes a mid-size
 * exchange sees: Zipf-distributed advertisers, domains, publishers and countries; most ads
 * targeting a few dimensions; block lists on both sides; policy rules as data.
 * Deterministic for a seed, so runs compare.
 */
import type { AdRecord, AdSize, AdTargeting } from '../../src/catalog/ad.js'
import type { PolicyRule } from '../../src/catalog/policy-rule.js'
import type { BidRequest, Imp } from '../../src/openrtb/types.js'
import type { RequestSignals } from '../../src/pipeline/auction-context.js'
import type { Prng } from './prng.js'

export interface GeneratedCatalog {
  readonly ads: AdRecord[]
  readonly policies: PolicyRule[]
}

/** One auction as the filter stage sees it: the request and what decorate added. */
export interface TrafficSample {
  readonly request: BidRequest
  readonly signals: RequestSignals
  readonly floors: number[]
}

const BANNER_SIZES: readonly (readonly [AdSize, number])[] = [
  [{ w: 300, h: 250 }, 34],
  [{ w: 728, h: 90 }, 14],
  [{ w: 320, h: 50 }, 14],
  [{ w: 300, h: 600 }, 8],
  [{ w: 160, h: 600 }, 6],
  [{ w: 970, h: 250 }, 4],
  [{ w: 336, h: 280 }, 4],
  [{ w: 320, h: 100 }, 4],
  [{ w: 468, h: 60 }, 3],
  [{ w: 970, h: 90 }, 3],
  [{ w: 300, h: 50 }, 3],
  [{ w: 250, h: 250 }, 3],
]
const VIDEO_SIZES: readonly AdSize[] = [
  { w: 640, h: 480 },
  { w: 1280, h: 720 },
]
const COUNTRIES = [
  'USA',
  'GBR',
  'DEU',
  'FRA',
  'CAN',
  'JPN',
  'BRA',
  'IND',
  'AUS',
  'ESP',
  'ITA',
  'MEX',
  'NLD',
  'SWE',
]
  .concat(['POL', 'KOR', 'TUR', 'ARG', 'BEL', 'CHE', 'AUT', 'NOR', 'DNK', 'FIN', 'IRL', 'PRT', 'ZAF', 'NZL'])
  .concat(['SGP', 'IDN', 'PHL', 'THA', 'VNM', 'EGY', 'NGA', 'CHL', 'COL', 'PER', 'ROU', 'CZE'])
const REGIONS: Readonly<Record<string, readonly string[]>> = {
  USA: ['CA', 'NY', 'TX', 'FL', 'IL', 'WA', 'PA', 'OH', 'GA', 'MA'],
  CAN: ['ON', 'QC', 'BC', 'AB'],
  DEU: ['BY', 'BE', 'NW', 'HE'],
  GBR: ['ENG', 'SCT', 'WLS', 'NIR'],
}
const CATEGORIES = Array.from({ length: 26 }, (_, i) => `IAB${i + 1}`)
const OS_BY_DEVICE: Readonly<Record<number, readonly string[]>> = {
  2: ['Windows', 'macOS', 'Linux'],
  4: ['iOS', 'Android'],
  5: ['iOS', 'Android'],
  3: ['tvOS', 'Android'],
  7: ['Roku', 'tvOS'],
}
const ATTRIBUTES = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17]
const KV_KEYS: Readonly<Record<string, readonly string[]>> = {
  section: ['news', 'sports', 'finance', 'tech', 'lifestyle', 'travel', 'autos'],
  tier: ['gold', 'silver', 'bronze'],
  lang: ['en', 'de', 'fr', 'es', 'ja'],
}

/** The names both sides draw from. */
export interface World {
  readonly advertisers: readonly string[]
  readonly domains: readonly string[]
  readonly bundles: readonly string[]
  readonly publishers: readonly string[]
}

export function createWorld(prng: Prng): World {
  const word = () => Math.floor(prng.next() * 36 ** 6).toString(36)
  return {
    advertisers: Array.from({ length: 800 }, (_, i) => `adv${i}-${word()}.example`),
    domains: Array.from({ length: 2000 }, (_, i) => `site${i}-${word()}.example`),
    bundles: Array.from({ length: 300 }, (_, i) => `com.example.app${i}`),
    publishers: Array.from({ length: 300 }, (_, i) => `pub-${i}`),
  }
}

export function generateCatalog(prng: Prng, world: World, adCount: number, nowMs: number): GeneratedCatalog {
  const ads: AdRecord[] = []
  for (let i = 0; i < adCount; i++) ads.push(generateAd(prng, world, i, nowMs))
  return { ads, policies: generatePolicies(prng, world) }
}

function generateAd(prng: Prng, world: World, i: number, nowMs: number): AdRecord {
  const isVideo = prng.chance(0.05)
  const sizeCount = isVideo
    ? 1
    : prng.weighted([
        [1, 55],
        [2, 30],
        [3, 15],
      ] as const)
  const sizes = isVideo ? [prng.pick(VIDEO_SIZES)] : distinctSizes(prng, sizeCount)
  const advertiserDomain = prng.zipf(world.advertisers, 0.9)
  const category = prng.zipf(CATEGORIES, 0.8)
  const cpmMicros = Math.round(Math.min(20, Math.max(0.05, prng.logNormal(1.4, 0.7))) * 100) * 10_000
  const ad: AdRecord = {
    id: `ad-${i}`,
    title: `Generated ad ${i}`,
    category,
    clickUrl: `https://${advertiserDomain}/click?ad=${i}`,
    imageUrl: `https://cdn.${advertiserDomain}/creative-${i}.${isVideo ? 'xml' : 'png'}`,
    cpmMicros,
    sizes,
    advertiserDomain,
    campaignId: `c-${i % 1500}`,
    targeting: generateTargeting(prng, world),
    ...(isVideo ? { mediaType: 'video' as const } : {}),
    ...(prng.chance(0.03) ? { status: 'paused' as const } : {}),
    ...(prng.chance(0.2) ? { flight: generateFlight(prng, nowMs) } : {}),
  }
  return ad
}

function distinctSizes(prng: Prng, count: number): AdSize[] {
  const out: AdSize[] = []
  while (out.length < count) {
    const s = prng.weighted(BANNER_SIZES)
    if (!out.includes(s)) out.push(s)
  }
  return out
}

const DAY_MS = 86_400_000

function generateFlight(prng: Prng, nowMs: number): { startMs: number; endMs: number } {
  const isLive = prng.chance(0.8)
  const startMs = nowMs + (isLive ? -prng.between(1, 60) : prng.pick([-90, 10])) * DAY_MS
  return { startMs, endMs: startMs + prng.between(isLive ? 65 : 5, isLive ? 120 : 30) * DAY_MS }
}

function generateTargeting(prng: Prng, world: World): AdTargeting {
  const countries = prng.chance(0.65) ? prng.some(COUNTRIES, prng.between(1, 5), 1.1) : []
  const regionCountry = countries.find((c) => REGIONS[c] !== undefined)
  const t: AdTargeting = {
    countries,
    deviceTypes: prng.chance(0.5) ? prng.some([2, 4, 5, 3, 7, 1, 6], prng.between(1, 2), 1) : [],
    categories: prng.chance(0.2) ? prng.some(CATEGORIES, prng.between(1, 3), 0.8) : [],
    blockedDomains: prng.chance(0.4) ? prng.some(world.domains, prng.between(1, 30), 0.7) : [],
    brandSafe: prng.chance(0.3),
    attributes: prng.chance(0.4) ? prng.some(ATTRIBUTES, prng.between(1, 2), 1.2) : [],
    regions:
      regionCountry !== undefined && prng.chance(0.12)
        ? prng.some(REGIONS[regionCountry]!, prng.between(1, 3)).map((r) => `${regionCountry}-${r}`)
        : [],
    os: prng.chance(0.15) ? prng.some(['iOS', 'Android', 'Windows', 'macOS'], prng.between(1, 2)) : [],
    domains: prng.chance(0.03) ? prng.some(world.domains, prng.between(5, 40), 0.8) : [],
    publishers: prng.chance(0.02) ? prng.some(world.publishers, prng.between(2, 10), 0.8) : [],
    blockedPublishers: prng.chance(0.1) ? prng.some(world.publishers, prng.between(1, 5), 0.8) : [],
    pageCategories: prng.chance(0.1) ? prng.some(CATEGORIES, prng.between(1, 3), 0.8) : [],
    userCategories: prng.chance(0.08) ? prng.some(CATEGORIES, prng.between(1, 3), 0.8) : [],
  }
  const withDaypart: AdTargeting = prng.chance(0.1)
    ? {
        ...t,
        daypart: {
          days: prng.chance(0.5) ? [1, 2, 3, 4, 5] : [],
          hours: Array.from({ length: prng.between(6, 14) }, (_, h) => h + prng.between(6, 9)),
          utcOffsetMinutes: prng.chance(0.6) ? 'user' : prng.pick([-300, 0, 60, 540]),
        },
      }
    : t
  if (!prng.chance(0.06)) return withDaypart
  const keyValues: Record<string, string[]> = {}
  for (const key of prng.some(Object.keys(KV_KEYS), prng.between(1, 2))) {
    keyValues[key] = prng.some(KV_KEYS[key]!, prng.between(1, 3))
  }
  return { ...withDaypart, keyValues }
}

/** 109 policy rules across the six kinds, aimed at the busier advertisers and publishers. */
function generatePolicies(prng: Prng, world: World): PolicyRule[] {
  const rules: PolicyRule[] = []
  for (let i = 0; i < 40; i++) {
    rules.push({
      kind: 'advertiser_publisher',
      id: `ap-${i}`,
      advertisers: prng.some(world.advertisers, prng.between(1, 3), 0.9),
      publishers: prng.some(world.publishers, prng.between(5, 30), 0.8),
    })
  }
  for (let i = 0; i < 12; i++) {
    rules.push({
      kind: 'category_country',
      id: `cc-${i}`,
      categories: [prng.pick(CATEGORIES)],
      countries: prng.some(COUNTRIES, prng.between(3, 12), 1),
    })
  }
  for (let i = 0; i < 10; i++) {
    rules.push({
      kind: 'placement_attribute',
      id: `pa-${i}`,
      attributes: prng.some(ATTRIBUTES, prng.between(1, 3), 1.2),
      positions: prng.some([1, 3, 4, 5, 6, 7], prng.between(1, 2)),
      interstitial: prng.chance(0.3),
    })
  }
  for (let i = 0; i < 15; i++) {
    rules.push({
      kind: 'min_viewability',
      id: `mv-${i}`,
      advertisers: prng.some(world.advertisers, prng.between(1, 4), 0.9),
      categories: prng.chance(0.2) ? [prng.pick(CATEGORIES)] : [],
      minPercent: prng.between(40, 70),
    })
  }
  for (let i = 0; i < 20; i++) {
    rules.push({
      kind: 'publisher_category',
      id: `pc-${i}`,
      publishers: prng.some(world.publishers, prng.between(1, 8), 0.8),
      categories: prng.some(CATEGORIES, prng.between(1, 3), 0.8),
    })
  }
  for (let i = 0; i < 12; i++) {
    rules.push({
      kind: 'domain_min_cpm',
      id: `dm-${i}`,
      domains: prng.some(world.domains, prng.between(10, 60), 0.7),
      categories: prng.chance(0.5) ? prng.some(CATEGORIES, prng.between(1, 3), 0.8) : [],
      minCpmMicros: prng.between(5, 30) * 100_000,
    })
  }
  return rules
}

export function generateTraffic(prng: Prng, world: World, count: number): TrafficSample[] {
  return Array.from({ length: count }, (_, i) => generateSample(prng, world, i))
}

function generateSample(prng: Prng, world: World, i: number): TrafficSample {
  const isApp = prng.chance(0.15)
  const publisher = { id: prng.zipf(world.publishers, 0.9) }
  const deviceType = prng.weighted([
    [2, 45],
    [4, 38],
    [5, 10],
    [3, 4],
    [7, 3],
  ] as const)
  const country = prng.chance(0.95) ? prng.zipf(COUNTRIES, 1.1) : undefined
  const regions = country === undefined ? undefined : REGIONS[country]
  const geo = {
    ...(country === undefined ? {} : { country }),
    ...(regions !== undefined && prng.chance(0.8) ? { region: prng.pick(regions) } : {}),
    ...(prng.chance(0.6) ? { utcoffset: prng.pick([-480, -300, 0, 60, 330, 540]) } : {}),
  }
  const impCount = prng.weighted([
    [1, 70],
    [2, 20],
    [3, 6],
    [4, 4],
  ] as const)
  const imps: Imp[] = Array.from({ length: impCount }, (_, k) => generateImp(prng, k))
  const request: BidRequest = {
    id: `req-${i}`,
    imp: imps,
    ...(isApp
      ? { app: { bundle: prng.zipf(world.bundles, 0.9), publisher } }
      : { site: siteOf(prng, world, publisher) }),
    device: {
      ua: 'Mozilla/5.0 (generated)',
      ip: `198.51.100.${prng.int(256)}`,
      devicetype: deviceType as 2,
      os: prng.pick(OS_BY_DEVICE[deviceType] ?? ['Android']),
      geo,
    },
    user: { id: `u-${prng.int(100_000)}` },
    tmax: 100,
  }
  const signals = signalsFor(prng, world, request)
  // As decorate computes them: the imp's floor raised to the publisher's.
  const floors = imps.map((imp) => Math.max(imp.bidfloor ?? 0, signals.publisherFloorCpm))
  return { request, signals, floors }
}

function siteOf(prng: Prng, world: World, publisher: { id: string }): NonNullable<BidRequest['site']> {
  return {
    domain: prng.zipf(world.domains, 0.9),
    page: 'https://example.com/a',
    publisher,
    ...(prng.chance(0.3)
      ? { ext: { section: prng.pick(KV_KEYS['section']!), lang: prng.pick(KV_KEYS['lang']!) } }
      : {}),
  }
}

function generateImp(prng: Prng, k: number): Imp {
  const isVideo = prng.chance(0.12)
  const ext: Record<string, unknown> = {}
  if (prng.chance(0.6)) ext['viewability'] = prng.between(20, 90)
  if (prng.chance(0.2)) ext['tier'] = prng.pick(KV_KEYS['tier']!)
  const battr = prng.chance(0.4) ? prng.some(ATTRIBUTES, prng.between(1, 6), 1.1) : undefined
  const pos = prng.weighted([
    [0, 30],
    [1, 35],
    [3, 25],
    [4, 3],
    [6, 4],
    [7, 3],
  ] as const)
  const imp = {
    id: String(k + 1),
    ...(isVideo
      ? { video: { mimes: ['video/mp4'], ...prng.pick(VIDEO_SIZES), ...(battr ? { battr } : {}) } }
      : {
          banner: {
            format: distinctSizes(
              prng,
              prng.weighted([
                [1, 60],
                [2, 30],
                [3, 10],
              ] as const),
            ),
            pos,
            ...(battr ? { battr } : {}),
          },
        }),
    ...(prng.chance(0.05) ? { instl: 1 as const } : {}),
    ...(prng.chance(0.5) ? { bidfloor: Math.round(prng.logNormal(0.8, 0.8) * 100) / 100 } : {}),
    ...(Object.keys(ext).length > 0 ? { ext } : {}),
  }
  return imp as unknown as Imp
}

function signalsFor(prng: Prng, world: World, request: BidRequest): RequestSignals {
  return {
    userCategories: prng.chance(0.5) ? prng.some(CATEGORIES, prng.between(1, 4), 0.8) : [],
    pageCategories: prng.chance(0.7) ? prng.some(CATEGORIES, prng.between(1, 3), 0.8) : [],
    brandUnsafe: prng.chance(0.1),
    publisherFloorCpm: prng.chance(0.3) ? prng.pick([0.1, 0.25, 0.5]) : 0,
    bcat: prng.chance(0.6) ? prng.some(CATEGORIES, prng.between(2, 8), 0.5) : [],
    badv: prng.chance(0.3) ? prng.some(world.advertisers, prng.between(1, 20), 0.7) : [],
    degraded: request.user === undefined,
  }
}
