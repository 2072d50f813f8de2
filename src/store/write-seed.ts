import type { Seed } from '../catalog/seed.js'
import type { ExchangeStore } from './store.js'

/**
 * Writes a seed (house ads, user preferences, page/domain context, publishers) into the store, as
 * an operator would with the admin API or redis-cli. Idempotent: writing it twice changes nothing
 * but the catalog version.
 */
export async function writeSeed(store: ExchangeStore, seed: Seed): Promise<void> {
  for (const ad of seed.ads) await store.putAd(ad)
  for (const [userId, categories] of Object.entries(seed.users))
    await store.setUserPreferences(userId, categories)
  for (const [domain, context] of Object.entries(seed.contexts.domains)) {
    await store.putContext('domain', domain, contextData(context))
  }
  for (const [page, context] of Object.entries(seed.contexts.pages))
    await store.putContext('page', page, contextData(context))
  for (const [id, p] of Object.entries(seed.publishers)) {
    await store.putPublisher(id, { floorCpm: p.floorCpm ?? null, bcat: p.bcat ?? [], badv: p.badv ?? [] })
  }
}

function contextData(c: Seed['contexts']['domains'][string]) {
  return {
    categories: c.categories ?? [],
    brandSafetyFlags: c.brandSafetyFlags ?? [],
    sentiment: c.sentiment ?? null,
  }
}
