import { type CatalogIndex, DAYPART_WORDS, USER_TIMEZONE } from '../../../catalog/catalog-index.js'
import { type AdFilter, BitsetTerm } from '../ad-filter.js'
import type { FilterInput } from '../filter-input.js'

/** The flight: start <= now < end, from two typed-array columns. */
export class FlightFilter implements AdFilter {
  readonly name = 'flight'
  readonly form = 'predicate'
  readonly scope = 'request'
  readonly term = new BitsetTerm()
  constructor(readonly ix: CatalogIndex) {}

  prepare(): boolean {
    return this.ix.hasFlights
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

/** Epoch day 0 (1970-01-01) was a Thursday: hour-of-week 4 × 24 with Sunday = 0. */
const EPOCH_HOUR_OF_WEEK = 96
const HOURS_PER_WEEK = 168

/** Hour of the week (0 = Sunday 00:00) at `minutes` since the epoch, local time. */
export function hourOfWeek(minutes: number): number {
  const h = (Math.floor(minutes / 60) + EPOCH_HOUR_OF_WEEK) % HOURS_PER_WEEK
  return h < 0 ? h + HOURS_PER_WEEK : h
}

/** Dayparting: the ad's hour-of-week mask, read at its fixed offset or the user's. */
export class DaypartFilter implements AdFilter {
  readonly name = 'daypart'
  readonly form = 'predicate'
  readonly scope = 'request'
  readonly term = new BitsetTerm()
  #userHour = 0
  constructor(readonly ix: CatalogIndex) {}

  prepare(x: FilterInput): boolean {
    if (!this.ix.hasDayparts) return false
    this.#userHour = hourOfWeek(x.nowMinutes + x.userUtcOffsetMinutes)
    return true
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
    const hour = offset === USER_TIMEZONE ? this.#userHour : hourOfWeek(x.nowMinutes + offset)
    return ((this.ix.daypartMask[a * DAYPART_WORDS + (hour >>> 5)]! >>> (hour & 31)) & 1) === 1
  }

  detail(ord: number, x: FilterInput): string {
    const offset = this.ix.daypartOffsetMinutes[this.ix.creativeAd[ord]!]!
    const hour = offset === USER_TIMEZONE ? this.#userHour : hourOfWeek(x.nowMinutes + offset)
    return `day ${Math.floor(hour / 24)} hour ${hour % 24}`
  }
}
