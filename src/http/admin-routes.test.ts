import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
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
