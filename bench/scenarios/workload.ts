/**
 * What a benchmark scenario serves and sends: the seed file (house ads, users, page/domain
 * context, publishers), the request bodies the load generator sends in rotation, and the campaigns
 * created through the admin API before load. Generated at run time into the scenario's temp dir,
 * deterministic for a seed so runs compare.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { adToJson } from '../../src/catalog/ad-input.js'
import type { PolicyRule } from '../../src/catalog/policy-rule.js'
import { demoSeed } from '../../src/demo/demo-seed.js'
import type { BidRequest } from '../../src/openrtb/types.js'
import { Prng } from '../filter/prng.js'
import { createWorld, generateCatalog, generateTraffic } from '../filter/traffic.js'
import { SEQUENCE_TOKEN } from '../load-generator.js'

/**
 * Who the requests are from: rotating users, pages, domains and publishers, all known to the seed
 * (so decoration finds them and caches them), plus a share of requests from users seen once.
 */
export interface Audience {
  readonly users: number
  readonly pages: number
  readonly domains: number
  readonly publishers: number
  /** Share of requests whose user id is new on every send: a decoration cache miss each. */
  readonly uniqueUserShare: number
  /**
   * Send no decoration keys (no user.id, site.page, site.domain, site.publisher.id): the decorate
   * stage has nothing to look up, so no cache lookup and no store round trip (decoration off).
   */
  readonly stripKeys: boolean
}

export type WorkloadSpec =
  /** bench/requests/<request>, with `ads` simple house ads; one body, or an audience mix of it. */
  | {
      readonly kind: 'banner'
      readonly request: string
      readonly ads: number
      readonly audience: Audience | null
      readonly withCampaigns: boolean
    }
  /** `npm start`'s demo: its seed and the request its printed curl sends. */
  | { readonly kind: 'demo' }
  /**
   * The filter engineer's generated world (bench/filter/traffic.ts): `ads` ads with the targeting
   * mix of a mid-size exchange, its policy rules, and `bodies` requests from its traffic mix with
   * users folded onto `users` known ids (decoration at cache hit).
   */
  | {
      readonly kind: 'catalog'
      readonly ads: number
      readonly bodies: number
      readonly users: number
      readonly withCampaigns: boolean
    }

export interface Workload {
  /** The seed file's content (README "Configuration"). */
  readonly seed: Record<string, unknown>
  /** Minified JSON bodies, sent in rotation. */
  readonly bodies: readonly string[]
  /** Campaigns the ads spend from: created with POST /campaigns before load. */
  readonly campaignIds: readonly string[]
  /** One line on what was generated, for the report. */
  readonly summary: string
}

const BENCH_CATEGORIES = ['IAB1', 'IAB2', 'IAB3', 'IAB12', 'IAB17', 'IAB19', 'IAB20', 'IAB22']
/**
 * Categories of the audience's users, pages and domains: none of the house ads' categories, so that
 * decoration changes no house ad's eligibility and decoration on/off differ only by the decoration.
 */
const AUDIENCE_CATEGORIES = ['IAB5', 'IAB7', 'IAB9', 'IAB10', 'IAB11', 'IAB13', 'IAB14', 'IAB15']
/** Campaigns in a paced workload; ads spread over them. */
const CAMPAIGNS = 50
/** The seed of every generated workload: the same data in every run. */
const SEED = 20261124

export function buildWorkload(spec: WorkloadSpec, root: string): Workload {
  switch (spec.kind) {
    case 'banner':
      return bannerWorkload(spec, root)
    case 'demo':
      return demoWorkload()
    case 'catalog':
      return catalogWorkload(spec)
  }
}

// ---------------------------------------------------------------------------------------------
// Simple house ads and the banner request

