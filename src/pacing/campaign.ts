import { FREQUENCY_WINDOWS, type FrequencyCap, type FrequencyWindow } from './frequency.js'

/**
 * A campaign as ad operations define it (admin API `POST /campaigns`, or the `ad:campaign:{c:ID}`
 * hash in Dragonfly). Money is integer micros of the exchange currency, never a float; null limits
 * are unlimited. Ads name the campaign they spend from (`AdRecord.campaignId`).
 */
export interface Campaign {
  readonly id: string
  readonly name: string
  readonly status: CampaignStatus
  /** Spend per UTC day, micros. */
  readonly dailyBudgetMicros: number | null
  /** Spend over the whole flight, micros. */
  readonly lifetimeBudgetMicros: number | null
  /** Billed impressions over the whole flight. */
  readonly impressionGoal: number | null
  /** Flight, epoch ms: start inclusive, end exclusive; null = open. */
  readonly startMs: number | null
  readonly endMs: number | null
  readonly pacing: PacingMode
  /** Per user; every cap applies, so the most restrictive one decides. */
  readonly frequencyCaps: readonly FrequencyCap[]
}

export type CampaignStatus = 'active' | 'paused'
export const CAMPAIGN_STATUSES: readonly CampaignStatus[] = ['active', 'paused']

/**
 * EVEN spreads delivery over the day (daily budget) or the flight; ASAP spends as fast as demand
 * allows; FRONTLOADED follows a plan that runs ahead early (1 − (1 − f)²) and eases off later.
 */
export type PacingMode = 'EVEN' | 'ASAP' | 'FRONTLOADED'
export const PACING_MODES: readonly PacingMode[] = ['EVEN', 'ASAP', 'FRONTLOADED']

/** Same id rule as an ad's `campaign` field (catalog/ad-input.ts). */
export const CAMPAIGN_ID = /^[A-Za-z0-9_.:-]{1,64}$/

/** Budgets above this (1e9 currency units) are typos, not plans; also keeps Lua arithmetic exact. */
export const MAX_MICROS = 1e15
const MAX_GOAL = 1e12
const MAX_CAP = 1_000_000

/** The one-impression cost of an ad at `cpmMicros`, rounded up to whole micros (never under-charged). */
export function impressionCostMicros(cpmMicros: number): number {
  return Math.ceil(cpmMicros / 1000)
}

/** A campaign has something to protect: spend or impressions are limited, so it needs a lease. */
export function isBudgeted(c: Campaign): boolean {
  return c.dailyBudgetMicros !== null || c.lifetimeBudgetMicros !== null || c.impressionGoal !== null
}

/** Active and inside its flight at `nowMs`. */
export function isLive(c: Campaign, nowMs: number): boolean {
  return (
    c.status === 'active' &&
    (c.startMs === null || nowMs >= c.startMs) &&
    (c.endMs === null || nowMs < c.endMs)
  )
}

export type CampaignParse = { readonly campaign: Campaign } | { readonly problems: string[] }

/**
 * Validates a campaign from the admin API's JSON. Every problem is reported at once. Dates are epoch
 * ms (`startMs`/`endMs`) or ISO-8601 strings (`start`/`end`).
 */
export function parseCampaignInput(value: unknown): CampaignParse {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { problems: ['a campaign must be a JSON object'] }
  }
  const v = value as Record<string, unknown>
  const problems: string[] = []
  const id = v['id']
  if (typeof id !== 'string' || !CAMPAIGN_ID.test(id)) problems.push('id must be 1-64 of A-Z a-z 0-9 _ . : -')
  const name = v['name'] ?? id
  if (typeof name !== 'string' || name.length > 200) problems.push('name must be a string of at most 200')
  const status = v['status'] ?? 'active'
  if (!CAMPAIGN_STATUSES.includes(status as CampaignStatus)) problems.push('status must be active or paused')
  const pacing = typeof v['pacing'] === 'string' ? v['pacing'].toUpperCase() : (v['pacing'] ?? 'EVEN')
  if (!PACING_MODES.includes(pacing as PacingMode))
    problems.push(`pacing must be one of ${PACING_MODES.join(', ')}`)
  const startMs = readTime(v, 'startMs', 'start', problems)
  const endMs = readTime(v, 'endMs', 'end', problems)
  if (startMs !== null && endMs !== null && endMs <= startMs) problems.push('end must be after start')
  const campaign: Campaign = {
    id: id as string,
    name: name as string,
    status: status as CampaignStatus,
    dailyBudgetMicros: readLimit(v['dailyBudgetMicros'], 'dailyBudgetMicros', MAX_MICROS, problems),
    lifetimeBudgetMicros: readLimit(v['lifetimeBudgetMicros'], 'lifetimeBudgetMicros', MAX_MICROS, problems),
    impressionGoal: readLimit(v['impressionGoal'], 'impressionGoal', MAX_GOAL, problems),
    startMs,
    endMs,
    pacing: pacing as PacingMode,
    frequencyCaps: readCaps(v['frequencyCaps'], problems),
  }
  return problems.length > 0 ? { problems } : { campaign }
}

function readLimit(v: unknown, field: string, max: number, problems: string[]): number | null {
  if (v === undefined || v === null) return null
  const n = typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0 || n > max) {
    problems.push(`${field} must be an integer from 0 to ${max} (micros for money), or null for no limit`)
    return null
  }
  return n
}

