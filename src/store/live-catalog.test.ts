import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { type ChildExchange, startChildExchange } from '../testing/child-exchange.js'
import { type RedisServer, skipUnlessRedis, startRedisServer } from '../testing/redis-server.js'
import { bannerRequest } from '../testing/test-exchange.js'

const TOKEN = 'live-catalog-token-0123456789'

async function auctionAdId(ex: ChildExchange, id: string): Promise<string | null> {
  const res = await fetch(`${ex.url}/openrtb2/auction`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(bannerRequest({ id, site: { domain: 'live.example' } })),
  })
  if (res.status !== 200) return null
  return ((await res.json()) as any).seatbid[0].bid[0].adid ?? null
}

/** Polls until `check` holds, up to `withinMs`; returns the time it took. */
async function within(withinMs: number, check: () => Promise<boolean>): Promise<number> {
  const startedAt = performance.now()
  while (performance.now() - startedAt < withinMs) {
    if (await check()) return performance.now() - startedAt
    await new Promise((r) => setTimeout(r, 25))
  }
  throw new Error(`not within ${withinMs} ms`)
}

/** Two exchange processes on one Redis-protocol server: the catalog is live across instances. */
describe('live catalog across instances (real redis-server)', () => {
  let redis: RedisServer | null = null
  let a: ChildExchange
  let b: ChildExchange

  before(async () => {
    if (!skipUnlessRedis({ skip: () => {} })) return
    redis = await startRedisServer()
    const env = { DRAGONFLY_URL: redis.url, ADMIN_TOKEN: TOKEN }
    ;[a, b] = await Promise.all([
      startChildExchange({ dsps: [] }, env),
      startChildExchange({ dsps: [] }, env),
    ])
  })
  after(async () => {
    a?.kill('SIGKILL')
    b?.kill('SIGKILL')
    await redis?.stop()
  })

  it('an ad created through A serves in B within one second; deleted, it stops', async (t) => {
    if (!skipUnlessRedis(t)) return
    const post = await fetch(`${a.url}/ads`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        id: 'live-1',
        title: 'Live',
        category: 'IAB3',
        clickURL: 'https://live.example/c',
        imageURL: 'https://live.example/i.png',
        price: '2.00',
        sizes: ['300x250'],
        adomain: 'live.example',
      }),
    })
    assert.equal(post.status, 201)
    let n = 0
    const shownMs = await within(1_000, async () => (await auctionAdId(b, `live-${n++}`)) === 'live-1')
    t.diagnostic(`visible on B after ${shownMs.toFixed(0)} ms`)
    const del = await fetch(`${a.url}/ads/live-1`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${TOKEN}` },
    })
    assert.equal(del.status, 200)
    const goneMs = await within(1_000, async () => (await auctionAdId(b, `gone-${n++}`)) === null)
    t.diagnostic(`gone on B after ${goneMs.toFixed(0)} ms`)
  })

  it('an ad written by hand with redis commands (the documented keys) serves after the doorbell', async (t) => {
    if (!skipUnlessRedis(t) || redis === null) return
    await redis.command(
      'HSET',
      'ad:metadata:hand-1',
      'id',
      'hand-1',
      'title',
      'By hand',
      'category',
      'IAB5',
      'clickURL',
      'https://hand.example/c',
      'imageURL',
      'https://hand.example/i.png',
      'price',
      '3.00',
      'sizes',
      '300x250',
      'adomain',
      'hand.example',
    )
    await redis.command('SADD', 'ad:category:IAB5', 'hand-1')
    await redis.command('SADD', 'ad:ids', 'hand-1')
    const version = await redis.command('INCR', 'ad:catalog:version')
    await redis.command('PUBLISH', 'ad:catalog:events', String(version))
    let n = 0
    await within(1_000, async () => (await auctionAdId(b, `hand-${n++}`)) === 'hand-1')
    await within(1_000, async () => (await auctionAdId(a, `hand-a-${n++}`)) === 'hand-1')
  })
})
