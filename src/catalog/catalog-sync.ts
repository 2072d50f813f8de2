import type { AdRecord } from './ad.js'
import { type CatalogHolder, HouseCatalog } from './house-catalog.js'
import type { PolicyRule } from './policy-rule.js'

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

export interface CatalogSyncOptions {
  /** Exchange policy rules (the seed's), folded into every catalog built. */
  readonly policies?: readonly PolicyRule[]
  /** CPU a rebuild takes before it yields to the auctions (HouseCatalog.buildInSlices). */
  readonly sliceMs?: number
}

/**
 * Keeps the in-memory house catalog in step with the store. A change anywhere rings the doorbell
 * (pub/sub, carrying the new version; the store also re-checks the version periodically and after
 * a reconnect, which covers lost messages). Reloads are coalesced: while one runs, further rings
 * only mark it dirty, so a burst of admin writes costs one or two rebuilds.
 *
 * The first catalog (start, before the server listens) is built at once. Every later one is built
 * off the request path in slices of about `sliceMs` of CPU that yield to the event loop between
 * them (a 10,000-ad build is a few hundred ms of CPU: at once, it would stall every auction in
 * flight), and swapped in whole when complete: auctions never see a half-built catalog.
 */
export function createCatalogSync(
  source: CatalogSource,
  holder: CatalogHolder,
  log: { warn(obj: object, msg: string): void },
  options: CatalogSyncOptions = {},
): CatalogSync {
  const policies = options.policies ?? []
  const sliced = { policies, ...(options.sliceMs === undefined ? {} : { sliceMs: options.sliceMs }) }
  let running: Promise<void> | null = null
  let isDirty = false
  let loadedVersion = -1
  let isStarted = false
  let unsubscribe: (() => void) | null = null

  async function reloadOnce(): Promise<void> {
    try {
      const version = await source.catalogVersion()
      const ads = await source.loadAds()
      const next = isStarted
        ? await HouseCatalog.buildInSlices(ads, version, sliced)
        : HouseCatalog.build(ads, version, { policies })
      holder.swap(next)
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
      isStarted = true
    },
    refresh: reload,
    stop() {
      unsubscribe?.()
    },
  }
}