function readTime(v: Record<string, unknown>, msField: string, isoField: string, problems: string[]) {
  const ms = v[msField]
  if (ms !== undefined && ms !== null) {
    if (typeof ms === 'number' && Number.isSafeInteger(ms) && ms >= 0) return ms
    problems.push(`${msField} must be epoch milliseconds`)
    return null
  }
  const iso = v[isoField]
  if (iso === undefined || iso === null) return null
  const parsed = typeof iso === 'string' ? Date.parse(iso) : Number.NaN
  if (Number.isNaN(parsed)) {
    problems.push(`${isoField} must be an ISO-8601 date-time`)
    return null
  }
  return parsed
}

function readCaps(v: unknown, problems: string[]): FrequencyCap[] {
  if (v === undefined || v === null) return []
  if (!Array.isArray(v) || v.length > 10) {
    problems.push('frequencyCaps must be an array of at most 10 {window, max}')
    return []
  }
  const caps: FrequencyCap[] = []
  for (const [i, raw] of v.entries()) {
    const c = raw as { window?: unknown; max?: unknown }
    const window = c?.window
    const max = c?.max
    if (!FREQUENCY_WINDOWS.includes(window as FrequencyWindow)) {
      problems.push(`frequencyCaps[${i}].window must be one of ${FREQUENCY_WINDOWS.join(', ')}`)
    } else if (typeof max !== 'number' || !Number.isSafeInteger(max) || max < 1 || max > MAX_CAP) {
      problems.push(`frequencyCaps[${i}].max must be an integer from 1 to ${MAX_CAP}`)
    } else caps.push({ window: window as FrequencyWindow, max })
  }
  return normaliseCaps(caps)
}

/** One cap per window, the lowest given: two caps on one window can only mean the stricter one. */
export function normaliseCaps(caps: readonly FrequencyCap[]): FrequencyCap[] {
  const byWindow = new Map<FrequencyWindow, number>()
  for (const c of caps) byWindow.set(c.window, Math.min(c.max, byWindow.get(c.window) ?? c.max))
  return FREQUENCY_WINDOWS.filter((w) => byWindow.has(w)).map((w) => ({ window: w, max: byWindow.get(w)! }))
}

/** The admin API's JSON form (the same fields `parseCampaignInput` reads). */
export function campaignToJson(c: Campaign): Record<string, unknown> {
  return {
    id: c.id,
    name: c.name,
    status: c.status,
    dailyBudgetMicros: c.dailyBudgetMicros,
    lifetimeBudgetMicros: c.lifetimeBudgetMicros,
    impressionGoal: c.impressionGoal,
    startMs: c.startMs,
    endMs: c.endMs,
    pacing: c.pacing,
    frequencyCaps: c.frequencyCaps.map((cap) => ({ window: cap.window, max: cap.max })),
  }
}

/**
 * The `ad:campaign:{c:ID}` hash fields, as operators write them with redis-cli: integers as decimal
 * strings, caps as `window:max` pairs joined by commas (`day:3,hour:1`). Unlimited fields are left out.
 */
export function campaignToFields(c: Campaign): Record<string, string> {
  const f: Record<string, string> = { id: c.id, name: c.name, status: c.status, pacing: c.pacing }
  if (c.dailyBudgetMicros !== null) f['dailyBudgetMicros'] = String(c.dailyBudgetMicros)
  if (c.lifetimeBudgetMicros !== null) f['lifetimeBudgetMicros'] = String(c.lifetimeBudgetMicros)
  if (c.impressionGoal !== null) f['impressionGoal'] = String(c.impressionGoal)
  if (c.startMs !== null) f['startMs'] = String(c.startMs)
  if (c.endMs !== null) f['endMs'] = String(c.endMs)
  if (c.frequencyCaps.length > 0)
    f['frequencyCaps'] = c.frequencyCaps.map((x) => `${x.window}:${x.max}`).join(',')
  return f
}

/** Reads a hash written by `campaignToFields` or by hand; the id comes from the key. */
export function fieldsToCampaign(id: string, f: Readonly<Record<string, string>>): CampaignParse {
  const caps: { window: string; max: number }[] = []
  const problems: string[] = []
  for (const part of (f['frequencyCaps'] ?? '').split(',')) {
    if (part.trim() === '') continue
    const [window, max] = part.split(':')
    if (window === undefined || max === undefined || !/^\d+$/.test(max.trim())) {
      problems.push(`frequencyCaps: "${part}" is not window:max`)
    } else caps.push({ window: window.trim(), max: Number(max.trim()) })
  }
  const intOrNull = (s: string | undefined) => (s === undefined || s.trim() === '' ? null : s.trim())
  const parsed = parseCampaignInput({
    id,
    name: f['name'] ?? id,
    status: f['status'] ?? 'active',
    pacing: f['pacing'] ?? 'EVEN',
    dailyBudgetMicros: intOrNull(f['dailyBudgetMicros']),
    lifetimeBudgetMicros: intOrNull(f['lifetimeBudgetMicros']),
    impressionGoal: intOrNull(f['impressionGoal']),
    startMs: numberOrNull(f['startMs']),
    endMs: numberOrNull(f['endMs']),
    frequencyCaps: caps,
  })
  if (problems.length === 0) return parsed
  return { problems: 'problems' in parsed ? [...problems, ...parsed.problems] : problems }
}

function numberOrNull(s: string | undefined): number | null {
  if (s === undefined || s.trim() === '') return null
  return Number(s)
}
