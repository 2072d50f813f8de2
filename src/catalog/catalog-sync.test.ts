import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { setImmediate as nextTurn } from 'node:timers/promises'
import { testAd, testContext, testRequest } from '../stages/filter/filter-fixtures.js'
import { createFilterStage } from '../stages/filter/filter-stage.js'
import type { AdRecord } from './ad.js'
import { type CatalogSource, createCatalogSync } from './catalog-sync.js'
import { CatalogHolder, HouseCatalog } from './house-catalog.js'
import type { PolicyRule } from './policy-rule.js'

const SILENT = { warn() {} }
const NOW_MS = Date.UTC(2026, 5, 17, 15, 30)

/** A store stand-in: a version, the ads, and a doorbell the test rings. */
function fakeSource(ads: AdRecord[], version = 1) {
  const listeners: ((v: number) => void)[] = []
  const state = { ads, version, loads: 0 }
  const source: CatalogSource = {
    async loadAds() {
      state.loads++
      return state.ads
    },
    async catalogVersion() {
      return state.version
    },
    onCatalogChange(listener) {
      listeners.push(listener)
      return () => listeners.splice(listeners.indexOf(listener), 1)
    },
  }
  const ring = (): void => {
    for (const listener of listeners) listener(state.version)
  }
  return { source, state, ring }
}

function manyAds(count: number): AdRecord[] {
  return Array.from({ length: count }, (_, i) =>
    testAd(`new${i}`, {
      cpmMicros: 100_000 + i * 10,
      sizes: [
        { w: 300, h: 250 },
        { w: 728, h: 90 },
      ],
      advertiserDomain: `adv${i % 300}.example`,
      targeting: { countries: i % 3 === 0 ? [] : ['USA', 'GBR'], blockedDomains: [`site${i % 500}.example`] },
    }),
  )
}

describe('catalog sync', () => {
  it('a rebuild runs off the request path: auctions keep being served from the old catalog, then the new one is swapped in whole', async () => {
    const fake = fakeSource([testAd('old', { cpmMicros: 9_000_000 })])
    const holder = new CatalogHolder()
    const sync = createCatalogSync(fake.source, holder, SILENT, { sliceMs: 2 })
    await sync.start()
    assert.equal(holder.current.version, 1)
    const stage = createFilterStage(holder, { now: () => NOW_MS })

    const big = manyAds(10_000)
    fake.state.ads = big
    fake.state.version = 2
    const versionsSeen = new Set<number>()
    const servedDuring = new Set<string>()
    const gapsMs: number[] = []
    let auctions = 0
    let isRebuilding = true
    const serving = (async () => {
      let last = performance.now()
      while (isRebuilding) {
        const ctx = testContext(testRequest())
        versionsSeen.add(holder.current.version)
        stage.run(ctx)
        servedDuring.add(ctx.houseAds[0]![0]?.ad.id ?? 'none')
        auctions++
        await nextTurn()
        const t = performance.now()
        gapsMs.push(t - last)
        last = t
      }
    })()
    await sync.refresh()
    isRebuilding = false
    await serving
    sync.stop()

    assert.equal(holder.current.version, 2)
    assert.equal(holder.current.size, 10_000)
    const after = testContext(testRequest())
    stage.run(after)
    assert.equal(after.houseAds[0]![0]!.ad.id, 'new9999', 'the next auction serves the new catalog')
    assert.ok(servedDuring.has('old'), 'auctions during the rebuild served the old catalog')
    assert.ok(auctions > 20, `auctions kept running during the rebuild (${auctions})`)
    // What one rebuild at once would have stalled serving for.
    const blockingStartedAt = performance.now()
    HouseCatalog.build(big, 3)
    const blockingMs = performance.now() - blockingStartedAt
    const sorted = gapsMs.sort((a, b) => a - b)
    const p90Ms = sorted[Math.floor(sorted.length * 0.9)]!
    const maxMs = sorted.at(-1)!
    const facts = `gaps between auctions: p90 ${p90Ms.toFixed(1)} ms, max ${maxMs.toFixed(1)} ms; blocking build ${blockingMs.toFixed(0)} ms`
    assert.ok(p90Ms < blockingMs / 5, facts)
    assert.ok(maxMs < blockingMs / 2, facts)
  })

  it('folds the configured policy rules into every catalog it builds, at start and on reloads', async () => {
    const policies: PolicyRule[] = [
      { kind: 'publisher_category', id: 'no-7', publishers: ['pub-1'], categories: ['IAB7'] },
    ]
    const fake = fakeSource([testAd('gambling', { category: 'IAB7', cpmMicros: 5_000_000 }), testAd('fine')])
    const holder = new CatalogHolder()
    const sync = createCatalogSync(fake.source, holder, SILENT, { policies })
    await sync.start()
    const stage = createFilterStage(holder, { now: () => NOW_MS })
    const pick = () => {
      const ctx = testContext(testRequest())
      stage.run(ctx)
      return ctx.houseAds[0]!.map((c) => c.ad.id)
    }
    assert.deepEqual(holder.current.policies, policies)
    assert.deepEqual(pick(), ['fine'])
    fake.state.version = 2
    fake.state.ads = [...fake.state.ads, testAd('also-gambling', { category: 'IAB7', cpmMicros: 6_000_000 })]
    await sync.refresh()
    assert.equal(holder.current.version, 2)
    assert.deepEqual(holder.current.policies, policies)
    assert.deepEqual(pick(), ['fine'])
    sync.stop()
  })

  it('a doorbell with a new version reloads; rings during a rebuild coalesce into one more', async () => {
    const fake = fakeSource([testAd('a')])
    const holder = new CatalogHolder()
    const sync = createCatalogSync(fake.source, holder, SILENT)
    await sync.start()
    fake.state.version = 2
    fake.state.ads = manyAds(2_000)
    for (let i = 0; i < 5; i++) fake.ring()
    await sync.refresh()
    assert.equal(holder.current.version, 2)
    assert.ok(
      fake.state.loads <= 3,
      `start, the rebuild, one more for the rings after it (${fake.state.loads})`,
    )
    sync.stop()
  })

  it('a failed reload keeps the catalog in place', async () => {
    const fake = fakeSource([testAd('a')])
    const holder = new CatalogHolder()
    const sync = createCatalogSync(fake.source, holder, SILENT)
    await sync.start()
    fake.source.loadAds = async () => {
      throw new Error('store down')
    }
    await sync.refresh()
    assert.equal(holder.current.get('a')?.id, 'a')
    sync.stop()
  })
})
