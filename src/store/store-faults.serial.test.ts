import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { type ChildExchange, freePort, startChildExchange } from '../testing/child-exchange.js'
import { bidResponse, type MockDsp, startMockDsp } from '../testing/mock-dsp.js'
import { type RedisServer, skipUnlessRedis, startRedisServer } from '../testing/redis-server.js'
import { bannerRequest } from '../testing/test-exchange.js'

const TMAX_MS = 80

/** Runs `count` auctions, each for a new user (a decoration cache miss); returns statuses and the slowest. */
async function auctions(
  ex: ChildExchange,
  tag: string,
  count: number,
): Promise<{ statuses: number[]; maxMs: number }> {
  const statuses: number[] = []
  let maxMs = 0
  for (let i = 0; i < count; i++) {
    const startedAt = performance.now()
    const res = await fetch(`${ex.url}/openrtb2/auction`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(
        bannerRequest({ id: `${tag}-${i}`, tmax: TMAX_MS, user: { id: `${tag}-user-${i}` } }),
      ),
    })
    await res.arrayBuffer()
    statuses.push(res.status)
    maxMs = Math.max(maxMs, performance.now() - startedAt)
  }
  return { statuses, maxMs }
}

/** Faults of the store under a real exchange process: it keeps answering, on time, with DSP demand. */
describe('store faults (real redis-server, real exchange process)', () => {
  let dsp: MockDsp
  before(async () => {
    dsp = await startMockDsp((r) => ({
      kind: 'respond',
      status: 200,
      body: bidResponse(r['id'], [{ impid: '1', price: 1 }]),
    }))
  })
  after(() => dsp.close())
  const dsps = () => [{ id: 'dsp', endpoint: dsp.url, timeoutMs: 70 }]

  it('store down at start: the exchange starts, is ready, serves DSP demand, and picks the store up later', async (t) => {
    if (!skipUnlessRedis(t)) return
    const port = await freePort()
    const ex = await startChildExchange({ dsps: dsps() }, { DRAGONFLY_URL: `redis://127.0.0.1:${port}` })
    t.after(() => ex.kill('SIGKILL'))
    assert.equal((await fetch(`${ex.url}/readyz`)).status, 200)
    const down = await auctions(ex, 'down', 5)
    assert.deepEqual(down.statuses, [200, 200, 200, 200, 200])
    assert.ok(down.maxMs < TMAX_MS + 30, `slowest ${down.maxMs.toFixed(1)} ms`)
    const redis = await startRedisServer({ port })
    t.after(() => redis.stop())
    const metricsUp = async () => (await (await fetch(`${ex.url}/metrics`)).text()).includes('rtb_store_up 1')
    const giveUpAt = Date.now() + 8_000
    while (!(await metricsUp())) {
      assert.ok(Date.now() < giveUpAt, 'store not picked up after it came up')
      await new Promise((r) => setTimeout(r, 100))
    }
  })

  describe('with a running store', () => {
    let redis: RedisServer
    let ex: ChildExchange
    before(async () => {
      if (!skipUnlessRedis({ skip: () => {} })) return
      redis = await startRedisServer()
      ex = await startChildExchange({ dsps: dsps() }, { DRAGONFLY_URL: redis.url })
    })
    after(async () => {
      ex?.kill('SIGKILL')
      await redis?.stop()
    })

    it('paused store (SIGSTOP): auctions still answer within tmax, undecorated', async (t) => {
      if (!skipUnlessRedis(t)) return
      assert.deepEqual((await auctions(ex, 'before-pause', 3)).statuses, [200, 200, 200])
      redis.pause()
      try {
        const paused = await auctions(ex, 'paused', 5)
        assert.deepEqual(paused.statuses, [200, 200, 200, 200, 200])
        assert.ok(paused.maxMs < TMAX_MS + 30, `slowest ${paused.maxMs.toFixed(1)} ms`)
      } finally {
        redis.resume()
      }
      const text = await (await fetch(`${ex.url}/metrics`)).text()
      assert.match(text, /rtb_decoration_total\{outcome="(timeout|error)"\} [1-9]/)
    })

    it('store killed mid-run, then back on the same port: answers on time throughout, reconnects and resyncs', async (t) => {
      if (!skipUnlessRedis(t)) return
      const port = redis.port
      redis.kill('SIGKILL')
      await redis.exited
      const dead = await auctions(ex, 'dead', 5)
      assert.deepEqual(dead.statuses, [200, 200, 200, 200, 200])
      assert.ok(dead.maxMs < TMAX_MS + 30, `slowest ${dead.maxMs.toFixed(1)} ms`)
      redis = await startRedisServer({ port })
      // A catalog written while the exchange was away must show up without a restart (resync).
      await redis.command(
        'HSET',
        'ad:metadata:back-1',
        'id',
        'back-1',
        'title',
        'Back',
        'category',
        'IAB4',
        'clickURL',
        'https://b.example/c',
        'imageURL',
        'https://b.example/i.png',
        'price',
        '7.00',
        'sizes',
        '300x250',
      )
      await redis.command('SADD', 'ad:ids', 'back-1')
      await redis.command('SADD', 'ad:category:IAB4', 'back-1')
      await redis.command('SET', 'ad:catalog:version', '1000')
      const giveUpAt = Date.now() + 10_000
      for (let i = 0; ; i++) {
        const res = await fetch(`${ex.url}/openrtb2/auction`, {
          method: 'POST',
          body: JSON.stringify(bannerRequest({ id: `back-${i}`, site: { domain: 'back.example' } })),
        })
        if (res.status === 200 && ((await res.json()) as any).seatbid[0].bid[0].adid === 'back-1') break
        assert.ok(Date.now() < giveUpAt, 'the catalog written during the outage never showed up')
        await new Promise((r) => setTimeout(r, 100))
      }
    })
  })
})
