import {
  AD_MEDIA_TYPES,
  AD_STATUSES,
  type AdDaypart,
  type AdFlight,
  type AdMediaType,
  type AdRecord,
  type AdSize,
  type AdStatus,
  type AdTargeting,
  EMPTY_TARGETING,
} from './ad.js'

/**
 * Reads a house ad as operators write it (admin API body, seed file): the seed's field names
 * (`clickURL`, `imageURL`), a decimal CPM `price`, sizes as "300x250" strings or {w,h} objects.
 * Returns the record, or the list of every problem found.
 */
export function parseAdInput(value: unknown): { ad: AdRecord } | { problems: string[] } {
  const problems: string[] = []
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    return { problems: ['body must be an object'] }
  const v = value as Record<string, unknown>
  const id = text(v['id'], 'id', problems, /^[A-Za-z0-9_.:-]{1,64}$/)
  const title = text(v['title'], 'title', problems, /^.{1,200}$/s)
  const category = text(v['category'], 'category', problems, /^[A-Za-z0-9_-]{1,32}$/)
  const clickUrl = text(v['clickURL'] ?? v['clickUrl'], 'clickURL', problems, /^https?:\/\/\S{1,2000}$/)
  const imageUrl = text(v['imageURL'] ?? v['imageUrl'], 'imageURL', problems, /^https?:\/\/\S{1,2000}$/)
  const cpmMicros = priceMicros(v['price'], problems)
  const sizes = readSizes(v['sizes'], problems)
  const advertiserDomain =
    v['adomain'] === undefined ? '' : text(v['adomain'], 'adomain', problems, /^[a-z0-9.-]{1,253}$/i)
  const campaign = v['campaign'] ?? v['campaignId'] ?? null
  if (campaign !== null && (typeof campaign !== 'string' || !/^[A-Za-z0-9_.:-]{1,64}$/.test(campaign))) {
    problems.push('campaign must be an id string')
  }
  const targeting = readTargeting(v['targeting'], problems)
  const selection = readSelection(v, problems)
  if (problems.length > 0) return { problems }
  return {
    ad: {
      ...selection,
      id,
      title,
      category,
      clickUrl,
      imageUrl,
      cpmMicros,
      sizes,
      advertiserDomain,
      campaignId: campaign as string | null,
      targeting,
    },
  }
}

/** The operator-facing JSON of an ad: the inverse of parseAdInput. */
export function adToJson(ad: AdRecord): Record<string, unknown> {
  return {
    id: ad.id,
    title: ad.title,
    category: ad.category,
    clickURL: ad.clickUrl,
    imageURL: ad.imageUrl,
    price: ad.cpmMicros / 1e6,
    sizes: ad.sizes.map((s) => `${s.w}x${s.h}`),
    adomain: ad.advertiserDomain,
    campaign: ad.campaignId,
    targeting:
      ad.targeting.daypart === undefined
        ? ad.targeting
        : { ...ad.targeting, daypart: daypartToJson(ad.targeting.daypart) },
    ...(ad.mediaType === undefined ? {} : { mediaType: ad.mediaType }),
    ...(ad.status === undefined ? {} : { status: ad.status }),
    ...(ad.flight === undefined ? {} : { flight: flightToJson(ad.flight) }),
  }
}

function daypartToJson(d: AdDaypart): Record<string, unknown> {
  const offset = d.utcOffsetMinutes
  const abs = typeof offset === 'number' ? Math.abs(offset) : 0
  const timezone =
    offset === 'user'
      ? 'user'
      : `${offset < 0 ? '-' : '+'}${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`
  return { days: d.days, hours: d.hours, timezone }
}

function flightToJson(f: AdFlight): Record<string, string> {
  const out: Record<string, string> = {}
  if (f.startMs !== undefined) out['start'] = new Date(f.startMs).toISOString()
  if (f.endMs !== undefined) out['end'] = new Date(f.endMs).toISOString()
  return out
}

