import assert from 'node:assert/strict'
import { request } from 'node:http'
import { after, describe, it } from 'node:test'
import { gzipSync } from 'node:zlib'
import { type RunningDsp, type SimulatedDspSpec, startSimulatedDsp } from './simulated-dsp.js'

interface Answer {
  readonly status: number
  readonly text: string
  readonly headers: Record<string, string | string[] | undefined>
  readonly ms: number
}

/** One request on its own connection (closed after), so no keep-alive socket outlives the test. */
function send(url: string, method: string, body: string | Buffer = '', headers: Record<string, string> = {}) {
  return new Promise<Answer>((resolve, reject) => {
    const startedAt = performance.now()
    const req = request(
      url,
      { method, agent: false, headers: { connection: 'close', ...headers } },
      (res) => {
        let text = ''
        res.setEncoding('utf8')
        res.on('data', (c: string) => {
          text += c
        })
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            text,
            headers: res.headers,
            ms: performance.now() - startedAt,
          }),
        )
      },
    )
    req.on('error', reject)
    req.end(body)
  })
}

const started: RunningDsp[] = []
after(() => Promise.all(started.map((d) => d.close())))

async function dsp(overrides: Partial<SimulatedDspSpec> = {}): Promise<RunningDsp> {
  const running = await startSimulatedDsp({
    id: 'dsp-t',
    port: 0,
    latencyMs: { median: 0, sigma: 0 },
    bidRate: 1,
    priceCpm: { min: 0.5, max: 2.5 },
    adomain: 'shoes.example',
    seed: 42,
    ...overrides,
  })
  started.push(running)
  return running
}

const bidRequest = (imps: unknown[], extra: Record<string, unknown> = {}) =>
  JSON.stringify({ id: 'auction-1', imp: imps, site: { domain: 'news.example' }, tmax: 100, ...extra })

const banner = (id: string, w = 300, h = 250) => ({
  id,
  banner: {
    format: [
      { w, h },
      { w: 1, h: 1 },
    ],
  },
})

interface BidJson {
  id: string
  impid: string
  price: number
  adid: string
  crid: string
  adomain: string[]
  w: number
  h: number
  adm: string
  nurl: string
  burl: string
}
interface ResponseJson {
  id: string
  cur: string
  seatbid: { seat: string; bid: BidJson[] }[]
}

