import { type ChainableCommander, Redis } from 'ioredis'
import type { AdRecord } from '../catalog/ad.js'
import { ExchangeError } from '../errors.js'
import { createDecorationFetch, type DecorationFetchStrategy } from './decoration-fetch.js'
import { adToHash, contextToHash, hashToAd, Keys, publisherToHash } from './redis-codec.js'
import {
  type ContextData,
  type ContextKind,
  type ExchangeStore,
  type PublisherSettings,
  STORE_DEFAULTS,
  type StoreLog,
  type StoreOptions,
} from './store.js'

export interface DragonflyStoreOptions extends StoreOptions {
  /** How fetchDecoration talks to the server; see decoration-fetch.ts for the measurements. */
  readonly decorationFetch?: DecorationFetchStrategy
  /** RESP version of the connections (ioredis 6 defaults to 3). */
  readonly protocol?: 2 | 3
}

/** Rejected at once, without a round trip or a stack capture, while the request-path connection is down. */
const UNAVAILABLE = new ExchangeError('EX_ERR_STORE_UNAVAILABLE', 'Dragonfly is not connected')
const LOAD_CHUNK = 500
const WATCH_ATTEMPTS = 5

/** Capped exponential backoff: 100, 200, 400 … 2000 ms, forever (the exchange serves without the store). */
export function reconnectDelayMs(attempt: number): number {
  return Math.min(50 * 2 ** Math.min(attempt, 16), 2_000)
}

/**
 * The store on Dragonfly (or any Redis 7 compatible server) through ioredis. Three connections,
 * because their needs conflict:
 * - `reads`: the request path. A few-ms command timeout, no offline queue (a command while
 *   disconnected fails at once instead of queueing), no retries, no resend after a reconnect.
 * - `admin`: catalog loads and admin writes, with a lenient timeout. Writes are serialised in this
 *   process (WATCH state is per connection) and never retried blindly (INCR is not idempotent).
 * - `sub`: the catalog doorbell (a subscribed connection can issue nothing else). It subscribes
 *   again after every reconnect, and any reconnect triggers a version check, because messages
 *   published while it was away are lost; a periodic check covers the rest.
 */
