import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { parseSeed } from '../catalog/seed.js'
import { bannerRequest, startTestExchange, type TestExchange } from '../testing/test-exchange.js'

const TOKEN = 'test-admin-token-0123456789'

const ad = (id: string, extra: Record<string, unknown> = {}) => ({
  id,
  title: `Ad ${id}`,
  category: 'IAB19',
  clickURL: `https://adv.example/${id}`,
  imageURL: `https://cdn.adv.example/${id}.png`,
  price: '4.00',
  sizes: ['300x250'],
  adomain: 'adv.example',
  ...extra,
})

/** The admin API on a real exchange with the embedded store. */
describe('admin API', () => {
  // One exchange without ADMIN_TOKEN (the admin API refuses everything) and one with it.
  let ex: TestExchange
  before(async () => {
    ex = await startTestExchange()
  })
  after(() => ex.close())

  let admin: TestExchange
  before(async () => {
    admin = await startTestExchange({ adminToken: TOKEN })
  })
  after(() => admin.close())

  const call = (
    target: TestExchange,
    method: string,
    path: string,
    body?: unknown,
    token: string | null = TOKEN,
  ) =>
    fetch(`${target.url}${path}`, {
      method,
      headers: {
        ...(token === null ? {} : { authorization: token.includes(' ') ? token : `Bearer ${token}` }),
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
    })

  it('401 without a token, 403 with a wrong one, 403 for every call when no token is configured', async () => {
    assert.equal((await call(admin, 'GET', '/ads/1', undefined, null)).status, 401)
    assert.equal((await call(admin, 'GET', '/ads/1', undefined, 'wrong-token-wrong-token')).status, 403)
    assert.equal((await call(ex, 'GET', '/ads/1', undefined, TOKEN)).status, 403)
    // Credentials of another scheme are no bearer token: 401, as without any.
    assert.equal((await call(admin, 'POST', '/ads', ad('x'), 'Basic abc')).status, 401)
    const counted = await (await fetch(`${admin.url}/metrics`)).text()
    assert.match(counted, /rtb_admin_requests_total\{result="unauthorized"\} [2-9]/)
    assert.match(counted, /rtb_admin_requests_total\{result="forbidden"\} [1-9]/)
  })

  it('POST /ads creates (201) and updates (200); GET returns it; the next auction serves it', async () => {
    const created = await call(admin, 'POST', '/ads', ad('a1'))
    assert.equal(created.status, 201)
    assert.equal(((await created.json()) as { id: string }).id, 'a1')
    const got = await call(admin, 'GET', '/ads/a1')
    assert.equal(got.status, 200)
    const body = (await got.json()) as Record<string, unknown>
    assert.equal(body['price'], 4)
    assert.deepEqual(body['sizes'], ['300x250'])
    const auction = await admin.auction(bannerRequest({ id: 'adm-1' }))
    assert.equal(auction.status, 200)
    assert.equal((auction.json as any).seatbid[0].bid[0].adid, 'a1')
    assert.equal((await call(admin, 'POST', '/ads', ad('a1', { price: '5.00' }))).status, 200)
  })

  it('400 with every problem listed for a bad ad; 400 for malformed JSON; 413 for a huge body', async () => {
    const bad = await call(admin, 'POST', '/ads', { id: 'b', price: '-1', sizes: ['big'] })
    assert.equal(bad.status, 400)
    const problems = ((await bad.json()) as { problems: string[] }).problems.join('\n')
    for (const field of ['title', 'category', 'clickURL', 'imageURL', 'price', 'sizes'])
      assert.match(problems, new RegExp(field))
    assert.equal((await call(admin, 'POST', '/ads', '{"id":')).status, 400)
    assert.equal(
      (await call(admin, 'POST', '/ads', JSON.stringify(ad('c', { title: 'x'.repeat(70_000) })))).status,
      413,
    )
  })

  it('DELETE /ads/:id removes it from the store and from auctions; 404 when absent', async () => {
    assert.equal((await call(admin, 'POST', '/ads', ad('d1', { price: '9.00' }))).status, 201)
    assert.equal(
      ((await admin.auction(bannerRequest({ id: 'del-1' }))).json as any).seatbid[0].bid[0].adid,
      'd1',
    )
    assert.equal((await call(admin, 'DELETE', '/ads/d1')).status, 200)
    assert.equal((await call(admin, 'GET', '/ads/d1')).status, 404)
    assert.equal((await call(admin, 'DELETE', '/ads/d1')).status, 404)
    const after = await admin.auction(bannerRequest({ id: 'del-2' }))
    assert.notEqual((after.json as any)?.seatbid?.[0]?.bid?.[0]?.adid, 'd1')
  })

  it('user preferences: POST validates, GET lists the ads in the user categories', async () => {
    assert.equal((await call(admin, 'POST', '/ads', ad('p1', { category: 'IAB7' }))).status, 201)
    assert.equal((await call(admin, 'POST', '/ads', ad('p2', { category: 'IAB8' }))).status, 201)
    assert.equal(
      (await call(admin, 'POST', '/ads/user_preferences', { userId: 'u9', categories: ['IAB7'] })).status,
      200,
    )
    assert.equal(
      (await call(admin, 'POST', '/ads/user_preferences', { userId: 'u9', categories: 'IAB7' })).status,
      400,
    )
    assert.equal((await call(admin, 'POST', '/ads/user_preferences', { categories: ['IAB7'] })).status, 400)
    const res = await call(admin, 'GET', '/ads/user_preferences/u9')
    assert.equal(res.status, 200)
    const body = (await res.json()) as { categories: string[]; ads: { id: string }[] }
    assert.deepEqual(body.categories, ['IAB7'])
    assert.deepEqual(
      body.ads.map((a) => a.id),
      ['p1'],
    )
  })

  it('the decoration serves the user their preferred categories in auctions', async () => {
    assert.equal(
      (await call(admin, 'POST', '/ads/user_preferences', { userId: 'u10', categories: ['IAB8'] })).status,
      200,
    )
    const res = await admin.auction(
      bannerRequest({ id: 'pref-1', user: { id: 'u10' }, site: { domain: 'x.example' } }),
    )
    assert.equal(res.status, 200)
    assert.equal((res.json as any).seatbid[0].bid[0].adid, 'p2')
  })
})

/** Explain and policy rules: a real exchange whose seed carries policies and a publisher floor. */
describe('admin API: explain an ad, policy rules', () => {
  let ex: TestExchange
  before(async () => {
    const seed = parseSeed(
      {
        ads: [
          ad('rich', { price: '9.00', category: 'IAB8' }),
          ad('cheap', { price: '3.00' }),
          ad('ok', { price: '6.00' }),
        ],
        policies: [
          { kind: 'publisher_category', id: 'pub1-no-iab8', publishers: ['pub-1'], categories: ['IAB8'] },
          { kind: 'domain_min_cpm', id: 'news-min', domains: ['other.example'], minCpm: 7 },
        ],
        publishers: { 'pub-1': { floorCpm: 5 } },
      },
      'test',
    )
    ex = await startTestExchange({ adminToken: TOKEN }, { seed })
  })
  after(() => ex.close())

  const post = (path: string, body: unknown, token: string | null = TOKEN) =>
    fetch(`${ex.url}${path}`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        ...(token === null ? {} : { authorization: `Bearer ${token}` }),
      },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    })
  const onPub1 = (extra: Record<string, unknown> = {}) =>
    bannerRequest({ site: { domain: 'news.example', publisher: { id: 'pub-1' } }, ...extra })

  it('seed policy rules reach the auctions: the rule-blocked ad does not serve', async () => {
    const res = await ex.auction(onPub1())
    assert.equal(res.status, 200)
    assert.equal((res.json as any).seatbid[0].bid[0].adid, 'ok')
    // Without the publisher the rule is keyed on, the best-paying ad serves.
    const other = await ex.auction(bannerRequest({ site: { domain: 'news.example' } }))
    assert.equal((other.json as any).seatbid[0].bid[0].adid, 'rich')
  })

  it('POST /ads/:id/explain names the first filter rejecting the ad per imp, with the rule or value', async () => {
    const request = onPub1({
      imp: [
        { id: 'a', banner: { w: 300, h: 250 } },
        { id: 'b', banner: { w: 728, h: 90 } },
      ],
    })
    const blocked = await post('/ads/rich/explain', request)
    assert.equal(blocked.status, 200)
    const why = (await blocked.json()) as any
    assert.equal(why.adId, 'rich')
    assert.equal(why.requestRejectedBy, null)
    assert.equal(why.imps[0].impId, 'a')
    assert.equal(why.imps[0].rejectedBy, 'publisher_category')
    assert.deepEqual(why.imps[0].failed, [{ filter: 'publisher_category', detail: 'pub1-no-iab8' }])
    assert.equal(why.imps[1].rejectedBy, 'format')
    // The publisher floor comes from the store, as in an auction: 3.00 is under pub-1's 5.
    const cheap = (await (await post('/ads/cheap/explain', request)).json()) as any
    assert.deepEqual(cheap.floors, [5, 5])
    assert.equal(cheap.imps[0].rejectedBy, 'floor')
    const ok = (await (await post('/ads/ok/explain', request)).json()) as any
    assert.deepEqual(
      [ok.imps[0].isEligible, ok.imps[0].isSelected, ok.imps[0].rejectedBy],
      [true, true, null],
    )
  })

  it('explain: a request filter that would end the auction is named; 400, 404, 401 as usual', async () => {
    const crawler = onPub1({ device: { ua: 'Googlebot/2.1', ip: '203.0.113.9' } })
    const why = (await (await post('/ads/ok/explain', crawler)).json()) as any
    assert.equal(why.requestRejectedBy, 'request_crawler')
    const invalid = await post('/ads/ok/explain', { id: 'x', imp: [] })
    assert.equal(invalid.status, 400)
    assert.equal(((await invalid.json()) as any).field, 'imp')
    assert.equal((await post('/ads/ok/explain', '{"id":')).status, 400)
    assert.equal((await post('/ads/nope/explain', onPub1())).status, 404)
    assert.equal((await post('/ads/ok/explain', onPub1(), null)).status, 401)
  })

  it('GET /policies lists the rules in force as operators write them', async () => {
    const res = await fetch(`${ex.url}/policies`, { headers: { authorization: `Bearer ${TOKEN}` } })
    assert.equal(res.status, 200)
    const body = (await res.json()) as { count: number; policies: Record<string, unknown>[] }
    assert.equal(body.count, 2)
    assert.deepEqual(body.policies[1], {
      kind: 'domain_min_cpm',
      id: 'news-min',
      domains: ['other.example'],
      categories: [],
      minCpm: 7,
    })
    assert.equal((await fetch(`${ex.url}/policies`)).status, 401)
  })
})
