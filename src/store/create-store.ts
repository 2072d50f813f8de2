import { createDragonflyStore, type DragonflyStoreOptions } from './dragonfly-store.js'
import { createMemoryStore } from './memory-store.js'
import type { ExchangeStore } from './store.js'

/**
 * The store for a Dragonfly URL (`redis://host:port`, `rediss://` for TLS), or the embedded
 * in-memory one when there is none (DESIGN.md §3: no DRAGONFLY_URL = single instance).
 * Call `connect()` next; it never rejects, so a store that is down does not stop the exchange.
 */
export function createStore(url: string | null, options: DragonflyStoreOptions): ExchangeStore {
  if (url === null || url === '') return createMemoryStore({ log: options.log })
  return createDragonflyStore(url, options)
}
