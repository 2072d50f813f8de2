/**
 * Exchange policy written as data: each rule is an instance of one of a few kinds, and every rule
 * is a real check on (ad, request) pairs. Rules come with the catalog (seed `policies`, admin API)
 * and are folded into its indexes when the catalog is built, so hundreds of rules cost the request
 * path a few map lookups, not a loop over rules.
 */
export type PolicyRule =
  | AdvertiserPublisherRule
  | CategoryCountryRule
  | PlacementAttributeRule
  | MinViewabilityRule
  | PublisherCategoryRule
  | DomainMinCpmRule

/** These advertisers never serve for these publishers (a publisher group). */
export interface AdvertiserPublisherRule {
  readonly kind: 'advertiser_publisher'
  readonly id: string
  readonly advertisers: readonly string[]
  readonly publishers: readonly string[]
}

/** Ads in these categories serve only in these countries (regulated verticals). */
export interface CategoryCountryRule {
  readonly kind: 'category_country'
  readonly id: string
  readonly categories: readonly string[]
  readonly countries: readonly string[]
}

/** Creatives with any of these attributes never serve at these positions (banner.pos) or interstitials. */
export interface PlacementAttributeRule {
  readonly kind: 'placement_attribute'
  readonly id: string
  readonly attributes: readonly number[]
  readonly positions: readonly number[]
  readonly interstitial: boolean
}

/**
 * Ads of these advertisers or categories need a placement predicted at least this viewable
 * (imp.ext.viewability, 0–100; a placement that does not say counts as 0).
 */
export interface MinViewabilityRule {
  readonly kind: 'min_viewability'
  readonly id: string
  readonly advertisers: readonly string[]
  readonly categories: readonly string[]
  readonly minPercent: number
}

/** These publishers refuse these ad categories, beyond what their requests' bcat say. */
export interface PublisherCategoryRule {
  readonly kind: 'publisher_category'
  readonly id: string
  readonly publishers: readonly string[]
  readonly categories: readonly string[]
}

/** On these domains, ads (of these categories; all when empty) must pay at least this CPM. */
export interface DomainMinCpmRule {
  readonly kind: 'domain_min_cpm'
  readonly id: string
  readonly domains: readonly string[]
  readonly categories: readonly string[]
  readonly minCpmMicros: number
}

export type PolicyKind = PolicyRule['kind']
export const POLICY_KINDS: readonly PolicyKind[] = [
  'advertiser_publisher',
  'category_country',
  'placement_attribute',
  'min_viewability',
  'publisher_category',
  'domain_min_cpm',
]

const RULE_ID = /^[A-Za-z0-9_.:-]{1,64}$/

/** Reads a list of rules as operators write them (seed `policies`); every problem at once. */
export function parsePolicyRules(value: unknown): { rules: PolicyRule[] } | { problems: string[] } {
  if (!Array.isArray(value)) return { problems: ['policies must be an array'] }
  const problems: string[] = []
  const rules: PolicyRule[] = []
  const ids = new Set<string>()
  value.forEach((raw, i) => {
    const found: string[] = []
    const rule = readRule(raw, found)
    if (rule !== null && ids.has(rule.id)) found.push(`duplicate id ${rule.id}`)
    if (found.length > 0 || rule === null) problems.push(`policies[${i}]: ${found.join('; ')}`)
    else {
      ids.add(rule.id)
      rules.push(rule)
    }
  })
  return problems.length > 0 ? { problems } : { rules }
}

function readRule(raw: unknown, problems: string[]): PolicyRule | null {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    problems.push('a rule must be an object')
    return null
  }
  const r = raw as Record<string, unknown>
  const id = typeof r['id'] === 'string' && RULE_ID.test(r['id']) ? r['id'] : ''
  if (id === '') problems.push('id is missing or invalid')
  switch (r['kind']) {
    case 'advertiser_publisher':
      return {
        kind: 'advertiser_publisher',
        id,
        advertisers: nonEmptyStrings(r, 'advertisers', problems),
        publishers: nonEmptyStrings(r, 'publishers', problems),
      }
    case 'category_country':
      return {
        kind: 'category_country',
        id,
        categories: nonEmptyStrings(r, 'categories', problems),
        countries: nonEmptyStrings(r, 'countries', problems),
      }
    case 'placement_attribute':
      return readPlacementRule(r, id, problems)
    case 'min_viewability':
      return readViewabilityRule(r, id, problems)
    case 'publisher_category':
      return {
        kind: 'publisher_category',
        id,
        publishers: nonEmptyStrings(r, 'publishers', problems),
        categories: nonEmptyStrings(r, 'categories', problems),
      }
    case 'domain_min_cpm':
      return readDomainMinCpmRule(r, id, problems)
    default:
      problems.push(`kind must be one of ${POLICY_KINDS.join(', ')}`)
      return null
  }
}

function readPlacementRule(
  r: Record<string, unknown>,
  id: string,
  problems: string[],
): PlacementAttributeRule {
  const positions = ints(r['positions'], 'positions', problems)
  const interstitial = r['interstitial'] === true
  if (positions.length === 0 && !interstitial) problems.push('positions or interstitial: true is required')
  if (positions.some((p) => p < 0 || p > 7)) problems.push('positions are AdCOM placement positions 0-7')
  const attributes = ints(r['attributes'], 'attributes', problems)
  if (attributes.length === 0) problems.push('attributes must list at least one creative attribute')
  return { kind: 'placement_attribute', id, attributes, positions, interstitial }
}

function readViewabilityRule(r: Record<string, unknown>, id: string, problems: string[]): MinViewabilityRule {
  const advertisers = strings(r['advertisers'], 'advertisers', problems)
  const categories = strings(r['categories'], 'categories', problems)
  if (advertisers.length === 0 && categories.length === 0)
    problems.push('advertisers or categories is required')
  const minPercent = r['minPercent']
  if (typeof minPercent !== 'number' || !(minPercent > 0 && minPercent <= 100)) {
    problems.push('minPercent must be a number in (0, 100]')
  }
  return { kind: 'min_viewability', id, advertisers, categories, minPercent: Number(minPercent) }
}

function readDomainMinCpmRule(r: Record<string, unknown>, id: string, problems: string[]): DomainMinCpmRule {
  const minCpm = r['minCpm']
  if (typeof minCpm !== 'number' || !(minCpm > 0) || minCpm > 1e6)
    problems.push('minCpm must be a positive CPM')
  return {
    kind: 'domain_min_cpm',
    id,
    domains: nonEmptyStrings(r, 'domains', problems),
    categories: strings(r['categories'], 'categories', problems),
    minCpmMicros: Math.round(Number(minCpm) * 1e6),
  }
}

function nonEmptyStrings(r: Record<string, unknown>, field: string, problems: string[]): string[] {
  const list = strings(r[field], field, problems)
  if (list.length === 0) problems.push(`${field} must list at least one value`)
  return list
}

function strings(v: unknown, field: string, problems: string[]): string[] {
  if (v === undefined) return []
  if (!Array.isArray(v) || v.length > 10_000 || !v.every((x) => typeof x === 'string' && x.length <= 253)) {
    problems.push(`${field} must be a list of strings`)
    return []
  }
  return v as string[]
}

function ints(v: unknown, field: string, problems: string[]): number[] {
  if (v === undefined) return []
  if (!Array.isArray(v) || v.length > 1000 || !v.every((x) => Number.isInteger(x))) {
    problems.push(`${field} must be a list of integers`)
    return []
  }
  return v as number[]
}