function bannerWorkload(spec: Extract<WorkloadSpec, { kind: 'banner' }>, root: string): Workload {
  const base = JSON.parse(readFileSync(join(root, 'bench/requests', spec.request), 'utf8')) as BidRequest
  const ads = houseAds(spec.ads, spec.withCampaigns)
  const campaignIds = spec.withCampaigns ? campaignsOf(ads) : []
  if (spec.audience === null) {
    return {
      seed: { ads },
      bodies: [JSON.stringify(base)],
      campaignIds,
      summary: `${spec.ads} house ads; one body (${spec.request})`,
    }
  }
  const a = spec.audience
  const prng = new Prng(SEED)
  const userId = (k: number) => `u-${k + 1}`
  const pageUrl = (k: number) => `https://site-${k % a.domains}.example/article/${k + 1}`
  const domain = (k: number) => `site-${k}.example`
  const publisherId = (k: number) => `pub-${k + 1}`
  const context = () => ({
    categories: prng.some(AUDIENCE_CATEGORIES, prng.between(1, 2)),
    brandSafetyFlags: prng.chance(0.1) ? ['violence'] : [],
    sentiment: 'neutral',
  })
  const seed = {
    ads,
    users: Object.fromEntries(
      range(a.users).map((k) => [userId(k), prng.some(AUDIENCE_CATEGORIES, prng.between(1, 3))]),
    ),
    contexts: {
      domains: Object.fromEntries(range(a.domains).map((k) => [domain(k), context()])),
      pages: Object.fromEntries(range(a.pages).map((k) => [pageUrl(k), context()])),
    },
    publishers: Object.fromEntries(
      range(a.publishers).map((k) => [
        publisherId(k),
        { floorCpm: 0.1 + 0.05 * k, bcat: ['IAB25', 'IAB26'], badv: [`rival-${k}.example`] },
      ]),
    ),
  }
  // Enough bodies that every user meets several pages; one in 1/uniqueUserShare has a fresh user.
  const count = Math.max(100, a.users * 5)
  const uniqueEvery = a.uniqueUserShare > 0 ? Math.round(1 / a.uniqueUserShare) : 0
  const bodies = range(count).map((j) => {
    const isUnique = uniqueEvery > 0 && j % uniqueEvery === uniqueEvery - 1
    const page = (j * 7) % a.pages
    const pub = j % a.publishers
    const site = {
      ...base.site,
      domain: domain(page % a.domains),
      page: pageUrl(page),
      publisher: { ...base.site?.publisher, id: publisherId(pub) },
    }
    const user = { ...base.user, id: isUnique ? `u-new-${SEQUENCE_TOKEN}` : userId(j % a.users) }
    const request: Record<string, unknown> = { ...base, id: `bench-${j + 1}`, site, user }
    return JSON.stringify(a.stripKeys ? stripDecorationKeys(request) : request)
  })
  const what = a.stripKeys
    ? 'decoration keys removed (no user.id, site.page/domain/publisher.id)'
    : `${a.users} users, ${a.pages} pages, ${a.domains} domains, ${a.publishers} publishers, ` +
      `${Math.round(a.uniqueUserShare * 100)}% of requests from a user seen once`
  return {
    seed,
    bodies,
    campaignIds,
    summary: `${spec.ads} house ads; ${bodies.length} bodies from ${spec.request}: ${what}`,
  }
}

function stripDecorationKeys(request: Record<string, unknown>): Record<string, unknown> {
  const { id: _userId, ...user } = request['user'] as Record<string, unknown>
  const { domain: _d, page: _p, publisher, ...site } = request['site'] as Record<string, unknown>
  const { id: _pubId, ...rest } = publisher as Record<string, unknown>
  return { ...request, user, site: { ...site, publisher: rest } }
}

/** House ads over the bench request's sizes and others, with spread targeting and prices. */
function houseAds(n: number, withCampaigns: boolean): Record<string, unknown>[] {
  const sizes = [
    ['300x250'],
    ['728x90', '970x90'],
    ['300x250', '336x280'],
    ['160x600'],
    ['320x50'],
    ['300x600'],
  ]
  const countries = [[], ['USA'], ['USA', 'CAN'], ['GBR', 'DEU', 'FRA'], ['JPN']]
  return range(n).map((i) => ({
    id: `bench-${i + 1}`,
    title: `Bench ad ${i + 1}`,
    category: BENCH_CATEGORIES[i % BENCH_CATEGORIES.length],
    clickURL: `https://advertiser-${i % 97}.example/landing?ad=${i + 1}`,
    imageURL: `https://cdn.advertiser-${i % 97}.example/${i + 1}.png`,
    price: (0.1 + ((i * 7919) % 200) / 100).toFixed(2),
    sizes: sizes[i % sizes.length],
    adomain: `advertiser-${i % 97}.example`,
    ...(withCampaigns ? { campaign: `c-${i % CAMPAIGNS}` } : {}),
    targeting: { countries: countries[(i * 31) % countries.length], deviceTypes: i % 3 === 0 ? [4, 5] : [] },
  }))
}

// ---------------------------------------------------------------------------------------------
// The demo

