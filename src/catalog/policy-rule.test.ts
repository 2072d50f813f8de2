import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { parsePolicyRules } from './policy-rule.js'

describe('parsePolicyRules', () => {
  it('reads every kind as operators write it', () => {
    const parsed = parsePolicyRules([
      { kind: 'advertiser_publisher', id: 'ap-1', advertisers: ['a.example'], publishers: ['pub-1'] },
      { kind: 'category_country', id: 'cc-1', categories: ['IAB7'], countries: ['GBR'] },
      { kind: 'placement_attribute', id: 'pa-1', attributes: [6], positions: [1], interstitial: true },
      { kind: 'min_viewability', id: 'mv-1', advertisers: ['a.example'], minPercent: 60 },
      { kind: 'publisher_category', id: 'pc-1', publishers: ['pub-1'], categories: ['IAB8'] },
      { kind: 'domain_min_cpm', id: 'dm-1', domains: ['news.example'], minCpm: 2.5 },
    ])
    assert.ok('rules' in parsed)
    assert.equal(parsed.rules.length, 6)
    assert.deepEqual(parsed.rules[5], {
      kind: 'domain_min_cpm',
      id: 'dm-1',
      domains: ['news.example'],
      categories: [],
      minCpmMicros: 2_500_000,
    })
  })

  it('reports every problem at once', () => {
    const parsed = parsePolicyRules([
      { kind: 'advertiser_publisher', id: 'ap-1', advertisers: [], publishers: ['pub-1'] },
      { kind: 'nope', id: 'x' },
      { kind: 'min_viewability', id: 'mv', minPercent: 150 },
      { kind: 'placement_attribute', id: 'pa', attributes: [6] },
      { kind: 'publisher_category', id: 'ap-1', publishers: ['p'], categories: ['c'] },
      { kind: 'publisher_category', id: 'ap-1', publishers: ['p'], categories: ['c'] },
    ])
    assert.ok('problems' in parsed)
    assert.equal(parsed.problems.length, 5)
    assert.match(parsed.problems[0]!, /advertisers must list at least one value/)
    assert.match(parsed.problems[1]!, /kind must be one of/)
    assert.match(parsed.problems[2]!, /advertisers or categories is required; minPercent/)
    assert.match(parsed.problems[3]!, /positions or interstitial/)
    assert.match(parsed.problems[4]!, /duplicate id ap-1/)
  })
})
