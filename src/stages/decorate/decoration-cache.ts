import type { FrequencyCounts } from '../../pacing/frequency.js'
import {
  type ContextData,
  type DecorationKeys,
  type ExchangeStore,
  type PublisherSettings,
  type StoreDecoration,
  Want,
} from '../../store/store.js'

/**
 * What the store knows about one auction, and where it came from:
 * - 'cache': every part from the in-process cache (or nothing to look up), synchronously;
 * - 'store': at least one part had to come from the store, and it answered in time;
 * - 'partial' / 'none': the store was slow, failing or down; the parts the cache had are filled in
 *   ('partial') or there were none ('none'). The auction goes on undecorated for the rest.
 */
export interface Decoration extends StoreDecoration {
  readonly source: 'cache' | 'store' | 'partial' | 'none'
}

export type DecorationOutcome = 'hit' | 'miss' | 'timeout' | 'error'

export interface DecoratorDeps {
  readonly store: Pick<ExchangeStore, 'fetchDecoration' | 'isAvailable'>
  /** How long a found part is reused before it is fetched again. */
  readonly ttlMs: number
  /** How long "no such key" is remembered: shorter, so new data shows up soon. */
  readonly negativeTtlMs: number
  /** Entries kept per part (users, pages, domains, publishers); the oldest go first. */
  readonly maxEntries: number
  /**
   * Also read the user's frequency counters (Want.frequency) in the same round trip, reused this
   * long (short: billings move them). Absent = not read, and decorations carry no `frequency`.
   */
  readonly frequencyTtlMs?: number
  /** How long an auction waits for the store on a miss before going on without it. */
  readonly deadlineMs: number
  /** Clock in ms (tests pass a fake one). */
  readonly now?: () => number
  /** One call per decorate(): 'hit' = no store call needed. */
  readonly onOutcome?: (outcome: DecorationOutcome) => void
}

export interface Decorator {
  /** Synchronous on a full cache hit; otherwise one store round trip for every missing part. */
  decorate(keys: DecorationKeys): Decoration | Promise<Decoration>
  /** Forgets everything; answers to fetches already under way are not cached. */
  clear(): void
  /** Entries held, over all parts. */
  readonly size: number
}

interface Entry<T> {
  /** null = the store has no such key (negative entry). */
  readonly value: T | null
  readonly expiresAt: number
}

/**
 * A bounded TTL map. Eviction is first-in-first-out on insert: no per-hit bookkeeping, so a hit
 * costs one Map lookup. A hot key is re-inserted (moved to the back) every time it expires and is
 * fetched again, which makes this LRU-ish at TTL granularity.
 */
class PartCache<T> {
  readonly #entries = new Map<string, Entry<T>>()
  /** One store fetch per key at a time; concurrent auctions missing it share the fetch. */
  readonly inFlight = new Map<string, Promise<boolean>>()

  constructor(readonly maxEntries: number) {}

  get size(): number {
    return this.#entries.size
  }

  /** The live entry, or undefined when absent or expired. */
  get(key: string, now: number): Entry<T> | undefined {
    const entry = this.#entries.get(key)
    return entry !== undefined && entry.expiresAt > now ? entry : undefined
  }

  set(key: string, value: T | null, expiresAt: number): void {
    if (!this.#entries.delete(key) && this.#entries.size >= this.maxEntries) {
      const oldest = this.#entries.keys().next()
      if (oldest.done !== true) this.#entries.delete(oldest.value)
    }
    this.#entries.set(key, { value, expiresAt })
  }

  clear(): void {
    this.#entries.clear()
    this.inFlight.clear()
  }
}

/** Every part null, from the cache: shared, so auctions without keys allocate nothing. */
const NOTHING_CACHED: Decoration = Object.freeze({
  userCategories: null,
  pageContext: null,
  domainContext: null,
  publisher: null,
  source: 'cache',
})

/**
 * Cache-aside decoration (DESIGN.md §2): an in-process cache per part in front of the store. A full
 * hit answers synchronously. On a miss, ONE store round trip fetches every missing part of the
 * auction (parts another auction is already fetching are shared, not fetched twice), raced against
 * `deadlineMs` with one timer. Past the deadline, on a store error, or while the store is down,
 * the auction gets what the cache had: fail-open. A late answer still fills the cache.
 */
