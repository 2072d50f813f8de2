import type { AdRecord } from './ad.js'
import { type CatalogHolder, HouseCatalog } from './house-catalog.js'

/** What the sync needs from the store. */
export interface CatalogSource {
  loadAds(): Promise<AdRecord[]>
  catalogVersion(): Promise<number>
  onCatalogChange(listener: (version: number) => void): () => void
}

export interface CatalogSync {
  /** The first load; resolves when a catalog is in place (an empty one if the store is down). */
  start(): Promise<void>
  /** Reload now (after an admin write on this instance, so it reads its own writes at once). */
  refresh(): Promise<void>
  stop(): void
}

/**
 * Keeps the in-memory house catalog in step with the store. A change anywhere rings the doorbell
 * (pub/sub, carrying the new version; the store also re-checks the version periodically and after
 * a reconnect, which covers lost messages). Reloads are coalesced: while one runs, further rings
 * only mark it dirty, so a burst of admin writes costs one or two rebuilds. The new catalog is
 * built off the request path and swapped in whole: auctions never see a half-built one.
 */
export function createCatalogSync(
  source: CatalogSource,
  holder: CatalogHolder,
  log: { warn(obj: object, msg: string): void },
): CatalogSync {
  let running: Promise<void> | null = null
  let isDirty = false
  let loadedVersion = -1
  let unsubscribe: (() => void) | null = null

  async function reloadOnce(): Promise<void> {
    try {
      const version = await source.catalogVersion()
      const ads = await source.loadAds()
      holder.swap(HouseCatalog.build(ads, version))
      loadedVersion = version
    } catch (err) {
      // Keep serving the catalog we have; the next doorbell or periodic check retries.
      log.warn({ err: (err as Error).message }, 'catalog reload failed; keeping the current catalog')
      if (!holder.isLoaded) holder.swap(HouseCatalog.EMPTY)
    }
  }

  function reload(): Promise<void> {
    if (running !== null) {
      isDirty = true
      return running
    }
    running = (async () => {
      do {
        isDirty = false
        await reloadOnce()
      } while (isDirty)
      running = null
    })()
    return running
  }

  return {
    async start() {
      unsubscribe = source.onCatalogChange((version) => {
        if (version !== loadedVersion) void reload()
      })
      await reload()
    },
    refresh: reload,
    stop() {
      unsubscribe?.()
    },
  }
}
