import assert from 'node:assert/strict'
import { after, afterEach, before, beforeEach, describe, it } from 'node:test'
import { type AdRecord, EMPTY_TARGETING } from '../catalog/ad.js'
import { adToJson, parseAdInput } from '../catalog/ad-input.js'
import {
  type ContextData,
  type DecorationKeys,
  EMPTY_DECORATION,
  type ExchangeStore,
  type PublisherSettings,
  type StoreDecoration,
  Want,
} from './store.js'

/** How a store kind plugs into the shared suite. */
export interface StoreContractSetup {
  /** Once, before the suite (start a server). */
  readonly before?: () => Promise<void>
  readonly after?: () => Promise<void>
  /**
   * Before each test: empty the data and return a factory of connected stores that share it (two
   * calls = two exchange instances on the same Dragonfly).
   */
  readonly fresh: () => Promise<() => Promise<ExchangeStore>>
}

/** Same expectations for every ExchangeStore: the app must not be able to tell them apart. */
export function runStoreContract(name: string, setup: StoreContractSetup): void {
  describe(`${name}: ExchangeStore contract`, () => {
    let make: () => Promise<ExchangeStore>
    const open: ExchangeStore[] = []
    const store = async () => {
      const s = await make()
      open.push(s)
      return s
    }

    if (setup.before !== undefined) before(setup.before)
    if (setup.after !== undefined) after(setup.after)
    beforeEach(async () => {
      make = await setup.fresh()
    })
    afterEach(async () => {
      await Promise.all(open.splice(0).map((s) => s.close()))
    })

    it('connects and reports itself available', async () => {
      const s = await store()
      assert.equal(await s.connect(), true)
      assert.equal(s.isAvailable(), true)
    })

    it('round-trips an ad with every field, and indexes it by category', async () => {
      const s = await store()
      const ad = makeAd('1', 'IAB1', {
        cpmMicros: 1_234_567,
        sizes: [
          { w: 300, h: 250 },
          { w: 728, h: 90 },
        ],
        advertiserDomain: 'shoes.example',
        campaignId: 'camp-7',
        targeting: {
          countries: ['USA', 'CAN'],
          deviceTypes: [1, 2],
          categories: ['IAB1-1'],
          blockedDomains: ['bad.example'],
          brandSafe: true,
          attributes: [3],
        },
      })
      await s.putAd(ad)
      assert.deepEqual(await s.getAd('1'), ad)
      assert.deepEqual(await s.loadAds(), [ad])
      assert.deepEqual(await s.adIdsInCategories(['IAB1']), ['1'])
    })

    it('keeps CPM micros exact through the store', async () => {
      const s = await store()
      const prices = [10_000, 1_500_000, 2_500_000, 999_999_999, 1]
      for (const [i, cpmMicros] of prices.entries()) await s.putAd(makeAd(`p${i}`, 'IAB1', { cpmMicros }))
      const loaded = await s.loadAds()
      assert.deepEqual(loaded.map((a) => a.cpmMicros).sort(byNumber), [...prices].sort(byNumber))
    })

    it('moves an updated ad between categories and bumps the version each write', async () => {
      const s = await store()
      const v0 = await s.catalogVersion()
      await s.putAd(makeAd('1', 'IAB1'))
      await s.putAd(makeAd('2', 'IAB1'))
      await s.putAd(makeAd('1', 'IAB2', { title: 'moved' }))
      assert.equal(await s.catalogVersion(), v0 + 3)
      assert.deepEqual(await s.adIdsInCategories(['IAB1']), ['2'])
      assert.deepEqual(await s.adIdsInCategories(['IAB2']), ['1'])
      assert.equal((await s.getAd('1'))?.title, 'moved')
      assert.equal((await s.loadAds()).length, 2)
    })

    it('deletes an ad, its category membership and its place in the catalog', async () => {
      const s = await store()
      await s.putAd(makeAd('1', 'IAB1'))
      await s.putAd(makeAd('2', 'IAB1'))
      const before = await s.catalogVersion()
      assert.equal(await s.deleteAd('1'), true)
      assert.equal(await s.catalogVersion(), before + 1)
      assert.equal(await s.getAd('1'), null)
      assert.deepEqual(await s.adIdsInCategories(['IAB1']), ['2'])
      assert.deepEqual(
        (await s.loadAds()).map((a) => a.id),
        ['2'],
      )
      assert.equal(await s.deleteAd('1'), false)
      assert.equal(await s.deleteAd('never'), false)
      assert.equal(await s.catalogVersion(), before + 1, 'deleting nothing is not a catalog change')
    })

    it('returns null for an unknown ad and an empty catalog at first', async () => {
      const s = await store()
      assert.equal(await s.getAd('nope'), null)
      assert.deepEqual(await s.loadAds(), [])
      assert.equal(await s.catalogVersion(), 0)
    })

    it('stores, replaces and removes user preferences', async () => {
      const s = await store()
      await s.setUserPreferences('u1', ['IAB2', 'IAB1', 'IAB2'])
      assert.deepEqual(sorted(await s.getUserPreferences('u1')), ['IAB1', 'IAB2'])
      await s.setUserPreferences('u1', ['IAB9'])
      assert.deepEqual(await s.getUserPreferences('u1'), ['IAB9'])
      await s.setUserPreferences('u1', [])
      assert.deepEqual(await s.getUserPreferences('u1'), [])
      assert.deepEqual(await s.getUserPreferences('nobody'), [])
    })

    it('lists the ads of several categories once each', async () => {
      const s = await store()
      await s.putAd(makeAd('1', 'IAB1'))
      await s.putAd(makeAd('2', 'IAB2'))
      await s.putAd(makeAd('3', 'IAB3'))
      assert.deepEqual(sorted(await s.adIdsInCategories(['IAB1', 'IAB2', 'IAB1', 'IAB404'])), ['1', '2'])
      assert.deepEqual(await s.adIdsInCategories([]), [])
      assert.deepEqual(await s.adIdsInCategories(['IAB404']), [])
    })

    it('fetches every part of a decoration when all keys exist', async () => {
      const s = await store()
      await seedDecoration(s)
      const found = await s.fetchDecoration(ALL_KEYS, Want.all)
      assert.deepEqual(normalized(found), {
        userCategories: ['IAB1', 'IAB2'],
        pageContext: PAGE,
        domainContext: DOMAIN,
        publisher: PUBLISHER,
      })
    })

    it('returns null for parts whose key is absent or missing from the request', async () => {
      const s = await store()
      await seedDecoration(s)
      const someMissing = await s.fetchDecoration(
        { userId: 'unknown', domain: 'news.example', pageUrl: null, publisherId: 'pub-404' },
        Want.all,
      )
      assert.deepEqual(normalized(someMissing), {
        userCategories: null,
        pageContext: null,
        domainContext: DOMAIN,
        publisher: null,
      })
      const none = await s.fetchDecoration(
        { userId: 'x', domain: 'y.example', pageUrl: 'https://y.example/', publisherId: 'z' },
        Want.all,
      )
      assert.deepEqual(normalized(none), normalized(EMPTY_DECORATION))
      const noKeys = await s.fetchDecoration(NO_KEYS, Want.all)
      assert.deepEqual(normalized(noKeys), normalized(EMPTY_DECORATION))
    })

    it('fetches only the parts named in want', async () => {
      const s = await store()
      await seedDecoration(s)
      const cases: [number, StoreDecoration][] = [
        [Want.user, { ...EMPTY_DECORATION, userCategories: ['IAB1', 'IAB2'] }],
        [Want.page, { ...EMPTY_DECORATION, pageContext: PAGE }],
        [Want.domain | Want.publisher, { ...EMPTY_DECORATION, domainContext: DOMAIN, publisher: PUBLISHER }],
        [
          Want.user | Want.page | Want.domain,
          { userCategories: ['IAB1', 'IAB2'], pageContext: PAGE, domainContext: DOMAIN, publisher: null },
        ],
        [0, EMPTY_DECORATION],
      ]
      for (const [want, expected] of cases) {
        assert.deepEqual(
          normalized(await s.fetchDecoration(ALL_KEYS, want)),
          normalized(expected),
          `want=${want}`,
        )
      }
    })

    it('replaces contexts and publishers on a second write', async () => {
      const s = await store()
      await seedDecoration(s)
      const calm: ContextData = { categories: ['IAB9'], brandSafetyFlags: [], sentiment: null }
      const noFloor: PublisherSettings = { floorCpm: null, bcat: [], badv: ['x.example'] }
      await s.putContext('domain', 'news.example', calm)
      await s.putPublisher('pub-1', noFloor)
      const found = await s.fetchDecoration(ALL_KEYS, Want.domain | Want.publisher)
      assert.deepEqual(found.domainContext, calm)
      assert.deepEqual(found.publisher, noFloor)
    })

    it('keeps an all-empty context distinct from no context', async () => {
      const s = await store()
      const empty: ContextData = { categories: [], brandSafetyFlags: [], sentiment: null }
      await s.putContext('page', 'https://blank.example/', empty)
      const found = await s.fetchDecoration({ ...NO_KEYS, pageUrl: 'https://blank.example/' }, Want.all)
      assert.deepEqual(found.pageContext, empty)
    })

    it('rings the doorbell of a second instance within 1 s of a catalog write', async () => {
      const writer = await store()
      const reader = await store()
      const seen = waitForVersion(reader, 1_000)
      const ownSeen = waitForVersion(writer, 1_000)
      await writer.putAd(makeAd('1', 'IAB1'))
      const version = await writer.catalogVersion()
      assert.equal(await seen, version)
      assert.equal(await ownSeen, version)
      assert.deepEqual(
        (await reader.loadAds()).map((a) => a.id),
        ['1'],
        'the peer reads the write',
      )
      const afterDelete = waitForVersion(reader, 1_000)
      await writer.deleteAd('1')
      assert.equal(await afterDelete, version + 1)
    })

    it('stops calling a listener after it unsubscribes', async () => {
      const s = await store()
      const calls: number[] = []
      const unsubscribe = s.onCatalogChange((v) => calls.push(v))
      await s.putAd(makeAd('1', 'IAB1'))
      await until(() => calls.length === 1, 1_000)
      unsubscribe()
      await s.putAd(makeAd('2', 'IAB1'))
      await sleep(150)
      assert.equal(calls.length, 1)
    })

    it('rejects decorations once closed and says it is unavailable', async () => {
      const s = await store()
      await s.close()
      assert.equal(s.isAvailable(), false)
      await assert.rejects(s.fetchDecoration(ALL_KEYS, Want.all))
    })
  })
}

