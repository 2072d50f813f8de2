import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { AuctionContext } from '../../pipeline/auction-context.js'
import { buildBidResponse, buildNoBidResponse, substituteMacros } from './build-response.js'

const macros = {
  auctionId: 'A1',
  bidId: 'B1',
  impId: 'I1',
  seatId: 'S1',
  adId: 'AD1',
  price: '1.23',
  currency: 'USD',
}

describe('substituteMacros', () => {
  it('replaces every OpenRTB auction macro', () => {
    const text =
      'id=${AUCTION_ID}&bid=${AUCTION_BID_ID}&imp=${AUCTION_IMP_ID}&seat=${AUCTION_SEAT_ID}' +
      '&ad=${AUCTION_AD_ID}&p=${AUCTION_PRICE}&c=${AUCTION_CURRENCY}&p2=${AUCTION_PRICE}'
    assert.equal(substituteMacros(text, macros), 'id=A1&bid=B1&imp=I1&seat=S1&ad=AD1&p=1.23&c=USD&p2=1.23')
  })
  it('leaves unknown macros and plain text alone', () => {
    assert.equal(substituteMacros('x ${AUCTION_LOSS} ${OTHER} y', macros), 'x ${AUCTION_LOSS} ${OTHER} y')
    assert.equal(substituteMacros('no macros', macros), 'no macros')
  })
})

describe('buildBidResponse', () => {
  const ctx = {
    request: { id: 'R1', imp: [{ id: '1' }] },
    winners: [
      {
        candidate: {
          impIndex: 0,
          price: 2,
          bid: { id: 'b', impid: '1', price: 2, adm: 'p=${AUCTION_PRICE}' },
          seat: 'house',
          dspIndex: -1,
          responseBidId: null,
          ad: null,
        },
        price: 1.5,
      },
    ],
  } as unknown as AuctionContext

  it('an ordinary auction: no ext', () => {
    const body = JSON.parse(buildBidResponse(ctx, 'USD', 'X1'))
    assert.deepEqual(Object.keys(body), ['id', 'bidid', 'seatbid', 'cur'])
    assert.equal(body.seatbid[0].bid[0].adm, 'p=1.5')
  })

  it('a debug auction: the explanation as the response ext', () => {
    const ext = { explain: { requestRejectedBy: null, imps: [] } }
    const body = JSON.parse(buildBidResponse(ctx, 'USD', 'X1', undefined, ext))
    assert.deepEqual(body.ext, ext)
    assert.equal(body.seatbid[0].seat, 'house')
  })
})

describe('buildNoBidResponse', () => {
  it('an empty seatbid, the no-bid reason, and the ext when there is one', () => {
    assert.deepEqual(JSON.parse(buildNoBidResponse('R1', 500, { explain: { imps: [] } })), {
      id: 'R1',
      seatbid: [],
      nbr: 500,
      ext: { explain: { imps: [] } },
    })
    assert.deepEqual(JSON.parse(buildNoBidResponse('R1', 3, undefined)), { id: 'R1', seatbid: [], nbr: 3 })
  })
})