export function createDragonflyStore(url: string, options: DragonflyStoreOptions): ExchangeStore {
  const { log } = options
  const commandTimeoutMs = options.commandTimeoutMs ?? STORE_DEFAULTS.commandTimeoutMs
  const adminTimeoutMs = options.adminTimeoutMs ?? STORE_DEFAULTS.adminTimeoutMs
  const connectTimeoutMs = options.connectTimeoutMs ?? STORE_DEFAULTS.connectTimeoutMs
  const versionCheckMs = options.versionCheckMs ?? STORE_DEFAULTS.versionCheckMs
  const strategy = options.decorationFetch ?? 'script'

  const base = {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
    retryStrategy: reconnectDelayMs,
    connectTimeout: connectTimeoutMs,
    protocol: options.protocol ?? (3 as 2 | 3),
    disableClientInfo: true,
  }
  const reads = new Redis(url, {
    ...base,
    connectionName: 'exchange-reads',
    commandTimeout: commandTimeoutMs,
    // The ready check is an INFO under the request-path timeout: a slow first reply would drop the
    // connection for nothing. Reads against a server still loading fail fast like any other error.
    enableReadyCheck: false,
    enableAutoPipelining: strategy === 'autopipeline',
  })
  const admin = new Redis(url, { ...base, connectionName: 'exchange-admin', commandTimeout: adminTimeoutMs })
  const sub = new Redis(url, { ...base, connectionName: 'exchange-catalog-events', autoResubscribe: false })
  const fetch = createDecorationFetch(reads, strategy)

  const listeners = new Set<(version: number) => void>()
  let lastVersion = -1 // unknown: the first successful read rings the listeners
  let changeSeq = 0
  let checking: Promise<void> | null = null
  let isCheckAgain = false
  let isClosed = false
  let connecting: Promise<boolean> | null = null
  let writeQueue: Promise<unknown> = Promise.resolve()

  const onReady = () => void checkVersion()
  const isClosing = () => isClosed
  watchConnection(reads, 'reads', log, onReady, isClosing)
  watchConnection(admin, 'admin', log, onReady, isClosing)
  watchConnection(sub, 'catalog-events', log, onReady, isClosing)
  let subscribed: Promise<void> = Promise.resolve()
  sub.on('ready', () => {
    subscribed = sub.subscribe(Keys.catalogEvents).then(
      () => undefined,
      (err: Error) => {
        log.warn(
          { err: err.message },
          'store: subscribing to catalog events failed; the version check covers it',
        )
      },
    )
  })
  sub.on('message', (channel: string, message: string) => {
    if (channel !== Keys.catalogEvents) return
    const version = Number(message)
    if (Number.isSafeInteger(version)) setVersion(version)
  })
  const versionTimer = setInterval(() => void checkVersion(), versionCheckMs)
  versionTimer.unref()

  function setVersion(version: number): void {
    if (version === lastVersion) return
    lastVersion = version
    changeSeq++
    for (const listener of listeners) {
      try {
        listener(version)
      } catch (err) {
        log.warn({ err: (err as Error).message }, 'store: catalog change listener threw')
      }
    }
  }

  /**
   * Reads the version and rings the listeners if it moved. Coalesced: one read at a time, and a
   * call during a read gets another read after it (its trigger may be newer than that read).
   */
  function checkVersion(): Promise<void> {
    if (checking !== null) {
      isCheckAgain = true
      return checking
    }
    const run = (async () => {
      do {
        isCheckAgain = false
        if (isClosed || admin.status !== 'ready') return
        const seq = changeSeq
        try {
          const version = parseVersion(await admin.get(Keys.catalogVersion))
          // A doorbell that arrived while we read is newer than what we read.
          if (seq === changeSeq) setVersion(version)
        } catch (err) {
          log.warn({ err: (err as Error).message }, 'store: catalog version check failed')
        }
      } while (isCheckAgain)
    })()
    checking = run
    // Cleared on a later tick, never synchronously inside the call that set it.
    void run.finally(() => {
      if (checking === run) checking = null
    })
    return run
  }

  /** Admin writes one at a time: WATCH … EXEC on a shared connection must not interleave. */
  function exclusive<T>(write: () => Promise<T>): Promise<T> {
    const run = writeQueue.then(write, write)
    writeQueue = run.catch(() => undefined)
    return run
  }

  /** Runs `build` under WATCH of `key` until EXEC goes through; returns the new catalog version. */
  async function watchedCatalogWrite(
    key: string,
    build: (tx: ChainableCommander, oldCategory: string | null, exists: boolean) => boolean,
  ): Promise<number | null> {
    for (let attempt = 0; attempt < WATCH_ATTEMPTS; attempt++) {
      await admin.watch(key)
      let tx: ChainableCommander
      try {
        const [exists, oldCategory] = await Promise.all([admin.exists(key), admin.hget(key, 'category')])
        tx = admin.multi()
        if (!build(tx, oldCategory, exists === 1)) {
          await admin.unwatch() // the transaction was never sent: nothing to discard
          return null
        }
      } catch (err) {
        await admin.unwatch().catch(() => undefined)
        throw err
      }
      tx.incr(Keys.catalogVersion)
      const results = await tx.exec()
      if (results === null) continue // someone else changed the ad between WATCH and EXEC: read again
      for (const [err] of results) if (err) throw err
      const version = Number(results[results.length - 1]![1])
      // The doorbell: a lost publish is covered by every instance's periodic version check.
      await admin.publish(Keys.catalogEvents, String(version)).catch((err: Error) => {
        log.warn({ err: err.message }, 'store: catalog doorbell publish failed; the version check covers it')
      })
      return version
    }
    throw new ExchangeError('EX_ERR_STORE_UNAVAILABLE', `${key} kept changing under concurrent writes`)
  }

  function readAd(id: string, hash: Record<string, string>): AdRecord | null {
    const parsed = hashToAd(id, hash)
    if ('ad' in parsed) return parsed.ad
    log.warn({ key: Keys.ad(id), problems: parsed.problems }, 'store: skipping an unreadable ad hash')
    return null
  }

  return {
    kind: 'dragonfly',

    connect() {
      connecting ??= (async () => {
        const attempts = [reads, admin, sub].map((c) => c.connect().catch(() => undefined))
        let timer: NodeJS.Timeout | undefined
        const timeout = new Promise<void>((resolve) => {
          timer = setTimeout(resolve, connectTimeoutMs)
        })
        await Promise.race([Promise.all(attempts), timeout])
        clearTimeout(timer)
        const isUp = reads.status === 'ready'
        if (isUp) await Promise.all([subscribed, checkVersion()])
        else
          log.warn(
            { url: redactUrl(url) },
            'store: Dragonfly unreachable at start; serving without it, retrying',
          )
        return isUp
      })()
      return connecting
    },

    fetchDecoration(keys, want) {
      if (reads.status !== 'ready' || isClosed) return Promise.reject(UNAVAILABLE)
      return fetch(keys, want)
    },

    async loadAds() {
      const ids = await admin.smembers(Keys.adIds)
      const ads: AdRecord[] = []
      let missing = 0
      for (let from = 0; from < ids.length; from += LOAD_CHUNK) {
        const chunk = ids.slice(from, from + LOAD_CHUNK)
        const pipe = admin.pipeline()
        for (const id of chunk) pipe.hgetall(Keys.ad(id))
        const results = (await pipe.exec()) ?? []
        for (let i = 0; i < chunk.length; i++) {
          const [err, hash] = results[i] ?? [new Error('no reply'), null]
          if (err) throw err
          if (isEmpty(hash as Record<string, string>)) {
            missing++
            continue
          }
          const ad = readAd(chunk[i]!, hash as Record<string, string>)
          if (ad !== null) ads.push(ad)
        }
      }
      if (missing > 0) log.warn({ missing }, `store: ${Keys.adIds} lists ids with no ad:metadata hash`)
      return ads
    },

    async getAd(id) {
      const hash = await admin.hgetall(Keys.ad(id))
      return isEmpty(hash) ? null : readAd(id, hash)
    },

    putAd(ad) {
      return exclusive(async () => {
        const key = Keys.ad(ad.id)
        await watchedCatalogWrite(key, (tx, oldCategory) => {
          tx.del(key).hset(key, adToHash(ad)).sadd(Keys.adIds, ad.id).sadd(Keys.category(ad.category), ad.id)
          if (oldCategory !== null && oldCategory !== ad.category) tx.srem(Keys.category(oldCategory), ad.id)
          return true
        })
      })
    },

    deleteAd(id) {
      return exclusive(async () => {
        const key = Keys.ad(id)
        const version = await watchedCatalogWrite(key, (tx, oldCategory, exists) => {
          if (!exists) return false
          tx.del(key).srem(Keys.adIds, id)
          if (oldCategory !== null) tx.srem(Keys.category(oldCategory), id)
          return true
        })
        if (version === null) await admin.srem(Keys.adIds, id) // a stale id without a hash: tidy up
        return version !== null
      })
    },

    async setUserPreferences(userId, categories) {
      const key = Keys.userPreference(userId)
      const tx = admin.multi().del(key)
      if (categories.length > 0) tx.sadd(key, ...categories)
      throwOnError(await tx.exec())
    },

    async getUserPreferences(userId) {
      return admin.smembers(Keys.userPreference(userId))
    },

    async adIdsInCategories(categories) {
      if (categories.length === 0) return []
      return admin.sunion(...categories.map(Keys.category))
    },

    async putContext(kind: ContextKind, key: string, data: ContextData) {
      const redisKey = kind === 'domain' ? Keys.domainContext(key) : Keys.pageContext(key)
      throwOnError(await admin.multi().del(redisKey).hset(redisKey, contextToHash(data)).exec())
    },

    async putPublisher(publisherId: string, settings: PublisherSettings) {
      const key = Keys.publisher(publisherId)
      throwOnError(await admin.multi().del(key).hset(key, publisherToHash(settings)).exec())
    },

    async catalogVersion() {
      return parseVersion(await admin.get(Keys.catalogVersion))
    },

    onCatalogChange(listener) {
      listeners.add(listener)
      return () => {
        listeners.delete(listener)
      }
    },

    isAvailable() {
      return !isClosed && reads.status === 'ready'
    },

    async close() {
      if (isClosed) return
      isClosed = true
      clearInterval(versionTimer)
      listeners.clear()
      await Promise.all([reads, admin, sub].map(closeConnection))
    },
  }
}

