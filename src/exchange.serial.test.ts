import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { gzipSync } from 'node:zlib'
import { parseSeed } from './catalog/seed.js'
import { peekClaims } from './pacing/notice-token.js'
import { bidResponse, type MockDsp, startMockDsp } from './testing/mock-dsp.js'
import { bannerRequest, startTestExchange, type TestExchange } from './testing/test-exchange.js'

type Json = Record<string, any>

/** End-to-end: the real server (uWS), real undici pools, mock DSPs over loopback. */
describe('exchange end to end', () => {
  let dspA: MockDsp
  let dspB: MockDsp
  let exchange: TestExchange

  before(async () => {
    dspA = await startMockDsp(() => ({ kind: 'respond', status: 204 }))
    dspB = await startMockDsp(() => ({ kind: 'respond', status: 204 }))
    exchange = await startTestExchange({
      dsps: [
        { id: 'dsp-a', endpoint: dspA.url, timeoutMs: 80 },
        { id: 'dsp-b', endpoint: dspB.url, timeoutMs: 80 },
      ],
    })
  })
  after(async () => {
    await exchange.close()
    await dspA.close()
    await dspB.close()
  })

  function bidWith(dsp: MockDsp, price: number, extra: Json = {}, delayMs = 0): void {
    dsp.behave((r) => ({
      kind: 'respond',
      status: 200,
      delayMs,
      body: bidResponse(r['id'], [
        {
          impid: '1',
          price,
          adid: 'ad-9',
          nurl: 'http://127.0.0.1/win?p=${AUCTION_PRICE}&a=${AUCTION_ID}&i=${AUCTION_IMP_ID}&s=${AUCTION_SEAT_ID}',
          burl: 'http://127.0.0.1/bill?p=${AUCTION_PRICE}&c=${AUCTION_CURRENCY}&ad=${AUCTION_AD_ID}&b=${AUCTION_BID_ID}',
          ...extra,
        },
      ]),
    }))
  }

  it('answers a BidResponse with the highest DSP bid, macros substituted (first price)', async () => {
    bidWith(dspA, 1.5)
    bidWith(dspB, 2.5)
    const res = await exchange.auction(bannerRequest({ id: 'fp-1', at: 1 }))
    assert.equal(res.status, 200)
    const body = res.json as Json
    assert.equal(body.id, 'fp-1')
    assert.equal(body.cur, 'USD')
    assert.equal(body.seatbid.length, 1)
    const bid = body.seatbid[0].bid[0]
    assert.equal(bid.price, 2.5)
    assert.equal(bid.impid, '1')
    assert.equal(bid.adm, '<div>ad 2.5</div>')
    // nurl/burl point at our signed notice endpoints, which forward to the DSP's own URLs with the
    // macros substituted.
    assert.ok(bid.nurl.startsWith(`${exchange.url}/notify/win?t=`), bid.nurl)
    assert.ok(bid.burl.startsWith(`${exchange.url}/notify/billing?t=`), bid.burl)
    assert.equal(peekClaims(bid.nurl)?.forwardUrl, 'http://127.0.0.1/win?p=2.5&a=fp-1&i=1&s=seat-1')
    assert.equal(peekClaims(bid.burl)?.forwardUrl, 'http://127.0.0.1/bill?p=2.5&c=USD&ad=ad-9&b=b1')
  })

  it('second price by default (no at): second bid plus the increment', async () => {
    bidWith(dspA, 1.5)
    bidWith(dspB, 2.5)
    const res = await exchange.auction(bannerRequest({ id: 'sp-1' }))
    assert.equal(res.status, 200)
    const bid = (res.json as Json).seatbid[0].bid[0]
    assert.equal(bid.price, 1.51)
    assert.equal(bid.adm, '<div>ad 1.51</div>')
  })

  it('sends OpenRTB 2.6 to DSPs: header, tmax under the request tmax, source.tid and our schain node', async () => {
    bidWith(dspA, 1)
    bidWith(dspB, 1)
    const before = dspA.calls.length
    await exchange.auction(bannerRequest({ id: 'out-1', tmax: 90 }))
    const call = dspA.calls[before]!
    assert.equal(call.headers['x-openrtb-version'], '2.6')
    assert.equal(call.headers['content-type'], 'application/json')
    assert.equal(call.body['id'], 'out-1')
    const tmax = call.body['tmax'] as number
    assert.ok(Number.isInteger(tmax) && tmax > 0 && tmax < 90, `tmax ${tmax}`)
    const source = call.body['source'] as Json
    assert.equal(typeof source.tid, 'string')
    assert.equal(source.schain.nodes.at(-1).asi, '127.0.0.1')
    assert.deepEqual(call.body['cur'], ['USD'])
  })

  it('a hanging DSP: the answer arrives before tmax with the other DSP bid', async () => {
    dspA.behave(() => ({ kind: 'hang' }))
    bidWith(dspB, 1.25)
    const res = await exchange.auction(bannerRequest({ id: 'hang-1', tmax: 60, at: 1 }))
    assert.equal(res.status, 200)
    assert.equal((res.json as Json).seatbid[0].bid[0].price, 1.25)
    // Client-measured, with room for a busy shared test machine; without the deadline the answer
    // would wait for undici's 2 s backstop (the DSP never answers).
    assert.ok(res.ms < 60 + 80, `answered after ${res.ms.toFixed(1)} ms`)
  })

  it('a late DSP answer is dropped, not waited for', async () => {
    bidWith(dspA, 9, {}, 300)
    bidWith(dspB, 1)
    const res = await exchange.auction(bannerRequest({ id: 'late-1', tmax: 50, at: 1 }))
    assert.equal(res.status, 200)
    assert.equal((res.json as Json).seatbid[0].bid[0].price, 1)
    assert.ok(res.ms < 50 + 80, `answered after ${res.ms.toFixed(1)} ms (the DSP answers at 300)`)
  })

  it('a tiny tmax: no DSP is called and the answer is immediate', async () => {
    bidWith(dspA, 1)
    bidWith(dspB, 1)
    const calls = dspA.calls.length + dspB.calls.length
    const res = await exchange.auction(bannerRequest({ id: 'tiny-1', tmax: 3 }))
    assert.equal(res.status, 204)
    assert.equal(dspA.calls.length + dspB.calls.length, calls)
    assert.ok(res.ms < 30)
  })

  it('a DSP returning garbage or a 500 is that DSP failure, not the auction', async () => {
    dspA.behave(() => ({ kind: 'respond', status: 200, body: '{"seatbid": [ {"bid": nonsense' }))
    bidWith(dspB, 2)
    const garbage = await exchange.auction(bannerRequest({ id: 'garbage-1', at: 1 }))
    assert.equal(garbage.status, 200)
    assert.equal((garbage.json as Json).seatbid[0].bid[0].price, 2)
    dspA.behave(() => ({ kind: 'respond', status: 500, body: '{"error":"boom"}' }))
    const error = await exchange.auction(bannerRequest({ id: 'err-1', at: 1 }))
    assert.equal(error.status, 200)
    const metrics = await (await fetch(`${exchange.url}/metrics`)).text()
    assert.match(metrics, /rtb_dsp_requests_total\{dsp="dsp-a",outcome="bad_response"\} [1-9]/)
    assert.match(metrics, /rtb_dsp_requests_total\{dsp="dsp-a",outcome="http_status"\} [1-9]/)
  })

  it('wrong-shaped and wrong-auction answers are failures: bids from them never win', async () => {
    dspA.behave(() => ({ kind: 'respond', status: 200, body: '[1,2,3]' }))
    dspB.behave(() => ({
      kind: 'respond',
      status: 200,
      body: bidResponse('another-auction', [{ impid: '1', price: 5 }]),
    }))
    const res = await exchange.auction(bannerRequest({ id: 'shape-1' }))
    assert.equal(res.status, 204)
  })

  it('drops a bid from a blocked advertiser (badv) and lets the next one win', async () => {
    bidWith(dspA, 5, { adomain: ['blocked.example'] })
    bidWith(dspB, 1, { adomain: ['fine.example'] })
    const res = await exchange.auction(bannerRequest({ id: 'badv-1', at: 1, badv: ['blocked.example'] }))
    assert.equal(res.status, 200)
    const bid = (res.json as Json).seatbid[0].bid[0]
    assert.equal(bid.price, 1)
    assert.deepEqual(bid.adomain, ['fine.example'])
  })

  it('answers 204 with no body when nothing wins', async () => {
    dspA.behave(() => ({ kind: 'respond', status: 204 }))
    dspB.behave(() => ({ kind: 'respond', status: 204 }))
    const res = await exchange.auction(bannerRequest({ id: 'nobid-1' }))
    assert.equal(res.status, 204)
    assert.equal(res.text, '')
  })

  it('counts auctions by outcome and times them in /metrics', async () => {
    const text = await (await fetch(`${exchange.url}/metrics`)).text()
    assert.match(text, /rtb_auctions_total\{outcome="bid"\} [1-9]/)
    assert.match(text, /rtb_auctions_total\{outcome="no_bid"\} [1-9]/)
    assert.match(text, /rtb_auction_duration_seconds_bucket\{le="0.0005"\} \d+/)
  })
})