/** The body `npm start` prints a curl for (src/main.ts printDemoHelp). */
const DEMO_REQUEST = {
  id: 'demo-1',
  imp: [{ id: '1', banner: { format: [{ w: 300, h: 250 }] } }],
  site: { domain: 'news.example', page: 'https://news.example/a', publisher: { id: 'pub-1' } },
  device: { ua: 'Mozilla/5.0', ip: '203.0.113.9', geo: { country: 'USA' } },
  user: { id: 'u1' },
  tmax: 100,
}

function demoWorkload(): Workload {
  const demo = demoSeed()
  return {
    seed: {
      ads: demo.ads.map(adToJson),
      users: demo.users,
      contexts: demo.contexts,
      publishers: demo.publishers,
    },
    bodies: [JSON.stringify(DEMO_REQUEST)],
    campaignIds: [],
    summary: `the demo seed (${demo.ads.length} house ads); the demo's curl body`,
  }
}

// ---------------------------------------------------------------------------------------------
// The generated catalog and traffic of bench/filter

function catalogWorkload(spec: Extract<WorkloadSpec, { kind: 'catalog' }>): Workload {
  const prng = new Prng(SEED)
  const world = createWorld(prng)
  const generated = generateCatalog(prng, world, spec.ads, Date.now())
  const traffic = generateTraffic(prng, world, spec.bodies)
  const ads = generated.ads.map((ad, i) => ({
    ...adToJson(ad),
    campaign: spec.withCampaigns ? `c-${i % CAMPAIGNS}` : null,
  }))
  const users: Record<string, readonly string[]> = {}
  const domains: Record<string, unknown> = {}
  const pages: Record<string, unknown> = {}
  const publishers: Record<string, unknown> = {}
  // What decorate finds for each key: the signals the generator drew for the first request using it.
  const bodies = traffic.map(({ request, signals }, i) => {
    const userId = `u-${i % spec.users}`
    users[userId] ??= signals.userCategories
    const site = request.site
    const context = {
      categories: signals.pageCategories,
      brandSafetyFlags: signals.brandUnsafe ? ['violence'] : [],
      sentiment: 'neutral',
    }
    if (site?.domain !== undefined) domains[site.domain] ??= context
    if (site?.page !== undefined) pages[site.page] ??= context
    const publisherId = site?.publisher?.id ?? request.app?.publisher?.id
    if (publisherId !== undefined) {
      publishers[publisherId] ??= {
        floorCpm: signals.publisherFloorCpm > 0 ? signals.publisherFloorCpm : null,
        bcat: signals.bcat,
        badv: signals.badv,
      }
    }
    return JSON.stringify({ ...request, user: { ...request.user, id: userId } })
  })
  return {
    seed: {
      ads,
      users,
      contexts: { domains, pages },
      publishers,
      policies: generated.policies.map(seedPolicy),
    },
    bodies,
    campaignIds: spec.withCampaigns ? campaignsOf(ads) : [],
    summary:
      `${ads.length} generated ads (bench/filter/traffic.ts), ${generated.policies.length} policy rules in the ` +
      `seed; ${bodies.length} generated requests over ${spec.users} users, ` +
      `${Object.keys(domains).length} domains, ${Object.keys(publishers).length} publishers`,
  }
}

// ---------------------------------------------------------------------------------------------

function campaignsOf(ads: readonly Record<string, unknown>[]): string[] {
  const ids = new Set<string>()
  for (const ad of ads) if (typeof ad['campaign'] === 'string') ids.add(ad['campaign'])
  return [...ids]
}

/**
 * A campaign that never runs out during a benchmark: huge budgets, a flight around now, pacing
 * EVEN or ASAP (EVEN far behind plan takes part in every auction), a generous cap on every fifth
 * so the frequency counters are read and written.
 */
/** A policy rule in the seed's operator format (README: Configuration): CPMs, not micros. */
function seedPolicy(rule: PolicyRule): Record<string, unknown> {
  if (rule.kind !== 'domain_min_cpm') return { ...rule }
  const { minCpmMicros, ...rest } = rule
  return { ...rest, minCpm: minCpmMicros / 1_000_000 }
}

export function benchCampaign(id: string, index: number, nowMs: number): Record<string, unknown> {
  return {
    id,
    name: `Bench campaign ${id}`,
    status: 'active',
    dailyBudgetMicros: 1e13,
    lifetimeBudgetMicros: 1e14,
    impressionGoal: null,
    startMs: nowMs - 86_400_000,
    endMs: nowMs + 30 * 86_400_000,
    pacing: index % 2 === 0 ? 'EVEN' : 'ASAP',
    frequencyCaps: index % 5 === 0 ? [{ window: 'hour', max: 1_000_000 }] : [],
  }
}

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i)
}
