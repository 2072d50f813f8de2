import { setBit } from '../../../catalog/bitset.js'
import { type CatalogIndex, DAYPART_WORDS, USER_TIMEZONE } from '../../../catalog/catalog-index.js'
import { type AdFilter, BitsetTerm } from '../ad-filter.js'
import type { FilterInput } from '../filter-input.js'

/**
 * The flight: start <= now < end. Indexed, a deny term over the creatives of the ads out of flight
 * now: a bitset kept per catalog and rebuilt only when the clock crosses a flight start or end
 * (it is valid for every `now` in [validFrom, validUntil)), so an auction pays nothing for it but
 * the AND. Per candidate, two typed-array columns.
 */
export class FlightFilter implements AdFilter {
  readonly name = 'flight'
  readonly form = 'term'
  readonly scope = 'request'
  readonly term = new BitsetTerm()
  readonly #deny: Uint32Array
  #validFrom = Number.POSITIVE_INFINITY
  #validUntil = Number.NEGATIVE_INFINITY
  #deniedAds = 0
  constructor(readonly ix: CatalogIndex) {
    this.#deny = new Uint32Array(ix.hasFlights ? ix.wordCount : 0)
  }

  prepare(x: FilterInput): boolean {
    if (!this.ix.hasFlights) return false
    const now = x.nowMs
    if (now < this.#validFrom || now >= this.#validUntil) this.#rebuild(now)
    if (this.#deniedAds === 0) return false
    this.term.reset(true)
    this.term.add(this.#deny)
    return true
  }

  /** The ads out of flight at `now`, and the span of time over which that set holds. */
  #rebuild(now: number): void {
    const ix = this.ix
    const deny = this.#deny
    deny.fill(0)
    let from = Number.NEGATIVE_INFINITY
    let until = Number.POSITIVE_INFINITY
    let denied = 0
    for (let a = 0; a < ix.ads.length; a++) {
      const start = ix.flightStartMs[a]!
      const end = ix.flightEndMs[a]!
      if (start <= now) from = Math.max(from, start)
      else until = Math.min(until, start)
      if (end <= now) from = Math.max(from, end)
      else until = Math.min(until, end)
      if (start <= now && now < end) continue
      denied++
      markAd(ix, deny, a)
    }
    this.#validFrom = from
    this.#validUntil = until
    this.#deniedAds = denied
  }

  keep(ords: Int32Array, n: number, x: FilterInput): number {
    const adOfOrd = this.ix.creativeAd
    const start = this.ix.flightStartMs
    const end = this.ix.flightEndMs
    const now = x.nowMs
    let k = 0
    for (let i = 0; i < n; i++) {
      const o = ords[i]!
      const a = adOfOrd[o]!
      if (start[a]! <= now && now < end[a]!) ords[k++] = o
    }
    return k
  }

  detail(ord: number, x: FilterInput): string {
    const a = this.ix.creativeAd[ord]!
    return x.nowMs < this.ix.flightStartMs[a]! ? 'not started' : 'ended'
  }
}

/** Sets the bits of ad `a`'s creatives. */
function markAd(ix: CatalogIndex, words: Uint32Array, a: number): void {
  const byRank = ix.byRank
  for (let r = ix.adOrdStart[a]!, end = ix.adOrdStart[a + 1]!; r < end; r++) setBit(words, byRank[r]!)
}

/** Epoch day 0 (1970-01-01) was a Thursday: hour-of-week 4 × 24 with Sunday = 0. */
const EPOCH_HOUR_OF_WEEK = 96
const HOURS_PER_WEEK = 168

/** Hour of the week (0 = Sunday 00:00) at `minutes` since the epoch, local time. */
export function hourOfWeek(minutes: number): number {
  const h = (Math.floor(minutes / 60) + EPOCH_HOUR_OF_WEEK) % HOURS_PER_WEEK
  return h < 0 ? h + HOURS_PER_WEEK : h
}

/**
 * Dayparting: the ad's hour-of-week mask, read at its fixed offset or the user's. Indexed, a deny
 * term of up to two bitsets kept per catalog: the fixed-offset ads off now (rebuilt when the
 * minute changes), and the user-timezone ads off at the user's hour of the week (one bitset per
 * hour, built the first time a request falls in it). Per candidate, the ad's mask.
 */
export class DaypartFilter implements AdFilter {
  readonly name = 'daypart'
  readonly form = 'term'
  readonly scope = 'request'
  readonly term = new BitsetTerm()
  #userHour = 0
  /** Ads with a daypart, by how they read the hour. */
  readonly #fixedAds: Int32Array
  readonly #userAds: Int32Array
  readonly #fixedDeny: Uint32Array
  #fixedMinute = Number.NaN
  #fixedDenied = 0
  /** Per hour of the week: the user-timezone ads off then (null: none, or not built yet). */
  readonly #userDeny: (Uint32Array | null)[] = new Array(HOURS_PER_WEEK).fill(null)
  readonly #userBuilt = new Uint8Array(HOURS_PER_WEEK)
  constructor(readonly ix: CatalogIndex) {
    const fixed: number[] = []
    const user: number[] = []
    for (let a = 0; a < ix.ads.length; a++) {
      if (ix.hasDaypart[a] === 0) continue
      ;(ix.daypartOffsetMinutes[a] === USER_TIMEZONE ? user : fixed).push(a)
    }
    this.#fixedAds = Int32Array.from(fixed)
    this.#userAds = Int32Array.from(user)
    this.#fixedDeny = new Uint32Array(fixed.length > 0 ? ix.wordCount : 0)
  }

  prepare(x: FilterInput): boolean {
    if (!this.ix.hasDayparts) return false
    this.#userHour = hourOfWeek(x.nowMinutes + x.userUtcOffsetMinutes)
    this.term.reset(true)
    if (this.#fixedAds.length > 0) {
      if (x.nowMinutes !== this.#fixedMinute) this.#rebuildFixed(x.nowMinutes)
      if (this.#fixedDenied > 0) this.term.add(this.#fixedDeny)
    }
    if (this.#userAds.length > 0) this.term.add(this.#userDenyAt(this.#userHour))
    return this.term.count > 0
  }

  #rebuildFixed(nowMinutes: number): void {
    const ix = this.ix
    const deny = this.#fixedDeny
    deny.fill(0)
    let denied = 0
    for (let i = 0; i < this.#fixedAds.length; i++) {
      const a = this.#fixedAds[i]!
      if (isOnAt(ix, a, hourOfWeek(nowMinutes + ix.daypartOffsetMinutes[a]!))) continue
      denied++
      markAd(ix, deny, a)
    }
    this.#fixedMinute = nowMinutes
    this.#fixedDenied = denied
  }

  #userDenyAt(hour: number): Uint32Array | null {
    if (this.#userBuilt[hour] === 1) return this.#userDeny[hour]!
    const ix = this.ix
    let deny: Uint32Array | null = null
    for (let i = 0; i < this.#userAds.length; i++) {
      const a = this.#userAds[i]!
      if (!isOnAt(ix, a, hour)) markAd(ix, (deny ??= new Uint32Array(ix.wordCount)), a)
    }
    this.#userDeny[hour] = deny
    this.#userBuilt[hour] = 1
    return deny
  }

  keep(ords: Int32Array, n: number, x: FilterInput): number {
    const ix = this.ix
    let k = 0
    for (let i = 0; i < n; i++) {
      const o = ords[i]!
      const a = ix.creativeAd[o]!
      if (ix.hasDaypart[a] === 0 || this.#isOn(a, x)) ords[k++] = o
    }
    return k
  }

  #isOn(a: number, x: FilterInput): boolean {
    const offset = this.ix.daypartOffsetMinutes[a]!
    return isOnAt(this.ix, a, offset === USER_TIMEZONE ? this.#userHour : hourOfWeek(x.nowMinutes + offset))
  }

  detail(ord: number, x: FilterInput): string {
    const offset = this.ix.daypartOffsetMinutes[this.ix.creativeAd[ord]!]!
    const hour = offset === USER_TIMEZONE ? this.#userHour : hourOfWeek(x.nowMinutes + offset)
    return `day ${Math.floor(hour / 24)} hour ${hour % 24}`
  }
}

/** Is ad `a` on at hour-of-week `hour` (its own clock)? */
function isOnAt(ix: CatalogIndex, a: number, hour: number): boolean {
  return ((ix.daypartMask[a * DAYPART_WORDS + (hour >>> 5)]! >>> (hour & 31)) & 1) === 1
}