/**
 * A test ad in canonical form: what the admin API would make of it (parseAdInput fills in the
 * optional targeting lists), so a store that parses what it reads returns an equal record.
 */
export function makeAd(id: string, category: string, overrides: Partial<AdRecord> = {}): AdRecord {
  const parsed = parseAdInput(adToJson(rawAd(id, category, overrides)))
  if (!('ad' in parsed)) throw new Error(`bad test ad: ${parsed.problems.join('; ')}`)
  return parsed.ad
}

function rawAd(id: string, category: string, overrides: Partial<AdRecord>): AdRecord {
  return {
    id,
    title: `Ad ${id}`,
    category,
    clickUrl: `https://click.example/${id}`,
    imageUrl: `https://img.example/${id}.png`,
    cpmMicros: 2_500_000,
    sizes: [{ w: 300, h: 250 }],
    advertiserDomain: 'brand.example',
    campaignId: null,
    targeting: EMPTY_TARGETING,
    ...overrides,
  }
}

export const ALL_KEYS: DecorationKeys = {
  userId: 'u1',
  domain: 'news.example',
  pageUrl: 'https://news.example/a?b=1',
  publisherId: 'pub-1',
}
export const NO_KEYS: DecorationKeys = { userId: null, domain: null, pageUrl: null, publisherId: null }
export const PAGE: ContextData = {
  categories: ['IAB12', 'IAB12-3'],
  brandSafetyFlags: ['violence'],
  sentiment: 'negative',
}
export const DOMAIN: ContextData = { categories: ['IAB12'], brandSafetyFlags: [], sentiment: 'neutral' }
export const PUBLISHER: PublisherSettings = {
  floorCpm: 0.75,
  bcat: ['IAB25', 'IAB26'],
  badv: ['rival.example'],
}

