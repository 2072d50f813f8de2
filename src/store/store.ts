import type { AdRecord } from '../catalog/ad.js'
import type { FrequencyCounts } from '../pacing/frequency.js'

/**
 * The exchange's shared data, behind one interface: Dragonfly (ioredis) in production, an in-memory
 * map for a single instance and for tests. Only src/store/ imports ioredis; the rest of the app sees this.
 */
export interface ExchangeStore {
  readonly kind: 'memory' | 'dragonfly'
  /**
   * Starts the connections. Never rejects: resolves true once the store answers, false when it is
   * unreachable now (it keeps reconnecting in the background; the exchange serves without it).
   */
  connect(): Promise<boolean>
  /**
   * Everything one auction needs from the store, in ONE round trip. Only the parts named in `want`
   * whose key is non-null are fetched; the others come back null. Rejects on store error or timeout.
   */
  fetchDecoration(keys: DecorationKeys, want: DecorationWant): Promise<StoreDecoration>

  // The house-ad catalog and admin writes (off the request path; longer timeouts).
  loadAds(): Promise<AdRecord[]>
  getAd(id: string): Promise<AdRecord | null>
  /** Creates or replaces the ad and its category membership, bumps the catalog version, rings the doorbell. */
  putAd(ad: AdRecord): Promise<void>
  /** False when there was no such ad. */
  deleteAd(id: string): Promise<boolean>
  /** Replaces the user's preferred categories (an empty list removes them). */
  setUserPreferences(userId: string, categories: readonly string[]): Promise<void>
  /** Empty when the user has none. */
  getUserPreferences(userId: string): Promise<readonly string[]>
  /** Ids of the ads in any of these categories, each once. */
  adIdsInCategories(categories: readonly string[]): Promise<string[]>
  putContext(kind: ContextKind, key: string, data: ContextData): Promise<void>
  putPublisher(publisherId: string, settings: PublisherSettings): Promise<void>
  /** 0 when the catalog was never written. */
  catalogVersion(): Promise<number>
  /**
   * Calls back with the new version whenever any instance changes the catalog (pub/sub doorbell,
   * plus a periodic version check and a check after every reconnect, for lost messages).
   * Returns an unsubscribe.
   */
  onCatalogChange(listener: (version: number) => void): () => void
  /** True while the store answers (for readiness and metrics); never throws. */
  isAvailable(): boolean
  close(): Promise<void>
}

/** The lookup keys of one auction; null = the request does not carry it. */
export interface DecorationKeys {
  readonly userId: string | null
  readonly domain: string | null
  readonly pageUrl: string | null
  readonly publisherId: string | null
}

/** Contextual data of a page or a domain. */
export interface ContextData {
  readonly categories: readonly string[]
  /** Non-empty = unsafe for brand-safe ads. */
  readonly brandSafetyFlags: readonly string[]
  readonly sentiment: Sentiment | null
}

export type Sentiment = 'positive' | 'neutral' | 'negative'
export type ContextKind = 'domain' | 'page'

export interface PublisherSettings {
  /** CPM in the exchange currency; null = no publisher floor. */
  readonly floorCpm: number | null
  readonly bcat: readonly string[]
  readonly badv: readonly string[]
}

/** What the store holds for one auction; null = no such key (or not asked for). */
export interface StoreDecoration {
  readonly userCategories: readonly string[] | null
  readonly pageContext: ContextData | null
  readonly domainContext: ContextData | null
  readonly publisher: PublisherSettings | null
  /**
   * The user's frequency counters (`ad:fc:{u:ID}`), present only when `Want.frequency` was asked and
   * the request has a user id; an empty map when the user has none.
   */
  readonly frequency?: FrequencyCounts
}

/**
 * Which parts of a decoration to fetch: a bit set of `Want` flags. A number rather than an object,
 * so asking costs no allocation on the request path.
 */
export type DecorationWant = number

export const Want = {
  user: 1,
  page: 2,
  domain: 4,
  publisher: 8,
  all: 15,
  /** Opt-in (not in `all`): the user's frequency counters, for the pace stage's caps. */
  frequency: 16,
} as const

/** The answer when nothing is found or nothing was asked: shared, so it costs no allocation. */
export const EMPTY_DECORATION: StoreDecoration = Object.freeze({
  userCategories: null,
  pageContext: null,
  domainContext: null,
  publisher: null,
})

/** What the store logs (pino's Logger fits). */
export interface StoreLog {
  warn(obj: object, msg: string): void
  info(obj: object, msg: string): void
}

export interface StoreOptions {
  readonly log: StoreLog
  /**
   * Per-command timeout of the request-path connection (decoration reads). A few ms: past it the
   * auction goes on undecorated, so waiting longer only holds the request.
   */
  readonly commandTimeoutMs?: number
  /** Per-command timeout of the admin/catalog connection (writes, catalog loads). */
  readonly adminTimeoutMs?: number
  /** How long connect() waits for the first connection before giving up (and retrying in the background). */
  readonly connectTimeoutMs?: number
  /** Period of the catalog version check that covers lost pub/sub messages. */
  readonly versionCheckMs?: number
}

export const STORE_DEFAULTS = {
  commandTimeoutMs: 5,
  adminTimeoutMs: 2_000,
  connectTimeoutMs: 1_000,
  versionCheckMs: 5_000,
} as const
