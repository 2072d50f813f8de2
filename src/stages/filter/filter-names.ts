/**
 * Every filter by name: the closed label set of rtb_filter_rejections_total, and the names explain
 * reports. Policy rules are data, many per kind; their kinds are the names.
 */

/** Checks on the request itself, run once before any ad is looked at. */
export const REQUEST_FILTER_NAMES = [
  'request_fields',
  'request_test',
  'request_publisher',
  'request_crawler',
  'request_non_human',
  'request_datacenter_ip',
] as const
export type RequestFilterName = (typeof REQUEST_FILTER_NAMES)[number]

/** Checks on (ad, request) pairs; this order is the starting order and the order explainAd uses. */
export const AD_FILTER_NAMES = [
  'format',
  'floor',
  'status',
  'flight',
  'daypart',
  'country',
  'region',
  'device_type',
  'os',
  'site_domain',
  'blocked_domain',
  'publisher',
  'blocked_publisher',
  'page_category',
  'user_category',
  'relevance',
  'brand_safety',
  'badv',
  'bcat',
  'battr',
  'key_value',
  'advertiser_publisher',
  'category_country',
  'placement_attribute',
  'min_viewability',
  'publisher_category',
  'domain_min_cpm',
] as const
export type AdFilterName = (typeof AD_FILTER_NAMES)[number]

export const FILTER_NAMES = [...REQUEST_FILTER_NAMES, ...AD_FILTER_NAMES] as const
export type FilterName = RequestFilterName | AdFilterName
