import type { AdRecord } from '../catalog/ad.js'
import { ExchangeError } from '../errors.js'
import { decodeCounters } from '../pacing/frequency.js'
import {
  type ContextData,
  type ContextKind,
  type DecorationKeys,
  type DecorationWant,
  EMPTY_DECORATION,
  type ExchangeStore,
  type PublisherSettings,
  type StoreDecoration,
  type StoreLog,
  Want,
} from './store.js'

/**
 * The data behind in-memory stores. One per process normally; tests hand the same one to two
 * stores to play two exchange instances sharing a Dragonfly (peers see each other's writes and
 * doorbells), which is what the contract suite checks for both kinds.
 */
export interface MemoryStoreData {
  readonly ads: Map<string, AdRecord>
  readonly categories: Map<string, Set<string>>
  readonly users: Map<string, readonly string[]>
  readonly domains: Map<string, ContextData>
  readonly pages: Map<string, ContextData>
  readonly publishers: Map<string, PublisherSettings>
  /** user → `ad:fc:{u:ID}` fields; written by the memory pacing store (memory-pacing-store.ts). */
  readonly frequency: Map<string, Map<string, string>>
  readonly peers: Set<(version: number) => void>
  version: number
}

export function createMemoryStoreData(): MemoryStoreData {
  return {
    ads: new Map(),
    categories: new Map(),
    users: new Map(),
    domains: new Map(),
    pages: new Map(),
    publishers: new Map(),
    frequency: new Map(),
    peers: new Set(),
    version: 0,
  }
}

export interface MemoryStoreOptions {
  readonly data?: MemoryStoreData
  readonly log?: StoreLog
}

const CLOSED = new ExchangeError('EX_ERR_STORE_UNAVAILABLE', 'the store is closed')

/**
 * The embedded store: the default when no DRAGONFLY_URL is set (one instance, data lost on exit).
 * Same semantics as the Dragonfly store, so the app and the contract suite cannot tell them apart.
 */
export function createMemoryStore(options: MemoryStoreOptions = {}): ExchangeStore {
  const data = options.data ?? createMemoryStoreData()
  const listeners = new Set<(version: number) => void>()
  let isClosed = false

  // Delivered on a later turn, like a pub/sub message: a writer never runs listeners inside its own call.
  const ring = (version: number): void => {
    setImmediate(() => {
      for (const listener of listeners) {
        try {
          listener(version)
        } catch (err) {
          options.log?.warn({ err: (err as Error).message }, 'catalog change listener threw')
        }
      }
    })
  }
  data.peers.add(ring)

  function bumpVersion(): void {
    data.version += 1
    for (const peer of data.peers) peer(data.version)
  }

  function guard(): void {
    if (isClosed) throw CLOSED
  }

  function removeFromCategory(category: string, id: string): void {
    const members = data.categories.get(category)
    if (members === undefined) return
    members.delete(id)
    if (members.size === 0) data.categories.delete(category)
  }

  const store: ExchangeStore = {
    kind: 'memory',
    async connect() {
      return !isClosed
    },

    fetchDecoration(keys: DecorationKeys, want: DecorationWant): Promise<StoreDecoration> {
      if (isClosed) return Promise.reject(CLOSED)
      const userCategories =
        (want & Want.user) !== 0 && keys.userId !== null ? (data.users.get(keys.userId) ?? null) : null
      const pageContext =
        (want & Want.page) !== 0 && keys.pageUrl !== null ? (data.pages.get(keys.pageUrl) ?? null) : null
      const domainContext =
        (want & Want.domain) !== 0 && keys.domain !== null ? (data.domains.get(keys.domain) ?? null) : null
      const publisher =
        (want & Want.publisher) !== 0 && keys.publisherId !== null
          ? (data.publishers.get(keys.publisherId) ?? null)
          : null
      if ((want & Want.frequency) !== 0 && keys.userId !== null) {
        const frequency = decodeCounters(data.frequency.get(keys.userId) ?? [], Date.now())
        return Promise.resolve({ userCategories, pageContext, domainContext, publisher, frequency })
      }
      if (userCategories === null && pageContext === null && domainContext === null && publisher === null) {
        return Promise.resolve(EMPTY_DECORATION)
      }
      return Promise.resolve({ userCategories, pageContext, domainContext, publisher })
    },

    async loadAds() {
      guard()
      return [...data.ads.values()]
    },

    async getAd(id) {
      guard()
      return data.ads.get(id) ?? null
    },

    async putAd(ad) {
      guard()
      const previous = data.ads.get(ad.id)
      if (previous !== undefined && previous.category !== ad.category)
        removeFromCategory(previous.category, ad.id)
      data.ads.set(ad.id, ad)
      let members = data.categories.get(ad.category)
      if (members === undefined) data.categories.set(ad.category, (members = new Set()))
      members.add(ad.id)
      bumpVersion()
    },

    async deleteAd(id) {
      guard()
      const previous = data.ads.get(id)
      if (previous === undefined) return false
      data.ads.delete(id)
      removeFromCategory(previous.category, id)
      bumpVersion()
      return true
    },

    async setUserPreferences(userId, categories) {
      guard()
      if (categories.length === 0) data.users.delete(userId)
      else data.users.set(userId, Object.freeze([...new Set(categories)]))
    },

    async getUserPreferences(userId) {
      guard()
      return data.users.get(userId) ?? []
    },

    async adIdsInCategories(categories) {
      guard()
      const ids = new Set<string>()
      for (const category of categories) {
        for (const id of data.categories.get(category) ?? []) ids.add(id)
      }
      return [...ids]
    },

    async putContext(kind: ContextKind, key: string, context: ContextData) {
      guard()
      const frozen = Object.freeze({
        categories: Object.freeze([...context.categories]),
        brandSafetyFlags: Object.freeze([...context.brandSafetyFlags]),
        sentiment: context.sentiment,
      })
      ;(kind === 'domain' ? data.domains : data.pages).set(key, frozen)
    },

    async putPublisher(publisherId, settings) {
      guard()
      data.publishers.set(
        publisherId,
        Object.freeze({
          floorCpm: settings.floorCpm,
          bcat: Object.freeze([...settings.bcat]),
          badv: Object.freeze([...settings.badv]),
        }),
      )
    },

    async catalogVersion() {
      guard()
      return data.version
    },

    onCatalogChange(listener) {
      listeners.add(listener)
      return () => {
        listeners.delete(listener)
      }
    },

    isAvailable() {
      return !isClosed
    },

    async close() {
      isClosed = true
      listeners.clear()
      data.peers.delete(ring)
    },
  }
  FREQUENCY_OF.set(store, data.frequency)
  return store
}

const FREQUENCY_OF = new WeakMap<ExchangeStore, Map<string, Map<string, string>>>()

/**
 * The frequency counters behind a memory store, which the memory pacing store increments (one
 * process, no Dragonfly: both halves share the map). Null for any other store.
 */
export function memoryFrequencyOf(store: ExchangeStore): Map<string, Map<string, string>> | null {
  return FREQUENCY_OF.get(store) ?? null
}
