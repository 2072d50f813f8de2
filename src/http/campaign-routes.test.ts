import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import {
  adminGet,
  adminPost,
  auction,
  houseAd,
  on,
  type PacedApp,
  request,
  startPacedApp,
  until,
} from '../pacing/pacing-test-kit.js'

describe('campaign admin API', () => {
  let ex: PacedApp

  before(async () => {
    ex = await startPacedApp({ ads: [houseAd('a1', 'c1')] })
  })
  after(async () => {
    await ex.close()
  })

  it('needs the bearer token: 401 without, 403 with a wrong one', async () => {
    assert.equal((await request(`${ex.url}/campaigns/c1`)).status, 401)
    const wrong = await request(`${ex.url}/campaigns/c1`, { headers: { authorization: 'Bearer nope' } })
    assert.equal(wrong.status, 403)
  })

  it('refuses an invalid campaign with every problem listed', async () => {
    const res = await adminPost(ex.url, '/campaigns', { id: 'c1', dailyBudgetMicros: 2.5, pacing: 'FAST' })
    assert.equal(res.status, 400)
    assert.equal(res.json!['error'], 'invalid_campaign')
    assert.equal((res.json!['problems'] as string[]).length, 2)
  })

  it('creates (201), replaces (200) and reports a campaign: delivery, budget left, leases, pacing', async () => {
    const body = { id: 'c1', lifetimeBudgetMicros: 1_000_000, impressionGoal: 100, pacing: 'ASAP' }
    assert.equal((await adminPost(ex.url, '/campaigns', body)).status, 201)
    const replaced = await adminPost(ex.url, '/campaigns', { ...body, dailyBudgetMicros: 500_000 })
    assert.equal(replaced.status, 200)
    assert.equal(replaced.json!['dailyBudgetMicros'], 500_000)
    // Serve until this instance holds a lease and has billed once.
    let burl = ''
    await until(async () => {
      const bids = await auction(ex.url, 'u1')
      burl = bids[0]?.['burl'] ?? ''
      return burl !== ''
    })
    assert.equal((await request(on(ex.url, burl))).status, 204)
    const res = await adminGet(ex.url, '/campaigns/c1')
    assert.equal(res.status, 200)
    const j = res.json!
    assert.equal(j['campaign'].dailyBudgetMicros, 500_000)
    assert.ok(j['delivery'].spentMicros > 0 && j['delivery'].spentMicros <= 2_000)
    assert.equal(j['delivery'].impressions, 1)
    assert.equal(j['budgetLeft'].lifetimeMicros, 1_000_000 - j['delivery'].spentMicros)
    assert.equal(j['budgetLeft'].impressions, 99)
    assert.ok(j['leases'].leasedMicros > 0)
    assert.equal(j['pacing'].state, 'serving')
    assert.equal(j['pacing'].participationRate, 1)
  })

  it('404 for an unknown campaign', async () => {
    assert.equal((await adminGet(ex.url, '/campaigns/nope')).status, 404)
  })
})
