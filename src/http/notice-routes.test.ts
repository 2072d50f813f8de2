import assert from 'node:assert/strict'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { after, before, describe, it } from 'node:test'
import { impressionCostMicros } from '../pacing/campaign.js'
import { createNoticeSigner, peekClaims } from '../pacing/notice-token.js'
import {
  adminGet,
  adminPost,
  auction,
  houseAd,
  on,
  type PacedApp,
  request,
  startPacedApp,
  TEST_NOTICE_SECRET,
  until,
} from '../pacing/pacing-test-kit.js'
import { createMemoryPacingData, createMemoryPacingStore } from '../store/memory-pacing-store.js'
import { createMemoryStore, memoryFrequencyOf } from '../store/memory-store.js'
import type { PacingStore } from '../store/pacing-store.js'
import { bidResponse, type MockDsp, startMockDsp } from '../testing/mock-dsp.js'

/** Records the GETs the exchange forwards to a DSP's own notice URLs. */
async function startNoticeSink(): Promise<{ url: string; seen: string[]; close(): Promise<void> }> {
  const seen: string[] = []
  const server: Server = createServer((req, res) => {
    seen.push(req.url ?? '')
    res.writeHead(200).end()
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  return { url, seen, close: () => new Promise((resolve) => server.close(() => resolve())) }
}

function metric(text: string, line: string): number {
  const found = text.split('\n').find((l) => l.startsWith(line))
  return found === undefined ? 0 : Number(found.slice(line.length + 1))
}

describe('notices: house billing counted once, budgets and caps hold', () => {
  let ex: PacedApp

  before(async () => {
    ex = await startPacedApp({ ads: [houseAd('a1', 'c1', '2.00'), houseAd('cap1', 'capped', '3.00')] })
    // At most 5 impressions, and 10,000 micros (5 at the ad's $2 CPM; second price charges less).
    await adminPost(ex.url, '/campaigns', {
      id: 'c1',
      lifetimeBudgetMicros: 10_000,
      impressionGoal: 5,
      pacing: 'ASAP',
    })
  })
  after(async () => {
    await ex.close()
  })

  async function firstWin(userId: string): Promise<Record<string, any>> {
    let bid: Record<string, any> | undefined
    await until(async () => {
      bid = (await auction(ex.url, userId))[0]
      return bid !== undefined
    })
    return bid!
  }

  it('answers 204 to a billing, once counted, duplicates and retries idempotent; metrics by outcome', async () => {
    const bid = await firstWin('u1')
    const burl = on(ex.url, bid['burl'])
    const claims = peekClaims(burl)!
    assert.equal(claims.isHouse, true)
    assert.equal(claims.campaignId, 'c1')
    assert.equal((await request(burl)).status, 204)
    assert.equal((await request(burl)).status, 204)
    assert.equal((await request(burl)).status, 204)
    const status = (await adminGet(ex.url, '/campaigns/c1')).json!
    assert.equal(status['delivery'].impressions, 1)
    const text = await ex.app.metrics.scrape()
    assert.equal(metric(text, 'rtb_notices_total{type="billing",result="counted"}'), 1)
    assert.equal(metric(text, 'rtb_notices_total{type="billing",result="duplicate"}'), 2)
  })

  it('403 and a metric for a forged, tampered, expired or wrong-type token; 400 without one', async () => {
    const bid = await firstWin('u2')
    const burl = on(ex.url, bid['burl'])
    const token = new URL(burl).searchParams.get('t')!
    const [payload, sig] = token.split('.') as [string, string]
    const forged = createNoticeSigner('someone-elses-secret!').sign(peekClaims(token)!)
    const expired = createNoticeSigner(TEST_NOTICE_SECRET).sign({
      ...peekClaims(token)!,
      expiresAtMs: Date.now() - 1,
    })
    assert.equal((await request(`${ex.url}/notify/billing?t=${forged}`)).status, 403)
    assert.equal((await request(`${ex.url}/notify/billing?t=${payload}x.${sig}`)).status, 403)
    assert.equal((await request(`${ex.url}/notify/billing?t=${expired}`)).json!['error'], 'notice_expired')
    assert.equal((await request(`${ex.url}/notify/win?t=${token}`)).status, 403)
    assert.equal((await request(`${ex.url}/notify/billing`)).status, 400)
    const text = await ex.app.metrics.scrape()
    assert.equal(metric(text, 'rtb_notices_total{type="billing",result="forged"}'), 2)
    assert.equal(metric(text, 'rtb_notices_total{type="billing",result="expired"}'), 1)
    assert.equal(metric(text, 'rtb_notices_total{type="win",result="forged"}'), 1)
    // None of them counted.
    assert.equal((await adminGet(ex.url, '/campaigns/c1')).json!['delivery'].impressions, 1)
    assert.equal((await request(burl)).status, 204)
  })

  it('stops serving when the goal is reached: committed spend and impressions never pass it', async () => {
    for (let i = 0; i < 40; i++) {
      const bid = (await auction(ex.url, `u-${i}`))[0]
      if (bid !== undefined && bid['adid'] === 'a1') await request(on(ex.url, bid['burl']))
    }
    const status = (await adminGet(ex.url, '/campaigns/c1')).json!
    assert.ok(status['delivery'].spentMicros <= 10_000, JSON.stringify(status))
    assert.equal(status['delivery'].impressions, 5)
    assert.equal(status['budgetLeft'].lifetimeMicros, 10_000 - status['delivery'].spentMicros)
    assert.equal((await auction(ex.url, 'u-late')).length, 0)
  })

  it('frequency caps: a billed impression counts against the user, other users still served', async () => {
    await adminPost(ex.url, '/campaigns', {
      id: 'capped',
      pacing: 'ASAP',
      frequencyCaps: [
        { window: 'day', max: 2 },
        { window: 'minute', max: 1 },
      ],
    })
    const first = await firstWin('fc-user')
    assert.equal(first['adid'], 'cap1')
    assert.equal((await request(on(ex.url, first['burl']))).status, 204)
    // The minute cap (1) is the most restrictive: no second impression for this user now.
    assert.notEqual((await auction(ex.url, 'fc-user'))[0]?.['adid'], 'cap1')
    assert.equal((await auction(ex.url, 'fc-other'))[0]?.['adid'], 'cap1')
    const counters = await ex.app.pacing.store.readFrequency('fc-user', Date.now())
    assert.deepEqual(counters.get('capped'), [1, 0, 1, 0, 0])
  })
})

describe('notices: DSP win, billing and loss URLs are ours and forward once', () => {
  let ex: PacedApp
  let dsp: MockDsp
  let sink: Awaited<ReturnType<typeof startNoticeSink>>

  before(async () => {
    sink = await startNoticeSink()
    dsp = await startMockDsp((r) => ({
      kind: 'respond',
      status: 200,
      body: bidResponse(r['id'], [
        {
          impid: '1',
          price: 3,
          adid: 'dsp-ad',
          adm: '<div/>',
          nurl: `${sink.url}/win?p=\${AUCTION_PRICE}`,
          burl: `${sink.url}/bill?p=\${AUCTION_PRICE}&a=\${AUCTION_ID}`,
          lurl: `${sink.url}/loss?p=\${AUCTION_PRICE}`,
        },
      ]),
    }))
    ex = await startPacedApp({ config: { dsps: [{ id: 'dsp-a', endpoint: dsp.url, timeoutMs: 80 }] } })
  })
  after(async () => {
    await ex.close()
    await dsp.close()
    await sink.close()
  })

  it('rewrites burl/nurl/lurl to signed notice URLs carrying the substituted DSP URLs', async () => {
    const bid = (await auction(ex.url, 'u1', 'auc-9'))[0]!
    for (const [field, path] of [
      ['burl', '/notify/billing'],
      ['nurl', '/notify/win'],
      ['lurl', '/notify/loss'],
    ] as const) {
      assert.equal(new URL(bid[field]).pathname, path)
    }
    const billing = peekClaims(bid['burl'])!
    // Second price with one bid: the floor (0) plus the 0.01 increment.
    assert.equal(billing.forwardUrl, `${sink.url}/bill?p=0.01&a=auc-9`)
    assert.equal(billing.isHouse, false)
    assert.equal(billing.source, 'seat-1')
    assert.equal(billing.priceCpmMicros, 10_000)

    assert.equal((await request(on(ex.url, bid['burl']))).status, 204)
    assert.equal((await request(on(ex.url, bid['burl']))).status, 204)
    assert.equal((await request(on(ex.url, bid['nurl']))).status, 204)
    await until(() => sink.seen.length >= 2)
    await new Promise((r) => setTimeout(r, 50))
    assert.deepEqual(sink.seen.sort(), ['/bill?p=0.01&a=auc-9', '/win?p=0.01'])
    const text = await ex.app.metrics.scrape()
    assert.equal(metric(text, 'rtb_notice_forwards_total{result="ok"}'), 2)
  })
})

type NoticeWrite = 'commit' | 'confirmCommit' | 'markNotice' | 'confirmNotice'

/**
 * A pacing store whose next call of a chosen write is applied and then fails, as a command does
 * that times out on a paused (SIGSTOPped, overloaded) Dragonfly and runs when it resumes.
 */
function losingAnswers(inner: PacingStore): { store: PacingStore; loseNext(op: NoticeWrite): void } {
  const losing = new Set<NoticeWrite>()
  const answer = <T>(op: NoticeWrite, value: T): T => {
    if (losing.delete(op)) throw new Error('Command timed out')
    return value
  }
  const store: PacingStore = {
    ...inner,
    commit: async (r) => answer('commit', await inner.commit(r)),
    confirmCommit: async (c, o, s) => answer('confirmCommit', await inner.confirmCommit(c, o, s)),
    markNotice: async (k, t) => answer('markNotice', await inner.markNotice(k, t)),
    confirmNotice: async (k) => answer('confirmNotice', await inner.confirmNotice(k)),
  }
  return { store, loseNext: (op) => losing.add(op) }
}

describe('issue: a billing answered 503 whose commit did land is counted once and followed up by its retry', () => {
  let ex: PacedApp
  let faults: ReturnType<typeof losingAnswers>

  before(async () => {
    const store = createMemoryStore()
    const data = createMemoryPacingData(memoryFrequencyOf(store) ?? undefined)
    faults = losingAnswers(createMemoryPacingStore({ data }))
    ex = await startPacedApp({ ads: [houseAd('cap1', 'capped', '3.00')], store, pacingStore: faults.store })
    await adminPost(ex.url, '/campaigns', {
      id: 'capped',
      pacing: 'ASAP',
      impressionGoal: 10,
      frequencyCaps: [{ window: 'day', max: 3 }],
    })
  })
  after(async () => {
    await ex.close()
  })

  async function win(userId: string): Promise<string> {
    let bid: Record<string, any> | undefined
    await until(async () => {
      bid = (await auction(ex.url, userId))[0]
      return bid !== undefined
    })
    assert.equal(bid!['adid'], 'cap1')
    return on(ex.url, bid!['burl'])
  }

  const dayCount = async (userId: string) =>
    (await ex.app.pacing.store.readFrequency(userId, Date.now())).get('capped')?.[2] ?? 0

  it('house billing: 503, then the retry answers 204, counts it in metrics and caps exactly once', async () => {
    const burl = await win('retry-user')
    faults.loseNext('commit')
    assert.equal((await request(burl)).status, 503)
    // The store did count it; its follow-up (frequency counters) waits for a retry.
    assert.equal((await adminGet(ex.url, '/campaigns/capped')).json!['delivery'].impressions, 1)
    assert.equal(await dayCount('retry-user'), 0)
    assert.equal((await request(burl)).status, 204)
    assert.equal(await dayCount('retry-user'), 1)
    // Later duplicates and retries: 204, nothing more.
    const again = await Promise.all([request(burl), request(burl)])
    assert.deepEqual(
      again.map((a) => a.status),
      [204, 204],
    )
    assert.equal(await dayCount('retry-user'), 1)
    const status = (await adminGet(ex.url, '/campaigns/capped')).json!
    assert.equal(status['delivery'].impressions, 1)
    assert.equal(status['delivery'].spentMicros, impressionCostMicros(peekClaims(burl)!.priceCpmMicros))
    const text = await ex.app.metrics.scrape()
    assert.equal(metric(text, 'rtb_notices_total{type="billing",result="store_error"}'), 1)
    assert.equal(metric(text, 'rtb_notices_total{type="billing",result="counted"}'), 1)
    assert.equal(metric(text, 'rtb_notices_total{type="billing",result="duplicate"}'), 2)
  })
})

describe('issue: a DSP billing answered 503 whose write did land is forwarded once, by its retry', () => {
  let ex: PacedApp
  let dsp: MockDsp
  let sink: Awaited<ReturnType<typeof startNoticeSink>>
  let faults: ReturnType<typeof losingAnswers>

  before(async () => {
    sink = await startNoticeSink()
    dsp = await startMockDsp((r) => ({
      kind: 'respond',
      status: 200,
      body: bidResponse(r['id'], [
        {
          impid: '1',
          price: 3,
          adid: 'dsp-ad',
          adm: '<div/>',
          nurl: `${sink.url}/win?a=\${AUCTION_ID}`,
          burl: `${sink.url}/bill?a=\${AUCTION_ID}`,
        },
      ]),
    }))
    faults = losingAnswers(createMemoryPacingStore())
    ex = await startPacedApp({
      config: { dsps: [{ id: 'dsp-a', endpoint: dsp.url, timeoutMs: 80 }] },
      pacingStore: faults.store,
    })
  })
  after(async () => {
    await ex.close()
    await dsp.close()
    await sink.close()
  })

  it('503, then the retry forwards the DSP burl exactly once; duplicates never forward again', async () => {
    const bid = (await auction(ex.url, 'u1', 'auc-503'))[0]!
    const burl = on(ex.url, bid['burl'])
    faults.loseNext('markNotice')
    assert.equal((await request(burl)).status, 503)
    await new Promise((r) => setTimeout(r, 50))
    assert.deepEqual(sink.seen, [])
    assert.equal((await request(burl)).status, 204)
    await until(() => sink.seen.length >= 1)
    const again = await Promise.all([request(burl), request(burl), request(burl)])
    assert.deepEqual(
      again.map((a) => a.status),
      [204, 204, 204],
    )
    await new Promise((r) => setTimeout(r, 100))
    assert.deepEqual(sink.seen, ['/bill?a=auc-503'])
    const text = await ex.app.metrics.scrape()
    assert.equal(metric(text, 'rtb_notices_total{type="billing",result="counted"}'), 1)
    assert.equal(metric(text, 'rtb_notices_total{type="billing",result="store_error"}'), 1)
    assert.equal(metric(text, 'rtb_notice_forwards_total{result="ok"}'), 1)
  })

  it('at most once: when the confirmation itself lands unanswered, the forward is lost, never doubled', async () => {
    const bid = (await auction(ex.url, 'u2', 'auc-lost'))[0]!
    const nurl = on(ex.url, bid['nurl'])
    faults.loseNext('confirmNotice')
    assert.equal((await request(nurl)).status, 503)
    assert.equal((await request(nurl)).status, 204)
    await new Promise((r) => setTimeout(r, 100))
    assert.deepEqual(
      sink.seen.filter((u) => u.startsWith('/win')),
      [],
    )
  })
})
