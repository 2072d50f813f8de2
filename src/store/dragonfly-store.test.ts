import assert from 'node:assert/strict'
import { after, before, beforeEach, describe, it } from 'node:test'
import { freePort, type RedisServer, redisSkipReason, startRedisServer } from '../testing/redis-server.js'
import { createDragonflyStore, type DragonflyStoreOptions, reconnectDelayMs } from './dragonfly-store.js'
import {
  ALL_KEYS,
  makeAd,
  NO_KEYS,
  normalized,
  runStoreContract,
  seedDecoration,
  sleep,
  until,
  waitForVersion,
} from './store.contract.js'
import { EMPTY_DECORATION, type ExchangeStore, type StoreLog, Want } from './store.js'

const skip = redisSkipReason()

/** Collects what the store logs, so tests can assert on warnings and stay quiet. */
function recordingLog(): StoreLog & { readonly warnings: string[] } {
  const warnings: string[] = []
  return {
    warnings,
    warn(obj, msg) {
      warnings.push(`${msg} ${JSON.stringify(obj)}`)
    },
    info() {},
  }
}

// Generous for the contract (a loaded 2-core CI box); the fault tests set their own.
const CONTRACT_OPTIONS = { commandTimeoutMs: 250, adminTimeoutMs: 2_000, connectTimeoutMs: 2_000 }

