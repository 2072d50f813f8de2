import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { parseSeed } from './seed.js'

const ad = {
  id: '1',
  title: 'Shoes',
  category: 'IAB22',
  clickURL: 'https://shop.example/c',
  imageURL: 'https://cdn.shop.example/1.png',
  price: '1.50',
  sizes: ['300x250'],
}

describe('parseSeed', () => {
  it('reads policy rules; none when the seed has no policies', () => {
    const seed = parseSeed(
      {
        ads: [ad],
        policies: [
          { kind: 'publisher_category', id: 'pc-1', publishers: ['pub-1'], categories: ['IAB7'] },
          { kind: 'domain_min_cpm', id: 'dm-1', domains: ['news.example'], minCpm: 2 },
        ],
      },
      'seed.json',
    )
    assert.deepEqual(
      seed.policies?.map((r) => [r.kind, r.id]),
      [
        ['publisher_category', 'pc-1'],
        ['domain_min_cpm', 'dm-1'],
      ],
    )
    assert.deepEqual(parseSeed({ ads: [ad] }, 'seed.json').policies, [])
  })

  it('reports bad policy rules with the bad ads, all at once', () => {
    assert.throws(
      () =>
        parseSeed(
          {
            ads: [{ ...ad, price: '-1' }],
            policies: [
              { kind: 'publisher_category', id: 'pc-1', publishers: [] },
              { kind: 'nope', id: 'x' },
            ],
          },
          'seed.json',
        ),
      (err: Error) =>
        /seed\.json: invalid seed/.test(err.message) &&
        /ads\[0\]/.test(err.message) &&
        /policies\[0\]: .*publishers must list at least one value/.test(err.message) &&
        /policies\[1\]: kind must be one of/.test(err.message),
    )
    assert.throws(() => parseSeed({ policies: {} }, 'seed.json'), /policies must be an array/)
  })
})
