import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { NoBidReason } from '../../openrtb/types.js'
import { testRequest } from './filter-fixtures.js'
import { compileIpRanges, parseIpv4, parseIpv6 } from './ip-ranges.js'
import { createRequestFilters, DEFAULT_REQUEST_FILTER_CONFIG } from './request-filters.js'

describe('request filters', () => {
  const filters = createRequestFilters({
    ...DEFAULT_REQUEST_FILTER_CONFIG,
    requireDevice: true,
    blockedPublishers: ['pub-bad'],
    blockedSites: ['bad.example', 'com.bad.app'],
    datacenterIpRanges: ['3.0.0.0/9', '35.190.0.0/17', '2600:1f00::/24'],
  })
  const device = testRequest().device!

  it('lets ordinary traffic through', () => {
    assert.equal(filters.check(testRequest()), null)
    assert.equal(
      filters.check(
        testRequest({ device: { ...device, ua: 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_0) Mobile/15E148' } }),
      ),
      null,
    )
  })

  it('requires no device by default (OpenRTB only recommends it; the IAB examples have none)', () => {
    assert.equal(DEFAULT_REQUEST_FILTER_CONFIG.requireDevice, false)
  })

  it('refuses a request missing what an auction needs (nbr 2)', () => {
    assert.deepEqual(filters.check(testRequest({ site: undefined } as never)), {
      filter: 'request_fields',
      reason: NoBidReason.InvalidRequest,
    })
    assert.equal(filters.check(testRequest({ device: { os: 'iOS' } }))?.reason, NoBidReason.InvalidRequest)
    assert.equal(
      filters.check(testRequest({ device: { ipv6: '2001:db8::1' } })),
      null,
      'an IPv6 address is enough',
    )
    assert.equal(
      filters.check(testRequest({ site: undefined, app: { bundle: 'com.ok.app' } } as never)),
      null,
    )
  })

  it('blocked publishers, sites and app bundles (nbr 7)', () => {
    const pub = testRequest({ site: { domain: 'fine.example', publisher: { id: 'pub-bad' } } })
    assert.equal(filters.check(pub)?.reason, NoBidReason.BlockedPublisherOrSite)
    assert.equal(filters.check(testRequest({ site: { domain: 'bad.example' } }))?.filter, 'request_publisher')
    const app = testRequest({ site: undefined, app: { bundle: 'com.bad.app' } } as never)
    assert.equal(filters.check(app)?.reason, NoBidReason.BlockedPublisherOrSite)
  })

  it('declared crawlers (nbr 3) and automation (nbr 4), by user agent, any case', () => {
    const ua = (s: string) => filters.check(testRequest({ device: { ...device, ua: s } }))?.reason
    assert.equal(
      ua('Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)'),
      NoBidReason.KnownWebCrawler,
    )
    assert.equal(ua('facebookexternalhit/1.1'), NoBidReason.KnownWebCrawler)
    assert.equal(
      ua('Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 HeadlessChrome/120.0'),
      NoBidReason.SuspectedNonHumanTraffic,
    )
    assert.equal(ua('python-requests/2.31'), NoBidReason.SuspectedNonHumanTraffic)
    assert.equal(ua('python-requests/2.31'), NoBidReason.SuspectedNonHumanTraffic, 'cached answer')
  })

  it('data-centre addresses, IPv4 and IPv6 (nbr 5)', () => {
    const ip = (v4: string | undefined, v6?: string) =>
      filters.check(
        testRequest({
          device: { ua: 'Mozilla/5.0', ...(v4 ? { ip: v4 } : {}), ...(v6 ? { ipv6: v6 } : {}) },
        }),
      )?.reason
    assert.equal(ip('3.127.255.255'), NoBidReason.CloudDataCenterProxyIp)
    assert.equal(ip('3.128.0.0'), undefined)
    assert.equal(ip('35.190.127.1'), NoBidReason.CloudDataCenterProxyIp)
    assert.equal(ip(undefined, '2600:1f18:abcd::1'), NoBidReason.CloudDataCenterProxyIp)
    assert.equal(
      ip('203.0.113.9', '2600:1f18::2'),
      NoBidReason.CloudDataCenterProxyIp,
      'either address counts',
    )
    assert.equal(ip(undefined, '2600:2000::1'), undefined)
  })

  it('a test request when no demand answers tests (nbr 500); served when some does', () => {
    const strict = createRequestFilters({ ...DEFAULT_REQUEST_FILTER_CONFIG, hasTestDemand: false })
    assert.deepEqual(strict.check(testRequest({ test: 1 })), {
      filter: 'request_test',
      reason: NoBidReason.NoDemand,
    })
    assert.equal(filters.check(testRequest({ test: 1 })), null)
  })
})

describe('IP ranges', () => {
  it('parses addresses strictly', () => {
    assert.equal(parseIpv4('10.1.2.3'), 0x0a010203)
    assert.equal(parseIpv4('255.255.255.255'), 0xffffffff)
    for (const bad of ['10.1.2', '10.1.2.256', '1.2.3.4.5', 'a.b.c.d', '', '1..2.3'])
      assert.equal(parseIpv4(bad), -1, bad)
    assert.deepEqual([...parseIpv6('2001:db8::1')!], [0x20010db8, 0, 0, 1])
    assert.deepEqual([...parseIpv6('::ffff:192.0.2.1')!], [0, 0, 0xffff, 0xc0000201])
    assert.equal(parseIpv6('1::2::3'), null)
    assert.equal(parseIpv6('12345::'), null)
  })

  it('merges overlapping ranges and rejects bad CIDRs', () => {
    const ranges = compileIpRanges(['10.0.0.0/8', '10.1.0.0/16', '192.168.1.7/32'])
    assert.ok(ranges.has('10.255.0.1'))
    assert.ok(ranges.has('192.168.1.7'))
    assert.ok(!ranges.has('192.168.1.8'))
    assert.throws(() => compileIpRanges(['10.0.0.0/33']), /bad IPv4 CIDR/)
    assert.throws(() => compileIpRanges(['nonsense/8']), /bad CIDR/)
  })
})