describe('Dragonfly store (redis-server on 127.0.0.1)', { skip }, () => {
  let server: RedisServer
  const open: ExchangeStore[] = []

  async function connected(
    options: Partial<DragonflyStoreOptions> = {},
    url = server.url,
  ): Promise<ExchangeStore> {
    const store = createDragonflyStore(url, { log: recordingLog(), ...CONTRACT_OPTIONS, ...options })
    open.push(store)
    await store.connect()
    return store
  }

  before(async () => {
    server = await startRedisServer()
  })
  after(async () => {
    await Promise.all(open.splice(0).map((s) => s.close()))
    await server?.stop()
  })

  runStoreContract('dragonfly', {
    async fresh() {
      await server.command('FLUSHALL')
      return () => connected()
    },
  })

  describe('Dragonfly specifics', () => {
    beforeEach(async () => {
      await server.command('FLUSHALL')
    })

    it('reads keys an operator wrote with redis-cli', { timeout: 10_000 }, async () => {
      const log = recordingLog()
      const store = await connected({ log })
      const cli = (...args: string[]) => server.command(...args)
      await cli('HSET', 'ad:metadata:9', 'id', '9', 'title', 'T', 'category', 'IAB1', 'clickURL', 'https://x')
      await cli('HSET', 'ad:metadata:9', 'imageURL', 'https://y', 'price', '1.5', 'sizes', '300x250')
      await cli('SADD', 'ad:category:IAB1', '9')
      const ad = await store.getAd('9')
      assert.deepEqual(ad && { ...ad, targeting: null }, {
        id: '9',
        title: 'T',
        category: 'IAB1',
        clickUrl: 'https://x',
        imageUrl: 'https://y',
        cpmMicros: 1_500_000,
        sizes: [{ w: 300, h: 250 }],
        advertiserDomain: '',
        campaignId: null,
        targeting: null,
      })
      assert.deepEqual(await store.adIdsInCategories(['IAB1']), ['9'])

      // loadAds lists ad:ids; an unreadable ad is skipped with a warning, the others load.
      await cli(
        'HSET',
        'ad:metadata:10',
        'category',
        'IAB1',
        'clickURL',
        'https://x',
        'imageURL',
        'https://y',
      )
      await cli('HSET', 'ad:metadata:10', 'price', 'free', 'sizes', '300x250')
      await cli('SADD', 'ad:ids', '9', '10', 'ghost')
      assert.deepEqual(
        (await store.loadAds()).map((a) => a.id),
        ['9'],
      )
      assert.ok(log.warnings.some((w) => w.includes('ad:metadata:10') && w.includes('price')))
      assert.ok(log.warnings.some((w) => w.includes('no ad:metadata hash')))
      assert.equal(await store.getAd('10'), null)

      // Decoration data with fields missing or wrong: defaults, never an error.
      await cli('SADD', 'ad:user_preference:u1', 'IAB3', 'IAB4')
      await cli('HSET', `ad:context:domain:${ALL_KEYS.domain}`, 'categories', 'IAB12, IAB13')
      await cli('HSET', `ad:context:page:${ALL_KEYS.pageUrl}`, 'flags', 'adult', 'sentiment', 'furious')
      await cli('HSET', 'ad:publisher:pub-1', 'floor', 'lots', 'bcat', 'IAB25')
      const found = normalized(await store.fetchDecoration(ALL_KEYS, Want.all))
      assert.deepEqual(found, {
        userCategories: ['IAB3', 'IAB4'],
        pageContext: { categories: [], brandSafetyFlags: ['adult'], sentiment: null },
        domainContext: { categories: ['IAB12', 'IAB13'], brandSafetyFlags: [], sentiment: null },
        publisher: { floorCpm: null, bcat: ['IAB25'], badv: [] },
      })
    })

    it('reads a key of the wrong type as missing, without failing the rest', {
      timeout: 10_000,
    }, async () => {
      const store = await connected()
      await seedDecoration(store)
      await server.command('DEL', 'ad:user_preference:u1')
      await server.command('SET', 'ad:user_preference:u1', 'oops')
      await server.command('DEL', 'ad:publisher:pub-1')
      await server.command('SADD', 'ad:publisher:pub-1', 'not-a-hash')
      const found = await store.fetchDecoration(ALL_KEYS, Want.all)
      assert.equal(found.userCategories, null)
      assert.equal(found.publisher, null)
      assert.notEqual(found.pageContext, null)
      assert.notEqual(found.domainContext, null)
    })

    it('writes the seed-style hash layout operators expect', { timeout: 10_000 }, async () => {
      const store = await connected()
      await store.putAd(makeAd('5', 'IAB7', { cpmMicros: 2_500_000, campaignId: 'c1' }))
      const hash = await server.command('HGETALL', 'ad:metadata:5')
      assert.ok(Array.isArray(hash))
      const fields = Object.fromEntries(pairs(hash as string[]))
      assert.equal(fields['price'], '2.50')
      assert.equal(fields['sizes'], '300x250')
      assert.equal(fields['clickURL'], 'https://click.example/5')
      assert.equal(fields['campaign'], 'c1')
      assert.deepEqual(await server.command('SMEMBERS', 'ad:category:IAB7'), ['5'])
      assert.deepEqual(await server.command('SMEMBERS', 'ad:ids'), ['5'])
      assert.equal(await server.command('GET', 'ad:catalog:version'), '1')
    })

    it('fetches a whole decoration with ONE command (one round trip)', { timeout: 10_000 }, async () => {
      const store = await connected()
      await seedDecoration(store)
      await store.fetchDecoration(ALL_KEYS, Want.all) // first use on the socket loads the script (EVAL)
      const monitor = await server.monitor()
      try {
        const found = await store.fetchDecoration(ALL_KEYS, Want.all)
        assert.notEqual(found.publisher, null)
        await until(() => monitor.commands().length > 0, 1_000)
        await sleep(20)
        assert.deepEqual(
          monitor.commands().map((c) => c[0]),
          ['evalsha'],
        )
      } finally {
        monitor.stop()
      }
    })

    it('costs no round trip when no wanted part has a key', async () => {
      const store = await connected()
      const monitor = await server.monitor()
      try {
        assert.equal(await store.fetchDecoration(NO_KEYS, Want.all), EMPTY_DECORATION)
        assert.equal(await store.fetchDecoration(ALL_KEYS, 0), EMPTY_DECORATION)
        await server.command('PING') // a marker: once MONITOR shows it, anything before it would show too
        await until(() => monitor.commands().length > 0, 1_000)
        assert.deepEqual(monitor.commands(), [['ping']])
      } finally {
        monitor.stop()
      }
    })

    it('keeps the other strategies equivalent (they are measured by the bench)', {
      timeout: 10_000,
    }, async () => {
      const reference = await connected()
      await seedDecoration(reference)
      const keySets = [ALL_KEYS, { ...ALL_KEYS, userId: 'nobody', publisherId: null }, NO_KEYS]
      for (const strategy of ['commands', 'pipeline', 'autopipeline'] as const) {
        const store = await connected({ decorationFetch: strategy })
        for (const keys of keySets) {
          for (const want of [Want.all, Want.user | Want.publisher, Want.page]) {
            assert.deepEqual(
              normalized(await store.fetchDecoration(keys, want)),
              normalized(await reference.fetchDecoration(keys, want)),
              `${strategy} want=${want}`,
            )
          }
        }
      }
    })

    it('fails a decoration within its command timeout while the server is paused', {
      timeout: 10_000,
    }, async () => {
      const store = await connected({ commandTimeoutMs: 30 })
      await seedDecoration(store)
      assert.equal(await server.command('CLIENT', 'PAUSE', '500'), 'OK')
      const startedAt = performance.now()
      await assert.rejects(store.fetchDecoration(ALL_KEYS, Want.all), /timed out/i)
      const tookMs = performance.now() - startedAt
      assert.ok(tookMs < 200, `rejected after ${tookMs.toFixed(1)} ms`)
      await sleep(600)
      const found = await store.fetchDecoration(ALL_KEYS, Want.all)
      assert.notEqual(found.publisher, null, 'works again once the pause is over')
    })
  })

  describe('Dragonfly outages', () => {
    it('starts without a server: connect() resolves false, calls fail fast, nothing crashes', {
      timeout: 10_000,
    }, async () => {
      const unhandled: unknown[] = []
      const onUnhandled = (reason: unknown) => unhandled.push(reason)
      process.on('unhandledRejection', onUnhandled)
      try {
        const port = await freePort() // nothing listens there
        const log = recordingLog()
        const store = createDragonflyStore(`redis://127.0.0.1:${port}`, { log, connectTimeoutMs: 500 })
        open.push(store)
        const startedAt = performance.now()
        assert.equal(await store.connect(), false)
        assert.ok(performance.now() - startedAt < 1_500)
        assert.equal(store.isAvailable(), false)
        const callAt = performance.now()
        await assert.rejects(store.fetchDecoration(ALL_KEYS, Want.all), { code: 'EX_ERR_STORE_UNAVAILABLE' })
        assert.ok(performance.now() - callAt < 5, 'a down store costs no wait')
        await assert.rejects(store.loadAds())
        await assert.rejects(store.putAd(makeAd('1', 'IAB1')))
        await assert.rejects(store.catalogVersion())
        assert.ok(log.warnings.some((w) => w.includes('unreachable')))
        await sleep(300) // a few reconnect attempts
        await store.close()
        assert.deepEqual(unhandled, [])
      } finally {
        process.off('unhandledRejection', onUnhandled)
      }
    })

    it('connects once a late server comes up and rings the listeners', { timeout: 15_000 }, async () => {
      const port = await freePort()
      const store = createDragonflyStore(`redis://127.0.0.1:${port}`, {
        log: recordingLog(),
        connectTimeoutMs: 300,
      })
      open.push(store)
      const versions: number[] = []
      store.onCatalogChange((v) => versions.push(v))
      assert.equal(await store.connect(), false)
      const late = await startRedisServer({ port })
      try {
        await until(() => store.isAvailable(), 5_000)
        await until(() => versions.length > 0, 5_000)
        assert.deepEqual(versions, [0])
      } finally {
        await store.close()
        await late.stop()
      }
    })

    it('reconnects after the server is killed and restarted, and resyncs the catalog', {
      timeout: 20_000,
    }, async () => {
      let own = await startRedisServer()
      const log = recordingLog()
      const store = createDragonflyStore(own.url, { log, versionCheckMs: 60_000, commandTimeoutMs: 250 })
      open.push(store)
      try {
        assert.equal(await store.connect(), true)
        const versions: number[] = []
        store.onCatalogChange((v) => versions.push(v))
        await seedDecoration(store)
        await store.putAd(makeAd('1', 'IAB1'))
        await store.putAd(makeAd('2', 'IAB1'))
        await until(() => versions.at(-1) === 2, 1_000)
        versions.length = 0

        own.kill('SIGKILL')
        await own.stop() // reaps it and removes its dir
        await until(() => !store.isAvailable(), 2_000)
        await assert.rejects(store.fetchDecoration(ALL_KEYS, Want.all))

        own = await startRedisServer({ port: own.port }) // comes back empty, as a crashed cache would
        await until(() => store.isAvailable(), 6_000)
        // The version moved (2 → 0): the reconnect check rings the listeners without waiting for
        // the periodic check (set to a minute here).
        await until(() => versions.length > 0, 3_000)
        assert.deepEqual(versions, [0])
        assert.ok(
          log.warnings.some((w) => w.includes('reconnecting')),
          'the outage was logged',
        )

        await seedDecoration(store)
        const found = await store.fetchDecoration(ALL_KEYS, Want.all)
        assert.notEqual(found.publisher, null, 'decoration works again')
        const seen = waitForVersion(store, 1_000)
        await store.putAd(makeAd('3', 'IAB1'))
        assert.equal(await seen, 1, 'the doorbell works again (resubscribed)')
      } finally {
        await store.close()
        await own.stop()
      }
    })

    it('notices a catalog change whose doorbell it missed, by the periodic check', {
      timeout: 10_000,
    }, async () => {
      const store = await connected({ versionCheckMs: 100 })
      const versions: number[] = []
      store.onCatalogChange((v) => versions.push(v))
      // A write that rings no doorbell (an operator's INCR without PUBLISH).
      await server.command('INCR', 'ad:catalog:version')
      await until(() => versions.length > 0, 2_000)
      assert.equal(versions.at(-1), Number(await server.command('GET', 'ad:catalog:version')))
    })

    it('times out against a hung (SIGSTOPped) server and recovers after it resumes', {
      timeout: 15_000,
    }, async () => {
      const own = await startRedisServer()
      const store = createDragonflyStore(own.url, { log: recordingLog(), commandTimeoutMs: 25 })
      open.push(store)
      try {
        await store.connect()
        await seedDecoration(store)
        own.pause()
        const startedAt = performance.now()
        await assert.rejects(store.fetchDecoration(ALL_KEYS, Want.all))
        assert.ok(performance.now() - startedAt < 200)
        own.resume()
        await until(() => store.isAvailable(), 3_000)
        await sleep(50)
        assert.notEqual((await store.fetchDecoration(ALL_KEYS, Want.all)).pageContext, null)
      } finally {
        await store.close()
        await own.stop()
      }
    })
  })

  it('backs off exponentially up to 2 s between reconnects', () => {
    assert.deepEqual([1, 2, 3, 4, 5, 6, 50].map(reconnectDelayMs), [100, 200, 400, 800, 1_600, 2_000, 2_000])
  })
})

function pairs(flat: string[]): [string, string][] {
  const out: [string, string][] = []
  for (let i = 0; i + 1 < flat.length; i += 2) out.push([flat[i]!, flat[i + 1]!])
  return out
}