export function createDecorator(deps: DecoratorDeps): Decorator {
  const { store, ttlMs, negativeTtlMs, deadlineMs, onOutcome } = deps
  for (const [name, value] of Object.entries({
    ttlMs,
    negativeTtlMs,
    deadlineMs,
    maxEntries: deps.maxEntries,
  })) {
    if (!(value > 0)) throw new RangeError(`createDecorator: ${name} must be positive, got ${value}`)
  }
  const now = deps.now ?? (() => performance.now())
  const users = new PartCache<readonly string[]>(deps.maxEntries)
  const pages = new PartCache<ContextData>(deps.maxEntries)
  const domains = new PartCache<ContextData>(deps.maxEntries)
  const publishers = new PartCache<PublisherSettings>(deps.maxEntries)
  const counters = new PartCache<FrequencyCounts>(deps.maxEntries)
  const frequencyTtlMs = deps.frequencyTtlMs ?? -1
  const isCounting = frequencyTtlMs >= 0
  /** Bumped by clear(): answers to fetches started before it are dropped. */
  let generation = 0

  function fill(keys: DecorationKeys, want: number, found: StoreDecoration): void {
    const at = now()
    if (want & Want.user) users.set(keys.userId!, found.userCategories, at + ttlFor(found.userCategories))
    if (want & Want.page) pages.set(keys.pageUrl!, found.pageContext, at + ttlFor(found.pageContext))
    if (want & Want.domain) domains.set(keys.domain!, found.domainContext, at + ttlFor(found.domainContext))
    if (want & Want.publisher)
      publishers.set(keys.publisherId!, found.publisher, at + ttlFor(found.publisher))
    if (want & Want.frequency && found.frequency !== undefined) {
      counters.set(keys.userId!, found.frequency, at + frequencyTtlMs)
    }
  }

  function ttlFor(value: unknown): number {
    return value === null ? negativeTtlMs : ttlMs
  }

  function forgetFlight(keys: DecorationKeys, want: number, flight: Promise<boolean>): void {
    if (want & Want.user && users.inFlight.get(keys.userId!) === flight) users.inFlight.delete(keys.userId!)
    if (want & Want.page && pages.inFlight.get(keys.pageUrl!) === flight) pages.inFlight.delete(keys.pageUrl!)
    if (want & Want.domain && domains.inFlight.get(keys.domain!) === flight)
      domains.inFlight.delete(keys.domain!)
    if (want & Want.publisher && publishers.inFlight.get(keys.publisherId!) === flight) {
      publishers.inFlight.delete(keys.publisherId!)
    }
    if (want & Want.frequency && counters.inFlight.get(keys.userId!) === flight)
      counters.inFlight.delete(keys.userId!)
  }

  /** One store round trip for `want`; resolves true when it answered (and filled the cache). */
  function startFlight(keys: DecorationKeys, want: number): Promise<boolean> {
    const startedIn = generation
    let fetched: Promise<StoreDecoration>
    try {
      fetched = store.fetchDecoration(keys, want)
    } catch (err) {
      fetched = Promise.reject(err)
    }
    const flight: Promise<boolean> = fetched.then(
      (found) => {
        forgetFlight(keys, want, flight)
        if (startedIn === generation) fill(keys, want, found)
        return true
      },
      () => {
        forgetFlight(keys, want, flight)
        return false
      },
    )
    if (want & Want.user) users.inFlight.set(keys.userId!, flight)
    if (want & Want.page) pages.inFlight.set(keys.pageUrl!, flight)
    if (want & Want.domain) domains.inFlight.set(keys.domain!, flight)
    if (want & Want.publisher) publishers.inFlight.set(keys.publisherId!, flight)
    if (want & Want.frequency) counters.inFlight.set(keys.userId!, flight)
    return flight
  }

  /** The decoration from what the cache holds now; `isStoreAnswered`: the store answered this auction. */
  function assemble(keys: DecorationKeys, at: number, isStoreAnswered: boolean): Decoration {
    let looked = 0
    let missing = 0
    let userCategories: readonly string[] | null = null
    let pageContext: ContextData | null = null
    let domainContext: ContextData | null = null
    let publisher: PublisherSettings | null = null
    if (keys.userId !== null) {
      looked++
      const e = users.get(keys.userId, at)
      if (e === undefined) missing++
      else userCategories = e.value
    }
    if (keys.pageUrl !== null) {
      looked++
      const e = pages.get(keys.pageUrl, at)
      if (e === undefined) missing++
      else pageContext = e.value
    }
    if (keys.domain !== null) {
      looked++
      const e = domains.get(keys.domain, at)
      if (e === undefined) missing++
      else domainContext = e.value
    }
    if (keys.publisherId !== null) {
      looked++
      const e = publishers.get(keys.publisherId, at)
      if (e === undefined) missing++
      else publisher = e.value
    }
    let frequency: FrequencyCounts | null | undefined
    if (isCounting && keys.userId !== null) {
      looked++
      frequency = counters.get(keys.userId, at)?.value
      if (frequency === undefined) missing++
    }
    const source =
      missing === 0 ? (isStoreAnswered ? 'store' : 'cache') : missing < looked ? 'partial' : 'none'
    // Counters not read stay absent: the pace stage keeps capped ads out (fail-closed).
    if (frequency != null) return { userCategories, pageContext, domainContext, publisher, frequency, source }
    return { userCategories, pageContext, domainContext, publisher, source }
  }

  function miss(keys: DecorationKeys, want: number, at: number): Decoration | Promise<Decoration> {
    // A store known to be down costs nothing: no fetch, no timer, an answer right away.
    if (!store.isAvailable()) {
      onOutcome?.('error')
      return assemble(keys, at, false)
    }
    // Parts another auction is fetching are awaited, not fetched again; the rest go in one round trip.
    const flights: Promise<boolean>[] = []
    let own = want
    const share = (flight: Promise<boolean> | undefined, bit: number) => {
      if (flight === undefined) return
      own &= ~bit
      if (!flights.includes(flight)) flights.push(flight)
    }
    if (want & Want.user) share(users.inFlight.get(keys.userId!), Want.user)
    if (want & Want.page) share(pages.inFlight.get(keys.pageUrl!), Want.page)
    if (want & Want.domain) share(domains.inFlight.get(keys.domain!), Want.domain)
    if (want & Want.publisher) share(publishers.inFlight.get(keys.publisherId!), Want.publisher)
    if (want & Want.frequency) share(counters.inFlight.get(keys.userId!), Want.frequency)
    if (own !== 0) flights.push(startFlight(keys, own))

    return new Promise<Decoration>((resolve) => {
      let pending = flights.length
      let isFailed = false
      let isDone = false
      const finish = (outcome: DecorationOutcome) => {
        if (isDone) return
        isDone = true
        clearTimeout(timer)
        onOutcome?.(outcome)
        resolve(assemble(keys, at, outcome === 'miss'))
      }
      // One timer per miss, cleared on settle (AbortSignal.timeout costs ~5× more).
      const timer = setTimeout(finish, deadlineMs, 'timeout')
      const settle = (isAnswered: boolean) => {
        if (!isAnswered) isFailed = true
        if (--pending === 0) finish(isFailed ? 'error' : 'miss')
      }
      for (const flight of flights) flight.then(settle)
    })
  }

  return {
    decorate(keys) {
      const at = now()
      let want = 0
      let userCategories: readonly string[] | null = null
      let pageContext: ContextData | null = null
      let domainContext: ContextData | null = null
      let publisher: PublisherSettings | null = null
      if (keys.userId !== null) {
        const e = users.get(keys.userId, at)
        if (e === undefined) want |= Want.user
        else userCategories = e.value
      }
      if (keys.pageUrl !== null) {
        const e = pages.get(keys.pageUrl, at)
        if (e === undefined) want |= Want.page
        else pageContext = e.value
      }
      if (keys.domain !== null) {
        const e = domains.get(keys.domain, at)
        if (e === undefined) want |= Want.domain
        else domainContext = e.value
      }
      if (keys.publisherId !== null) {
        const e = publishers.get(keys.publisherId, at)
        if (e === undefined) want |= Want.publisher
        else publisher = e.value
      }
      let frequency: FrequencyCounts | null = null
      if (isCounting && keys.userId !== null) {
        const e = counters.get(keys.userId, at)
        if (e === undefined) want |= Want.frequency
        else frequency = e.value
      }
      if (want !== 0) return miss(keys, want, at)
      onOutcome?.('hit')
      if (frequency !== null)
        return { userCategories, pageContext, domainContext, publisher, frequency, source: 'cache' }
      if (userCategories === null && pageContext === null && domainContext === null && publisher === null) {
        return NOTHING_CACHED
      }
      return { userCategories, pageContext, domainContext, publisher, source: 'cache' }
    },

    clear() {
      generation++
      users.clear()
      pages.clear()
      domains.clear()
      publishers.clear()
      counters.clear()
    },

    get size() {
      return users.size + pages.size + domains.size + publishers.size + counters.size
    },
  }
}