describe('house ads compete with DSP bids', () => {
  let dsp: MockDsp
  let exchange: TestExchange
  const seed = parseSeed(
    {
      ads: [
        {
          id: 'h1',
          title: 'House 1',
          category: 'IAB1',
          clickURL: 'https://a.example/c',
          imageURL: 'https://a.example/i.png',
          price: '3.00',
          sizes: ['300x250'],
          adomain: 'a.example',
        },
        {
          id: 'h2',
          title: 'House 2',
          category: 'IAB2',
          clickURL: 'https://b.example/c',
          imageURL: 'https://b.example/i.png',
          price: '0.40',
          sizes: ['728x90'],
          adomain: 'b.example',
        },
      ],
    },
    'test',
  )

  before(async () => {
    dsp = await startMockDsp((r) => ({
      kind: 'respond',
      status: 200,
      body: bidResponse(r['id'], [
        { impid: '1', price: 2 },
        { impid: '2', price: 1 },
      ]),
    }))
    exchange = await startTestExchange(
      { dsps: [{ id: 'dsp-a', endpoint: dsp.url, timeoutMs: 80 }] },
      { seed },
    )
  })
  after(async () => {
    await exchange.close()
    await dsp.close()
  })

  it('a house ad priced above the DSP bid wins its imp, matched by size; the DSP wins the other', async () => {
    const res = await exchange.auction(
      bannerRequest({
        id: 'house-1',
        at: 1,
        imp: [
          { id: '1', banner: { format: [{ w: 300, h: 250 }] } },
          { id: '2', banner: { w: 728, h: 90 } },
        ],
      }),
    )
    assert.equal(res.status, 200)
    const bids = (res.json as Json).seatbid.flatMap((s: Json) =>
      s.bid.map((b: Json) => ({ seat: s.seat, ...b })),
    )
    const imp1 = bids.find((b: Json) => b.impid === '1')
    const imp2 = bids.find((b: Json) => b.impid === '2')
    assert.equal(imp1.seat, 'house')
    assert.equal(imp1.price, 3)
    assert.equal(imp1.adid, 'h1')
    assert.match(imp1.adm, /https:\/\/a\.example\/i\.png/)
    assert.deepEqual([imp1.w, imp1.h], [300, 250])
    assert.equal(imp2.seat, 'seat-1')
    assert.equal(imp2.price, 1)
  })

  it('a house ad under the imp floor does not serve', async () => {
    dsp.behave(() => ({ kind: 'respond', status: 204 }))
    const res = await exchange.auction(
      bannerRequest({ id: 'house-2', imp: [{ id: '1', banner: { w: 300, h: 250 }, bidfloor: 3.5 }] }),
    )
    assert.equal(res.status, 204)
  })
})

