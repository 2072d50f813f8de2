import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { EMPTY_TARGETING } from '../catalog/ad.js'
import { commaList, fieldsToContext, fieldsToPublisher, hashToAd, microsToPrice } from './redis-codec.js'

describe('redis codec', () => {
  it('writes CPM micros as an exact decimal with at least two places', () => {
    assert.equal(microsToPrice(2_500_000), '2.50')
    assert.equal(microsToPrice(1_234_567), '1.234567')
    assert.equal(microsToPrice(10_000), '0.01')
    assert.equal(microsToPrice(1), '0.000001')
    assert.equal(microsToPrice(42_000_000), '42.00')
  })

  it('reads a hand-written ad hash with only the required fields', () => {
    const read = hashToAd('9', {
      category: 'IAB1',
      clickURL: 'https://x.example',
      imageURL: 'https://y.example/i.png',
      price: '1.5',
      sizes: '300x250, 728x90',
    })
    assert.ok('ad' in read)
    assert.deepEqual(read.ad, {
      id: '9',
      title: '9',
      category: 'IAB1',
      clickUrl: 'https://x.example',
      imageUrl: 'https://y.example/i.png',
      cpmMicros: 1_500_000,
      sizes: [
        { w: 300, h: 250 },
        { w: 728, h: 90 },
      ],
      advertiserDomain: '',
      campaignId: null,
      targeting: EMPTY_TARGETING,
    })
  })

  it('refuses hashes it cannot serve, naming the problems', () => {
    const base = { category: 'IAB1', clickURL: 'https://x', imageURL: 'https://y', price: '1', sizes: '1x1' }
    for (const [field, value] of [
      ['price', 'cheap'],
      ['price', '-1'],
      ['sizes', 'big'],
      ['clickURL', ''],
      ['targeting', '{not json'],
      ['targeting', '[1]'],
    ] as const) {
      const read = hashToAd('1', { ...base, [field]: value })
      assert.ok('problems' in read, `${field}=${value} should be refused`)
      assert.ok(read.problems.length > 0)
    }
    assert.ok('problems' in hashToAd('1', {}))
  })

  it('reads comma lists, sentiments and floors tolerantly', () => {
    assert.deepEqual(commaList(' IAB1, ,IAB2,'), ['IAB1', 'IAB2'])
    assert.deepEqual(commaList(''), [])
    assert.deepEqual(commaList(null), [])
    assert.deepEqual(fieldsToContext('IAB1', '', 'Positive'), {
      categories: ['IAB1'],
      brandSafetyFlags: [],
      sentiment: 'positive',
    })
    assert.equal(fieldsToContext('', '', 'meh').sentiment, null)
    assert.equal(fieldsToPublisher('0.5', '', '').floorCpm, 0.5)
    assert.equal(fieldsToPublisher('0', '', '').floorCpm, 0)
    assert.equal(fieldsToPublisher('abc', '', '').floorCpm, null)
    assert.equal(fieldsToPublisher('-2', '', '').floorCpm, null)
    assert.equal(fieldsToPublisher(undefined, undefined, undefined).floorCpm, null)
  })
})