/** mediaType, status and flight: optional, so ads written before they existed read unchanged. */
function readSelection(
  v: Record<string, unknown>,
  problems: string[],
): { mediaType?: AdMediaType; status?: AdStatus; flight?: AdFlight } {
  const out: { mediaType?: AdMediaType; status?: AdStatus; flight?: AdFlight } = {}
  const media = v['mediaType']
  if (media !== undefined) {
    if (AD_MEDIA_TYPES.includes(media as AdMediaType)) out.mediaType = media as AdMediaType
    else problems.push(`mediaType must be one of ${AD_MEDIA_TYPES.join(', ')}`)
  }
  const status = v['status']
  if (status !== undefined) {
    if (AD_STATUSES.includes(status as AdStatus)) out.status = status as AdStatus
    else problems.push(`status must be one of ${AD_STATUSES.join(', ')}`)
  }
  if (v['flight'] !== undefined) {
    const flight = readFlight(v['flight'], problems)
    if (flight !== null) out.flight = flight
  }
  return out
}

function readFlight(v: unknown, problems: string[]): AdFlight | null {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) {
    problems.push('flight must be an object with start and/or end')
    return null
  }
  const f = v as Record<string, unknown>
  const start = instant(f['start'], 'flight.start', problems)
  const end = instant(f['end'], 'flight.end', problems)
  if (start !== undefined && end !== undefined && end <= start)
    problems.push('flight.end must be after flight.start')
  return { ...(start === undefined ? {} : { startMs: start }), ...(end === undefined ? {} : { endMs: end }) }
}

/** An ISO-8601 date-time with a zone, or epoch milliseconds. */
function instant(v: unknown, field: string, problems: string[]): number | undefined {
  if (v === undefined || v === null) return undefined
  const ms =
    typeof v === 'number'
      ? v
      : typeof v === 'string' && /(Z|[+-]\d{2}:\d{2})$/.test(v)
        ? Date.parse(v)
        : Number.NaN
  if (!Number.isFinite(ms)) {
    problems.push(`${field} must be an ISO date-time with a zone (e.g. 2026-01-31T00:00:00Z) or epoch ms`)
    return undefined
  }
  return ms
}

function text(v: unknown, field: string, problems: string[], pattern: RegExp): string {
  if (typeof v !== 'string' || !pattern.test(v)) {
    problems.push(`${field} is missing or invalid`)
    return ''
  }
  return v
}

/** Decimal CPM to integer micros without float drift ("2.5" or 2.5 → 2_500_000). */
export function priceMicros(v: unknown, problems: string[]): number {
  const s = typeof v === 'number' ? String(v) : typeof v === 'string' ? v.trim() : ''
  const m = /^(\d{1,6})(?:\.(\d{1,6}))?$/.exec(s)
  if (m === null) {
    problems.push('price must be a positive CPM with at most 6 decimals')
    return 0
  }
  const micros = Number(m[1]) * 1_000_000 + Number((m[2] ?? '').padEnd(6, '0'))
  if (micros <= 0) problems.push('price must be positive')
  return micros
}

function readSizes(v: unknown, problems: string[]): AdSize[] {
  const list = typeof v === 'string' ? v.split(',') : v
  if (!Array.isArray(list) || list.length === 0 || list.length > 50) {
    problems.push('sizes must list 1 to 50 sizes like "300x250"')
    return []
  }
  const sizes: AdSize[] = []
  for (const s of list) {
    const size = typeof s === 'string' ? /^\s*(\d{1,5})x(\d{1,5})\s*$/.exec(s) : null
    const w = size ? Number(size[1]) : (s as { w?: unknown })?.w
    const h = size ? Number(size[2]) : (s as { h?: unknown })?.h
    if (typeof w !== 'number' || typeof h !== 'number' || !(w > 0) || !(h > 0) || !Number.isInteger(w + h)) {
      problems.push(`sizes: ${JSON.stringify(s)} is not a size`)
      continue
    }
    sizes.push({ w, h })
  }
  return sizes
}

