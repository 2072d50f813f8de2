import { type BidRequest, NoBidReason } from '../../openrtb/types.js'
import type { RequestFilterName } from './filter-names.js'
import { compileIpRanges } from './ip-ranges.js'

/** Which traffic is not worth an auction. Lists are matched exactly unless said otherwise. */
export interface RequestFilterConfig {
  /** Refuse requests with neither site nor app (nor dooh): no demand can price unknown inventory. */
  readonly requireSiteOrApp: boolean
  /** Refuse requests whose device gives neither ua nor ip/ipv6: fraud checks need one of them. */
  readonly requireDevice: boolean
  /** site/app.publisher.id values never served. */
  readonly blockedPublishers: readonly string[]
  /** site.domain or app.bundle values never served. */
  readonly blockedSites: readonly string[]
  /** Cloud, data-centre and proxy networks, as IPv4/IPv6 CIDR ("203.0.113.0/24", "2001:db8::/32"). */
  readonly datacenterIpRanges: readonly string[]
  /** Case-insensitive user-agent fragments of declared crawlers. */
  readonly crawlerUserAgents: readonly string[]
  /** Case-insensitive user-agent fragments of headless browsers and HTTP libraries. */
  readonly automationUserAgents: readonly string[]
  /** Whether any demand answers test requests (test: 1); when none does, they end at once. */
  readonly hasTestDemand: boolean
}

export const DEFAULT_REQUEST_FILTER_CONFIG: RequestFilterConfig = Object.freeze({
  requireSiteOrApp: true,
  // Off by default: OpenRTB only recommends device, and the IAB's own examples (2.6 §6.2.1–2) have
  // none; an exchange that wants fraud signals on every request turns it on.
  requireDevice: false,
  blockedPublishers: [],
  blockedSites: [],
  datacenterIpRanges: [],
  crawlerUserAgents: [
    'googlebot',
    'adsbot-google',
    'mediapartners-google',
    'bingbot',
    'bingpreview',
    'yandexbot',
    'baiduspider',
    'duckduckbot',
    'yahoo! slurp',
    'applebot',
    'facebookexternalhit',
    'twitterbot',
    'linkedinbot',
    'ahrefsbot',
    'semrushbot',
    'mj12bot',
    'dotbot',
    'petalbot',
    'bytespider',
    'gptbot',
    'ccbot',
    'amazonbot',
    'crawler',
    'spider',
  ],
  automationUserAgents: [
    'headlesschrome',
    'phantomjs',
    'selenium',
    'webdriver',
    'puppeteer',
    'playwright',
    'python-requests',
    'python-urllib',
    'aiohttp',
    'curl/',
    'wget/',
    'go-http-client',
    'java/',
    'apache-httpclient',
    'node-fetch',
    'axios/',
    'scrapy',
  ],
  hasTestDemand: true,
})

/** A request filter's verdict: which filter, and the no-bid reason the auction ends with. */
export interface RequestRejection {
  readonly filter: RequestFilterName
  readonly reason: NoBidReason
}

export interface RequestFilters {
  /** The first filter that refuses the request, or null when it deserves an auction. */
  check(request: BidRequest): RequestRejection | null
}

/** User agents remembered (the same few hundred strings make most traffic); cleared when full. */
const UA_CACHE_SIZE = 10_000
const UA_OK = 0
const UA_CRAWLER = 1
const UA_AUTOMATION = 2

/**
 * Checks that end an auction before any ad is looked at, cheapest first: required fields, test
 * traffic, blocked publisher or site (set lookups), user agent (a cache in front of one regular
 * expression per list), then the data-centre IP ranges (bisection).
 */
export function createRequestFilters(
  config: RequestFilterConfig = DEFAULT_REQUEST_FILTER_CONFIG,
): RequestFilters {
  const blockedPublishers = new Set(config.blockedPublishers)
  const blockedSites = new Set(config.blockedSites)
  const datacenter = compileIpRanges(config.datacenterIpRanges)
  const crawler = fragmentPattern(config.crawlerUserAgents)
  const automation = fragmentPattern(config.automationUserAgents)
  const uaCache = new Map<string, number>()

  function classifyUa(ua: string): number {
    let kind = uaCache.get(ua)
    if (kind !== undefined) return kind
    kind = crawler?.test(ua) ? UA_CRAWLER : automation?.test(ua) ? UA_AUTOMATION : UA_OK
    if (uaCache.size >= UA_CACHE_SIZE) uaCache.clear()
    uaCache.set(ua, kind)
    return kind
  }

  return {
    check(request) {
      const device = request.device
      if (
        config.requireSiteOrApp &&
        request.site === undefined &&
        request.app === undefined &&
        request.dooh === undefined
      ) {
        return MISSING_FIELDS
      }
      if (config.requireDevice && (device === undefined || (!device.ua && !device.ip && !device.ipv6)))
        return MISSING_FIELDS
      if (request.test === 1 && !config.hasTestDemand) return TEST_WITHOUT_DEMAND
      const inventory = request.site ?? request.app
      const publisherId = inventory?.publisher?.id
      if (publisherId !== undefined && blockedPublishers.has(publisherId)) return BLOCKED_PUBLISHER
      const site = request.site?.domain ?? request.app?.bundle
      if (site !== undefined && blockedSites.has(site)) return BLOCKED_PUBLISHER
      const ua = device?.ua
      if (ua !== undefined && ua !== '') {
        const kind = classifyUa(ua)
        if (kind === UA_CRAWLER) return CRAWLER
        if (kind === UA_AUTOMATION) return NON_HUMAN
      }
      if (datacenter.size > 0 && device !== undefined) {
        if (device.ip !== undefined && datacenter.has(device.ip)) return DATACENTER
        if (device.ipv6 !== undefined && datacenter.has(device.ipv6)) return DATACENTER
      }
      return null
    },
  }
}

/** One case-insensitive alternation of literal fragments; null for an empty list. */
function fragmentPattern(fragments: readonly string[]): RegExp | null {
  if (fragments.length === 0) return null
  return new RegExp(fragments.map((f) => f.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')).join('|'), 'i')
}

const MISSING_FIELDS: RequestRejection = Object.freeze({
  filter: 'request_fields',
  reason: NoBidReason.InvalidRequest,
})
const TEST_WITHOUT_DEMAND: RequestRejection = Object.freeze({
  filter: 'request_test',
  reason: NoBidReason.NoDemand,
})
const BLOCKED_PUBLISHER: RequestRejection = Object.freeze({
  filter: 'request_publisher',
  reason: NoBidReason.BlockedPublisherOrSite,
})
const CRAWLER: RequestRejection = Object.freeze({
  filter: 'request_crawler',
  reason: NoBidReason.KnownWebCrawler,
})
const NON_HUMAN: RequestRejection = Object.freeze({
  filter: 'request_non_human',
  reason: NoBidReason.SuspectedNonHumanTraffic,
})
const DATACENTER: RequestRejection = Object.freeze({
  filter: 'request_datacenter_ip',
  reason: NoBidReason.CloudDataCenterProxyIp,
})
