/**
 * Frequency caps: how many impressions of a campaign one user may see per window. Counters live in
 * one hash per user (`ad:fc:{u:USER}`), field `<w>/<campaignId>` = `<count>:<expiresAtMs>`, where `w`
 * is the window's letter. Each counter's window starts at the user's first impression in it and
 * lasts the window's length (TTL = window), so a cap of 3/day means "at most 3 in the 24 h after the
 * first". Counters are read in the decoration round trip and incremented on the billing notice.
 */
export type FrequencyWindow = 'minute' | 'hour' | 'day' | 'week' | 'lifetime'
export const FREQUENCY_WINDOWS: readonly FrequencyWindow[] = ['minute', 'hour', 'day', 'week', 'lifetime']

export interface FrequencyCap {
  readonly window: FrequencyWindow
  /** Impressions allowed in the window. */
  readonly max: number
}

/** The letter in the hash field, in FREQUENCY_WINDOWS order. */
export const WINDOW_LETTERS = ['m', 'h', 'd', 'w', 'l'] as const

const WINDOW_MS: Readonly<Record<Exclude<FrequencyWindow, 'lifetime'>, number>> = {
  minute: 60_000,
  hour: 3_600_000,
  day: 86_400_000,
  week: 604_800_000,
}

/** A lifetime counter of an open-ended campaign still has to expire some day. */
export const OPEN_LIFETIME_MS = 400 * 86_400_000

/** The window's length from `nowMs`; a lifetime window lasts until a day after the flight ends. */
export function windowMs(window: FrequencyWindow, nowMs: number, campaignEndMs: number | null): number {
  if (window !== 'lifetime') return WINDOW_MS[window]
  return campaignEndMs === null ? OPEN_LIFETIME_MS : Math.max(60_000, campaignEndMs - nowMs + 86_400_000)
}

export function windowIndex(window: FrequencyWindow): number {
  return FREQUENCY_WINDOWS.indexOf(window)
}

/**
 * One user's live counters: per campaign id, the count in each window (FREQUENCY_WINDOWS order).
 * A campaign absent from the map has seen no impression. Read-only once built.
 */
export interface FrequencyCounts extends ReadonlyMap<string, readonly number[]> {
  /** When the store was asked (epoch ms): billings counted locally after this are not in the counts. */
  readonly readAtMs: number
}

class Counts extends Map<string, number[]> implements FrequencyCounts {
  constructor(readonly readAtMs: number) {
    super()
  }
}

/** A user with no live counter, as read at `readAtMs`. */
export function noCounts(readAtMs: number): FrequencyCounts {
  return new Counts(readAtMs)
}

/** `<w>/<campaignId>`: '/' never appears in a campaign id. */
export function counterField(windowIdx: number, campaignId: string): string {
  return `${WINDOW_LETTERS[windowIdx]}/${campaignId}`
}

/**
 * Decodes counter fields (field → `<count>:<expiresAtMs>`) into counts, dropping expired ones and
 * ignoring anything malformed (a hand-written field must not fail the decoration).
 */
export function decodeCounters(
  fields: Iterable<readonly [string, string]>,
  nowMs: number,
  readAtMs = nowMs,
): FrequencyCounts {
  const out = new Counts(readAtMs)
  for (const [field, value] of fields) {
    const slash = field.indexOf('/')
    const idx = slash === 1 ? WINDOW_LETTERS.indexOf(field[0] as (typeof WINDOW_LETTERS)[number]) : -1
    const colon = value.indexOf(':')
    if (idx < 0 || colon < 0) continue
    const count = Number(value.slice(0, colon))
    const expiresAtMs = Number(value.slice(colon + 1))
    if (!(count > 0) || !(expiresAtMs > nowMs)) continue
    const id = field.slice(2)
    let counts = out.get(id)
    if (counts === undefined) out.set(id, (counts = [0, 0, 0, 0, 0]))
    counts[idx] = count
  }
  return out
}

/** Decodes the decoration script's flat form: `field=value` pairs joined by ','. */
export function decodeCounterList(flat: string, nowMs: number, readAtMs = nowMs): FrequencyCounts {
  if (flat === '') return noCounts(readAtMs)
  const pairs: [string, string][] = []
  for (const item of flat.split(',')) {
    const eq = item.indexOf('=')
    if (eq > 0) pairs.push([item.slice(0, eq), item.slice(eq + 1)])
  }
  return decodeCounters(pairs, nowMs, readAtMs)
}

/** A cap with its window's index in the counts resolved once (see CampaignLease.caps). */
export interface IndexedCap {
  readonly max: number
  readonly index: number
}

/**
 * True when one more impression would break a cap. `extra` is what this instance knows the store
 * does not count yet (impressions reserved or billed here since the counters were read).
 */
export function isCapReached(
  caps: readonly IndexedCap[],
  counts: readonly number[] | undefined,
  extra: number,
) {
  for (let i = 0; i < caps.length; i++) {
    const cap = caps[i]!
    const seen = (counts === undefined ? 0 : counts[cap.index]!) + extra
    if (seen >= cap.max) return true
  }
  return false
}

/** Increment arguments for the store: one (window letter, window ms) pair per cap. */
export function capWindows(caps: readonly FrequencyCap[], nowMs: number, campaignEndMs: number | null) {
  return caps.map((cap) => ({
    letter: WINDOW_LETTERS[windowIndex(cap.window)]!,
    ms: windowMs(cap.window, nowMs, campaignEndMs),
  }))
}