function readTargeting(v: unknown, problems: string[]): AdTargeting {
  if (v === undefined || v === null) return EMPTY_TARGETING
  if (typeof v !== 'object' || Array.isArray(v)) {
    problems.push('targeting must be an object')
    return EMPTY_TARGETING
  }
  const t = v as Record<string, unknown>
  return {
    countries: strings(t['countries'], 'targeting.countries', problems),
    deviceTypes: ints(t['deviceTypes'], 'targeting.deviceTypes', problems),
    categories: strings(t['categories'], 'targeting.categories', problems),
    blockedDomains: strings(t['blockedDomains'], 'targeting.blockedDomains', problems),
    brandSafe: t['brandSafe'] === true,
    attributes: ints(t['attributes'], 'targeting.attributes', problems),
    regions: strings(t['regions'], 'targeting.regions', problems),
    os: strings(t['os'], 'targeting.os', problems),
    domains: strings(t['domains'], 'targeting.domains', problems),
    publishers: strings(t['publishers'], 'targeting.publishers', problems),
    blockedPublishers: strings(t['blockedPublishers'], 'targeting.blockedPublishers', problems),
    pageCategories: strings(t['pageCategories'], 'targeting.pageCategories', problems),
    userCategories: strings(t['userCategories'], 'targeting.userCategories', problems),
    ...(t['daypart'] === undefined ? {} : readDaypart(t['daypart'], problems)),
    ...(t['keyValues'] === undefined ? {} : { keyValues: readKeyValues(t['keyValues'], problems) }),
  }
}

/** { days: [1..5], hours: [9..17], timezone: 'user' | 'UTC' | '+05:30' }; empty lists mean "all". */
function readDaypart(v: unknown, problems: string[]): { daypart?: AdDaypart } {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) {
    problems.push('targeting.daypart must be an object')
    return {}
  }
  const d = v as Record<string, unknown>
  const days = ints(d['days'], 'targeting.daypart.days', problems)
  const hours = ints(d['hours'], 'targeting.daypart.hours', problems)
  if (days.some((x) => x < 0 || x > 6)) problems.push('targeting.daypart.days are 0 (Sunday) to 6')
  if (hours.some((x) => x < 0 || x > 23)) problems.push('targeting.daypart.hours are 0 to 23')
  const offset = utcOffsetMinutes(d['timezone'] ?? 'user')
  if (offset === null)
    problems.push('targeting.daypart.timezone must be "user", "UTC" or an offset like "-05:00"')
  return { daypart: { days, hours, utcOffsetMinutes: offset ?? 0 } }
}

function utcOffsetMinutes(v: unknown): number | 'user' | null {
  if (v === 'user') return 'user'
  if (v === 'UTC' || v === 'Z') return 0
  const m = typeof v === 'string' ? /^([+-])(\d{2}):(\d{2})$/.exec(v) : null
  if (m === null) return null
  const minutes = Number(m[2]) * 60 + Number(m[3])
  return minutes > 14 * 60 ? null : m[1] === '-' ? -minutes : minutes
}

function readKeyValues(v: unknown, problems: string[]): Record<string, string[]> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) {
    problems.push('targeting.keyValues must be an object of key → list of values')
    return {}
  }
  const out: Record<string, string[]> = {}
  for (const [key, values] of Object.entries(v)) {
    if (!/^[A-Za-z0-9_.-]{1,64}$/.test(key))
      problems.push(`targeting.keyValues: bad key ${JSON.stringify(key)}`)
    else out[key] = strings(values, `targeting.keyValues.${key}`, problems)
  }
  return out
}

function strings(v: unknown, field: string, problems: string[]): string[] {
  if (v === undefined) return []
  if (!Array.isArray(v) || v.length > 1000 || !v.every((x) => typeof x === 'string' && x.length <= 253)) {
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
