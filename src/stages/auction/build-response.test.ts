import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { substituteMacros } from './build-response.js'

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