export async function seedDecoration(s: ExchangeStore): Promise<void> {
  await s.setUserPreferences('u1', ['IAB1', 'IAB2'])
  await s.putContext('page', ALL_KEYS.pageUrl!, PAGE)
  await s.putContext('domain', ALL_KEYS.domain!, DOMAIN)
  await s.putPublisher('pub-1', PUBLISHER)
}

/** Set members come back in any order. */
export function normalized(d: StoreDecoration): StoreDecoration {
  return { ...d, userCategories: d.userCategories === null ? null : sorted(d.userCategories) }
}

export function waitForVersion(s: ExchangeStore, timeoutMs: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      unsubscribe()
      reject(new Error(`no catalog change within ${timeoutMs} ms`))
    }, timeoutMs)
    const unsubscribe = s.onCatalogChange((version) => {
      clearTimeout(timer)
      unsubscribe()
      resolve(version)
    })
  })
}

export async function until(condition: () => boolean, timeoutMs: number): Promise<void> {
  const giveUpAt = Date.now() + timeoutMs
  while (!condition()) {
    if (Date.now() > giveUpAt) throw new Error(`condition not met within ${timeoutMs} ms`)
    await sleep(10)
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

function sorted(list: readonly string[]): string[] {
  return [...list].sort()
}

function byNumber(a: number, b: number): number {
  return a - b
}