describe('simulated DSP', () => {
  it('bids on every imp with bidRate 1: an OpenRTB 2.6 BidResponse with macros in adm and notice URLs', async () => {
    const d = await dsp({ seat: 'seat-9' })
    const res = await send(d.url, 'POST', bidRequest([banner('1', 728, 90)]), {
      'content-type': 'application/json',
    })
    assert.equal(res.status, 200)
    assert.equal(res.headers['content-type'], 'application/json')
    assert.equal(res.headers['x-openrtb-version'], '2.6')
    const body = JSON.parse(res.text) as ResponseJson
    assert.equal(body.id, 'auction-1')
    assert.equal(body.cur, 'USD')
    assert.equal(body.seatbid[0]?.seat, 'seat-9')
    const bid = body.seatbid[0]?.bid[0]
    assert.ok(bid)
    assert.equal(bid.impid, '1')
    assert.ok(bid.price >= 0.5 && bid.price <= 2.5, `price ${bid.price}`)
    assert.deepEqual([bid.w, bid.h], [728, 90])
    assert.deepEqual(bid.adomain, ['shoes.example'])
    assert.ok(bid.adid && bid.crid && bid.id)
    assert.match(bid.adm, /\$\{AUCTION_PRICE\}/)
    assert.equal(bid.nurl, `http://127.0.0.1:${d.port}/win?price=\${AUCTION_PRICE}&imp=\${AUCTION_IMP_ID}`)
    assert.equal(
      bid.burl,
      `http://127.0.0.1:${d.port}/billing?price=\${AUCTION_PRICE}&imp=\${AUCTION_IMP_ID}`,
    )
    assert.deepEqual([d.stats.requests, d.stats.bids], [1, 1])
  })

  it('answers 204 with no body when bidRate is 0', async () => {
    const d = await dsp({ bidRate: 0 })
    const res = await send(d.url, 'POST', bidRequest([banner('1'), banner('2')]))
    assert.equal(res.status, 204)
    assert.equal(res.text, '')
    assert.deepEqual([d.stats.requests, d.stats.bids, d.stats.noBids], [1, 0, 1])
  })

  it('answers 400 to a body that is not JSON, or not a bid request', async () => {
    const d = await dsp()
    assert.equal((await send(d.url, 'POST', '{"id": "x", imp')).status, 400)
    assert.equal((await send(d.url, 'POST', '{"id":"x"}')).status, 400)
    assert.equal((await send(d.url, 'POST', '[1,2]')).status, 400)
    assert.equal(d.stats.badRequests, 3)
  })

  it('waits its latency draw: a 30 ms median with sigma 0 answers after at least 30 ms', async () => {
    const d = await dsp({ latencyMs: { median: 30, sigma: 0 } })
    const res = await send(d.url, 'POST', bidRequest([banner('1')]))
    assert.equal(res.status, 200)
    assert.ok(res.ms >= 30, `answered after ${res.ms.toFixed(2)} ms`)
  })

  it('answers late when its draw exceeds tmax, and counts it', async () => {
    const d = await dsp({ latencyMs: { median: 25, sigma: 0 } })
    const res = await send(d.url, 'POST', bidRequest([banner('1')], { tmax: 10 }))
    assert.equal(res.status, 200)
    assert.ok(res.ms >= 25)
    assert.equal(d.stats.lateAnswers, 1)
  })

  it('bids per imp on multiple imps, with each imp size, and skips native-only imps', async () => {
    const d = await dsp()
    const imps = [
      banner('a', 300, 250),
      banner('b', 160, 600),
      { id: 'v', video: { w: 640, h: 360 } },
      { id: 'n', native: {} },
    ]
    const res = await send(d.url, 'POST', bidRequest(imps))
    const bids = (JSON.parse(res.text) as ResponseJson).seatbid[0]?.bid ?? []
    assert.deepEqual(
      bids.map((b) => [b.impid, b.w, b.h]),
      [
        ['a', 300, 250],
        ['b', 160, 600],
        ['v', 640, 360],
      ],
    )
    assert.match(bids[2]?.adm ?? '', /^<VAST version="4.0">.*\$\{AUCTION_PRICE\}/)
    assert.equal(new Set(bids.map((b) => b.id)).size, 3)
  })

  it('bids on about bidRate of the imps', async () => {
    const d = await dsp({ bidRate: 0.3, seed: 7 })
    const imps = Array.from({ length: 1000 }, (_, i) => banner(String(i)))
    await send(d.url, 'POST', bidRequest(imps))
    assert.ok(d.stats.bids > 240 && d.stats.bids < 360, `${d.stats.bids} bids on 1000 imps`)
  })

  it('repeats the same prices from the same seed', async () => {
    const prices = async () => {
      const d = await dsp({ seed: 1234 })
      const res = await send(d.url, 'POST', bidRequest([banner('1'), banner('2')]))
      return (JSON.parse(res.text) as ResponseJson).seatbid[0]?.bid.map((b) => b.price)
    }
    assert.deepEqual(await prices(), await prices())
  })

  it('reads gzip bodies, and refuses other content-encodings with 415', async () => {
    const d = await dsp()
    const gz = await send(d.url, 'POST', gzipSync(bidRequest([banner('1')])), { 'content-encoding': 'gzip' })
    assert.equal(gz.status, 200)
    assert.equal((JSON.parse(gz.text) as ResponseJson).id, 'auction-1')
    const br = await send(d.url, 'POST', 'xx', { 'content-encoding': 'br' })
    assert.equal(br.status, 415)
  })

  it('counts win, billing and impression notices', async () => {
    const d = await dsp()
    assert.equal((await send(`http://127.0.0.1:${d.port}/win?price=1.2&imp=1`, 'GET')).status, 204)
    await send(`http://127.0.0.1:${d.port}/billing?price=1.2&imp=1`, 'GET')
    await send(`http://127.0.0.1:${d.port}/billing?price=1.2&imp=1`, 'GET')
    await send(`http://127.0.0.1:${d.port}/impression?price=1.2&imp=1`, 'GET')
    assert.deepEqual([d.stats.wins, d.stats.billings, d.stats.impressions], [1, 2, 1])
  })

  it('takes bodies that arrive in several chunks', async () => {
    const d = await dsp()
    const body = bidRequest([banner('1')], {
      site: { domain: 'news.example', keywords: 'x'.repeat(200_000) },
    })
    const res = await send(d.url, 'POST', body)
    assert.equal(res.status, 200)
  })

  it('cuts answers still waiting on their delay when closed', async () => {
    const d = await dsp({ latencyMs: { median: 5_000, sigma: 0 } })
    const pending = send(d.url, 'POST', bidRequest([banner('1')])).then(
      () => 'answered',
      () => 'cut',
    )
    while (d.stats.requests === 0) await new Promise((r) => setTimeout(r, 5))
    await d.close()
    assert.equal(await pending, 'cut')
  })

  it('refuses a spec that makes no sense', async () => {
    await assert.rejects(dsp({ bidRate: 2 }), /bidRate/)
    await assert.rejects(dsp({ priceCpm: { min: 3, max: 1 } }), /price/)
  })
})