/**
 * Logs outages once, and calls `onReady` on every (re)connect: messages published while a
 * connection was down are lost, so each one is followed by a version check.
 */
function watchConnection(
  client: Redis,
  name: string,
  log: StoreLog,
  onReady: () => void,
  isClosing: () => boolean,
): void {
  let isReady = false
  let isDownLogged = false
  client.on('ready', () => {
    if (isDownLogged) log.info({ connection: name }, 'store: Dragonfly connection is back')
    isReady = true
    isDownLogged = false
    onReady()
  })
  const down = (err: Error | undefined) => {
    if (isDownLogged || isClosing()) return
    isDownLogged = true
    log.warn(
      { connection: name, err: err?.message ?? 'closed' },
      'store: Dragonfly connection down; reconnecting',
    )
  }
  // ioredis emits an error per failed reconnect attempt: log the first of each outage only.
  client.on('error', down)
  client.on('close', () => {
    if (isReady) down(undefined)
    isReady = false
  })
}

async function closeConnection(client: Redis): Promise<void> {
  if (client.status === 'ready') {
    try {
      await client.quit()
      return
    } catch {
      // fall through: drop it
    }
  }
  client.disconnect()
}

function parseVersion(value: string | null): number {
  const version = Number(value ?? 0)
  return Number.isSafeInteger(version) ? version : 0
}

function isEmpty(hash: Record<string, string> | null | undefined): boolean {
  if (hash === null || hash === undefined) return true
  for (const _ in hash) return false
  return true
}

function throwOnError(results: [Error | null, unknown][] | null): void {
  if (results === null) throw new ExchangeError('EX_ERR_STORE_UNAVAILABLE', 'transaction aborted')
  for (const [err] of results) if (err) throw err
}

function redactUrl(url: string): string {
  return url.replace(/\/\/[^@/]*@/, '//***@')
}
