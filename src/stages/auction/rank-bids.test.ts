import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { Bid, BidRequest } from '../../openrtb/types.js'
import type { CandidateBid, RequestSignals } from '../../pipeline/auction-context.js'
import { pickWinner, rejectBid } from './rank-bids.js'

const request = {
  id: 'r1',
  imp: [
    { id: '1', banner: { format: [{ w: 300, h: 250 }], battr: [1, 2] }, bidfloor: 0.5 },
    {
      id: '2',
      banner: { w: 728, h: 90 },
      pmp: { private_auction: 1, deals: [{ id: 'D1', bidfloor: 3, wseat: ['s-ok'] }] },
    },
  ],
  badv: ['blocked.example'],
  bcat: ['IAB25'],
} as unknown as BidRequest

function candidate(bid: Partial<Bid>, extra: Partial<CandidateBid> = {}): CandidateBid {
  const full = { id: 'b', impid: '1', price: 1, adm: '<a/>', ...bid } as Bid
  return {
    impIndex: request.imp.findIndex((i) => i.id === full.impid),
    price: full.price,
    bid: full,
    seat: 's-ok',
    dspIndex: 0,
    responseBidId: null,
    ad: null,
    ...extra,
  }
}

describe('rejectBid', () => {
  it('accepts a valid bid', () => assert.equal(rejectBid(candidate({}), request, 0.5, null), null))
  it('drops a bid for an unknown imp', () =>
    assert.equal(rejectBid(candidate({ impid: 'nope' }), request, 0.5, null), 'unknown_imp'))
  it('drops price <= 0 and NaN', () => {
    assert.equal(rejectBid(candidate({ price: 0 }), request, 0, null), 'bad_price')
    assert.equal(rejectBid(candidate({ price: -1 }), request, 0, null), 'bad_price')
    assert.equal(rejectBid(candidate({}, { price: Number.NaN }), request, 0, null), 'bad_price')
  })
  it('drops a bid below the floor in force', () =>
    assert.equal(rejectBid(candidate({ price: 0.49 }), request, 0.5, null), 'below_floor'))
  it('drops every bid on an unbiddable imp (floor -1)', () =>
    assert.equal(rejectBid(candidate({ price: 9 }), request, -1, null), 'below_floor'))
  it('drops a blocked advertiser (badv) and category (bcat)', () => {
    assert.equal(rejectBid(candidate({ adomain: ['blocked.example'] }), request, 0, null), 'blocked_adomain')
    assert.equal(rejectBid(candidate({ cat: ['IAB25'] }), request, 0, null), 'blocked_category')
  })
  it('uses the merged blocks from decoration when present', () => {
    const signals = { bcat: ['IAB7'], badv: ['pub-blocked.example'] } as unknown as RequestSignals
    assert.equal(
      rejectBid(candidate({ adomain: ['pub-blocked.example'] }), request, 0, signals),
      'blocked_adomain',
    )
    assert.equal(rejectBid(candidate({ cat: ['IAB7'] }), request, 0, signals), 'blocked_category')
  })
  it('refuses a bid whose adomain, cat or attr is not a list (a string would slip past the blocks)', () => {
    for (const field of ['adomain', 'cat', 'attr']) {
      for (const bad of [null, 'blocked.example', 'IAB25', 7, {}]) {
        assert.equal(
          rejectBid(candidate({ [field]: bad } as unknown as Partial<Bid>), request, 0, null),
          'malformed_field',
        )
      }
    }
  })
  it('refuses absurd prices (1e308, above MAX_BID_CPM) and absurdly nested bids', () => {
    assert.equal(rejectBid(candidate({ price: 1e308 }), request, 0, null), 'bad_price')
    assert.equal(rejectBid(candidate({ price: 10_001 }), request, 0, null), 'bad_price')
    assert.equal(rejectBid(candidate({ price: 9_999 }), request, 0, null), null)
    let ext: Record<string, unknown> = {}
    for (let i = 0; i < 10_000; i++) ext = { ext }
    assert.equal(rejectBid(candidate({ ext } as Partial<Bid>), request, 0, null), 'malformed_field')
    assert.equal(
      rejectBid(candidate({ ext: { a: { b: [1, { c: 2 }] } } } as Partial<Bid>), request, 0, null),
      null,
    )
  })
  it('drops a creative attribute in the imp battr', () =>
    assert.equal(rejectBid(candidate({ attr: [2] } as Partial<Bid>), request, 0, null), 'blocked_attribute'))
  it('drops a bid with neither adm nor nurl', () =>
    assert.equal(
      rejectBid(candidate({ adm: undefined } as unknown as Partial<Bid>), request, 0, null),
      'missing_fields',
    ))
  it('requires a deal on a private auction, honours the deal floor and wseat', () => {
    assert.equal(rejectBid(candidate({ impid: '2', price: 5 }), request, 0, null), 'deal_required')
    assert.equal(
      rejectBid(candidate({ impid: '2', price: 5, dealid: 'X' }), request, 0, null),
      'unknown_deal',
    )
    assert.equal(
      rejectBid(candidate({ impid: '2', price: 2.5, dealid: 'D1' }), request, 0, null),
      'below_floor',
    )
    assert.equal(rejectBid(candidate({ impid: '2', price: 3.5, dealid: 'D1' }), request, 0, null), null)
    assert.equal(
      rejectBid(candidate({ impid: '2', price: 3.5, dealid: 'D1' }, { seat: 'other' }), request, 0, null),
      'seat_not_allowed',
    )
  })
})

describe('pickWinner', () => {
  const bids = [candidate({ price: 1.5 }), candidate({ price: 4 }), candidate({ price: 2.5 })]
  it('first price (at=1): the winner pays its bid', () => {
    const w = pickWinner(bids, { auctionType: 1, floor: 0.5, increment: 0.01 })
    assert.equal(w?.candidate.price, 4)
    assert.equal(w?.price, 4)
  })
  it('second price (at=2): second-highest plus the increment', () => {
    assert.equal(pickWinner(bids, { auctionType: 2, floor: 0.5, increment: 0.01 })?.price, 2.51)
  })
  it('second price: the floor when it is above the second bid', () => {
    assert.equal(pickWinner(bids, { auctionType: 2, floor: 3, increment: 0.01 })?.price, 3.01)
  })
  it('second price: a single bid pays floor plus increment', () => {
    assert.equal(
      pickWinner([candidate({ price: 2 })], { auctionType: 2, floor: 0.5, increment: 0.01 })?.price,
      0.51,
    )
  })
  it('second price: never above the winning bid', () => {
    const close = [candidate({ price: 2 }), candidate({ price: 1.999 })]
    assert.equal(pickWinner(close, { auctionType: 2, floor: 0, increment: 0.01 })?.price, 2)
  })
  it('ties go to the earliest candidate', () => {
    const tie = [candidate({ id: 'first', price: 2 }), candidate({ id: 'second', price: 2 })]
    assert.equal(pickWinner(tie, { auctionType: 1, floor: 0, increment: 0.01 })?.candidate.bid.id, 'first')
  })
  it('no candidates, no winner', () =>
    assert.equal(pickWinner([], { auctionType: 1, floor: 0, increment: 0 }), null))
})