describe('HTTP front end', () => {
  let exchange: TestExchange
  before(async () => {
    exchange = await startTestExchange({ maxBodyBytes: 4096 })
  })
  after(() => exchange.close())

  it('400 with a short JSON error naming the field', async () => {
    const res = await exchange.auction({ id: 'x', imp: [] })
    assert.equal(res.status, 400)
    const body = res.json as Json
    assert.equal(body.error, 'invalid_request')
    assert.equal(body.field, 'imp')
    const malformed = await exchange.auction('{"id":')
    assert.equal(malformed.status, 400)
  })

  it('413 for a body over the limit, with and without content-length', async () => {
    const big = JSON.stringify(bannerRequest({ pad: 'x'.repeat(5000) }))
    assert.equal((await exchange.auction(big)).status, 413)
    const chunked = await fetch(`${exchange.url}/openrtb2/auction`, {
      method: 'POST',
      body: new Blob([big]).stream(),
      duplex: 'half',
    } as RequestInit)
    assert.equal(chunked.status, 413)
  })

  it('accepts a gzip body; a gzip bomb over the limit is 413; bad gzip is 400', async () => {
    const ok = await exchange.auction(gzipSync(JSON.stringify(bannerRequest())), {
      'content-encoding': 'gzip',
    })
    assert.equal(ok.status, 204)
    const bomb = await exchange.auction(gzipSync(Buffer.alloc(1_000_000, 32)), { 'content-encoding': 'gzip' })
    assert.equal(bomb.status, 413)
    const bad = await exchange.auction('not gzip at all', { 'content-encoding': 'gzip' })
    assert.equal(bad.status, 400)
    const br = await exchange.auction('{}', { 'content-encoding': 'br' })
    assert.equal(br.status, 415)
  })

  it('404 for unknown routes, 405 for a wrong method', async () => {
    assert.equal((await fetch(`${exchange.url}/nope`)).status, 404)
    const wrong = await fetch(`${exchange.url}/openrtb2/auction`)
    assert.equal(wrong.status, 405)
    assert.equal(wrong.headers.get('allow'), 'POST')
  })

  it('health and readiness', async () => {
    assert.equal((await fetch(`${exchange.url}/healthz`)).status, 200)
    assert.equal((await fetch(`${exchange.url}/readyz`)).status, 200)
  })

  it('a client that aborts mid-body costs nothing and the server keeps serving', async () => {
    const net = await import('node:net')
    await new Promise<void>((resolve) => {
      const socket = net.connect(exchange.app.port, '127.0.0.1', () => {
        socket.write('POST /openrtb2/auction HTTP/1.1\r\nhost: x\r\ncontent-length: 1000\r\n\r\n{"id":"abc",')
        setTimeout(() => {
          socket.destroy()
          resolve()
        }, 20)
      })
    })
    const res = await exchange.auction(bannerRequest())
    assert.equal(res.status, 204)
    assert.equal(exchange.app.server.inFlight.count, 0)
  })

  it('keeps the connection alive across requests', async () => {
    const net = await import('node:net')
    const body = JSON.stringify(bannerRequest())
    const req = `POST /openrtb2/auction HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`
    const answers = await new Promise<string>((resolve, reject) => {
      const socket = net.connect(exchange.app.port, '127.0.0.1', () => socket.write(req + req))
      let got = ''
      socket.on('data', (d) => {
        got += d.toString()
        if ((got.match(/HTTP\/1\.1 204/g) ?? []).length === 2) {
          socket.destroy()
          resolve(got)
        }
      })
      socket.on('error', reject)
      setTimeout(() => reject(new Error(`only got: ${got}`)), 2000)
    })
    assert.equal((answers.match(/HTTP\/1\.1 204/g) ?? []).length, 2)
  })
})

describe('slow request bodies', () => {
  it('a body still incomplete at tmax gets 408, the connection is closed and the slot released', async () => {
    const exchange = await startTestExchange({ auction: { defaultTmaxMs: 60, maxTmaxMs: 60 } })
    try {
      const net = await import('node:net')
      const answer = await new Promise<string>((resolve, reject) => {
        const socket = net.connect(exchange.app.port, '127.0.0.1', () => {
          socket.write(
            'POST /openrtb2/auction HTTP/1.1\r\nhost: x\r\ncontent-length: 500\r\n\r\n{"id":"slow",',
          )
        })
        let got = ''
        socket.on('data', (d) => {
          got += d.toString()
        })
        socket.on('close', () => resolve(got))
        socket.on('error', reject)
        setTimeout(() => reject(new Error(`no answer: ${got}`)), 2_000)
      })
      assert.match(answer, /^HTTP\/1\.1 408 /)
      assert.equal(exchange.app.server.inFlight.count, 0)
      const text = await (await fetch(`${exchange.url}/metrics`)).text()
      assert.match(text, /rtb_auctions_total\{outcome="body_timeout"\} 1/)
    } finally {
      await exchange.close()
    }
  })
})
